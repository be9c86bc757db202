#include "cli/monitor/trace_tree.hpp"

#include <algorithm>

namespace kagura::cli::monitor {
namespace {
constexpr std::int64_t kTracePage = 1000;
}  // namespace

using telemetry::Execution;

ChildMap children_in_trace(storage::StorageAdapter& store, const Execution& execution,
                           std::int64_t limit, bool& truncated) {
  ChildMap children;
  storage::ExecutionQuery query;
  query.trace_id = execution.trace_id;
  query.limit = kTracePage;
  query.include_events = false;
  for (query.offset = 0; query.offset < limit; query.offset += kTracePage) {
    auto page = store.get_executions(query);
    for (auto& e : page) {
      if (!e.parent_id.empty() && e.id != execution.id) {
        children[e.parent_id].push_back(std::move(e));
      }
    }
    if (static_cast<std::int64_t>(page.size()) < kTracePage) break;
  }
  truncated = query.offset >= limit;
  for (auto& [parent, list] : children) {
    std::sort(list.begin(), list.end(), [](const Execution& a, const Execution& b) {
      return a.started_at != b.started_at ? a.started_at < b.started_at : a.id < b.id;
    });
  }
  return children;
}

}  // namespace kagura::cli::monitor
