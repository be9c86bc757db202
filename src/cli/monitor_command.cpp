#include "cli/monitor_command.hpp"

#include "cli/monitor/compare.hpp"
#include "cli/monitor/cost.hpp"
#include "cli/monitor/export.hpp"
#include "cli/monitor/list.hpp"
#include "cli/monitor/live.hpp"
#include "cli/monitor/stats.hpp"
#include "cli/monitor/trace.hpp"

namespace kagura::cli {

void add_monitor_command(CLI::App& app) {
  auto* monitor = app.add_subcommand(
      "monitor",
      "Show recorded agent executions; without a subcommand, the live view (see `monitor live`)");
  monitor->require_subcommand(0, 1);
  monitor::add_live_command(*monitor);
  monitor::add_list_command(*monitor);
  monitor::add_stats_command(*monitor);
  monitor::add_trace_command(*monitor);
  monitor::add_cost_command(*monitor);
  monitor::add_compare_command(*monitor);
  monitor::add_export_command(*monitor);
}

}  // namespace kagura::cli
