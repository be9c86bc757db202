#include "cli/monitor/paging.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kagura::cli::monitor {
namespace {

// Below this a window is not narrowed further but read by offset.
constexpr double kNarrowestWindow = 1e-3;

}  // namespace

std::int64_t for_each_execution(storage::StorageAdapter& store,
                                const storage::ExecutionFilter& filter, bool include_events,
                                std::int64_t page_size,
                                const std::function<bool(const telemetry::Execution&)>& visit) {
  const auto stats = store.get_summary_stats(filter);
  if (stats.total_executions == 0 || !stats.first_started_at || !stats.last_started_at) return 0;
  const double low = filter.since.value_or(*stats.first_started_at);
  double high = filter.until.value_or(
      std::nextafter(*stats.last_started_at, std::numeric_limits<double>::infinity()));
  // Start with the window that holds a page at the average rate.
  double window = std::max(
      (high - low) * static_cast<double>(page_size) / static_cast<double>(stats.total_executions),
      kNarrowestWindow);
  std::int64_t visited = 0;
  const auto emit = [&](const std::vector<telemetry::Execution>& rows) {
    for (const auto& e : rows) {
      ++visited;
      if (!visit(e)) return false;
    }
    return true;
  };
  while (high > low) {
    storage::ExecutionQuery query;
    static_cast<storage::ExecutionFilter&>(query) = filter;
    query.since = std::max(high - window, low);
    query.until = high;
    query.include_events = include_events;
    query.limit = page_size + 1;  // one more tells a full window from an exact page
    auto rows = store.get_executions(query);
    if (static_cast<std::int64_t>(rows.size()) > page_size) {
      if (window > kNarrowestWindow && *query.since < high - kNarrowestWindow) {
        window = std::max(window / 4, kNarrowestWindow);
        continue;
      }
      query.limit = page_size;
      for (query.offset = 0;; query.offset += page_size) {
        rows = store.get_executions(query);
        if (!emit(rows)) return visited;
        if (static_cast<std::int64_t>(rows.size()) < page_size) break;
      }
    } else {
      if (!emit(rows)) return visited;
      if (static_cast<std::int64_t>(rows.size()) < page_size / 2) window *= 2;
    }
    high = *query.since;
  }
  return visited;
}

}  // namespace kagura::cli::monitor
