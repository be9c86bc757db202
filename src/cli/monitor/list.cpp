#include "cli/monitor/list.hpp"

#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/monitor/filters.hpp"
#include "cli/output.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::monitor {
namespace {

struct ListOptions {
  StoreOptions store;
  FilterOptions filters;
  std::int64_t limit = 20;
  bool json = false;
};

int run_list(const ListOptions& options) {
  const double now = telemetry::unix_now();
  const auto filter = make_filter(options.filters, now);
  auto store = open_store(options.store);
  storage::ExecutionQuery query;
  static_cast<storage::ExecutionFilter&>(query) = filter;
  query.limit = options.limit;
  // The listing shows each execution's models, which only its events name; reading the events
  // of the rows shown (a page, not the store) is cheap on every backend.
  query.include_events = true;
  const auto executions = store->get_executions(query);
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : executions) out.push_back(telemetry::to_json(e));
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  if (executions.empty()) throw no_executions(*store, filter);
  for (const auto& line : execution_table(executions, now)) fmt::print("{}\n", line);
  return 0;
}

}  // namespace

std::vector<std::string> execution_table(const std::vector<telemetry::Execution>& executions,
                                         double now) {
  using Align = Table::Align;
  Table table({{"started", Align::left},
               {"agent", Align::left, 24},
               {"model", Align::left, 28},
               {"status", Align::left},
               {"duration", Align::right},
               {"tokens", Align::right},
               {"cost", Align::right},
               {"id", Align::left}});
  for (const auto& e : executions) {
    const auto models = models_of(e);
    std::string cost = format_cost(e.metrics.total_cost());
    if (e.metrics.unpriced_llm_calls > 0) {
      // Calls of unpriced models have no known cost: the rest is a lower bound.
      cost = e.metrics.unpriced_llm_calls == e.metrics.llm_calls ? "unpriced" : "≥" + cost;
    }
    Table::Style style = nullptr;
    if (e.status == telemetry::ExecutionStatus::failed) style = red;
    if (e.status == telemetry::ExecutionStatus::running) style = yellow;
    table.add_row({format_relative_time(e.started_at, now),
                   e.agent_name,
                   models.empty() ? "-" : join(models, ","),
                   {std::string(telemetry::to_string(e.status)), style},
                   e.duration ? format_duration(*e.duration) : "-",
                   format_count(e.metrics.total_tokens()),
                   cost,
                   e.id});
  }
  return table.lines();
}

void add_list_command(CLI::App& monitor) {
  auto options = std::make_shared<ListOptions>();
  auto* command = monitor.add_subcommand("list", "Recent executions, newest first");
  command->footer(
      "Columns: when it started (relative; the UTC date-time beyond a week), agent, the models of "
      "its LLM calls, status, duration, tokens, cost (unpriced: no known price; a leading ≥ "
      "marks a cost that leaves out unpriced calls) and id.");
  add_store_options(*command, options->store);
  add_filter_options(*command, options->filters);
  command->add_option("--limit,-n", options->limit, "How many executions to show (default 20)")
      ->check(CLI::PositiveNumber);
  command->add_flag("--json", options->json,
                    "Machine-readable JSON output: the full records, with their events");
  command->callback([options, command] {
    run_monitor([&] {
      reject_options_before(*command);
      return run_list(*options);
    });
  });
}

}  // namespace kagura::cli::monitor
