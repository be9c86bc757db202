#pragma once

// What the `kagura monitor` subcommands share: the store and filter options, turning them into
// a storage filter, and how they fail (one line, non-zero exit).

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cli/command_support.hpp"
#include "kagura/storage/query.hpp"
#include "kagura/storage/storage_adapter.hpp"
#include "kagura/telemetry/execution.hpp"

namespace kagura::cli::monitor {

// The filters as typed; --since/--until are parsed against the time of each read, so that a
// span such as 24h slides along in the live view.
struct FilterOptions {
  std::string agent;
  std::string status;
  std::string since;
  std::string until;
};

enum class FilterSet { all, time_only, no_status };

void add_filter_options(CLI::App& command, FilterOptions& options,
                        FilterSet which = FilterSet::all);
// `kagura monitor --db x list` gives --db to the live view's options, not to list: an error
// saying where it goes, rather than list silently reading the default store.
void reject_options_before(const CLI::App& command);

// Throws CliError for a bad --since/--until (naming the value) or an empty time range.
storage::ExecutionFilter make_filter(const FilterOptions& options, double now);
bool has_filters(const storage::ExecutionFilter& filter);
// "agent alpha, status failed, since 2025-01-03 12:00:00 UTC", or "all executions".
std::string describe_filter(const storage::ExecutionFilter& filter);

// The error for a read that found nothing: an empty store, or filters that match nothing.
CliError no_executions(const storage::StorageAdapter& store,
                       const storage::ExecutionFilter& filter);

// The distinct models of an execution's LLM calls, in call order.
std::vector<std::string> models_of(const telemetry::Execution& execution);
std::string join(const std::vector<std::string>& parts, const std::string& separator);

// Messages of libraries may span lines (libpq's do); the command's errors are one line.
std::string one_line(std::string_view message);

// run_or_exit() with every error message on one line.
template <typename Fn>
[[noreturn]] void run_monitor(Fn&& fn) {
  run_or_exit([&]() -> int {
    try {
      return fn();
    } catch (const std::exception& e) {
      throw CliError(one_line(e.what()));
    }
  });
}

}  // namespace kagura::cli::monitor
