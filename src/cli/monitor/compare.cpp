#include "cli/monitor/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/monitor/filters.hpp"
#include "cli/output.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::monitor {
namespace {

struct CompareOptions {
  StoreOptions store;
  FilterOptions filters;
  std::vector<std::string> agents;
  bool json = false;
};

struct AgentStats {
  std::string agent;
  storage::SummaryStats stats;
  bool has_runs() const { return stats.total_executions > 0; }
  double per_run(double total) const { return total / static_cast<double>(stats.total_executions); }
};

int run_compare(const CompareOptions& options) {
  const auto filter = make_filter(options.filters, telemetry::unix_now());
  std::vector<std::string> agents;
  for (const auto& agent : options.agents) {
    if (agent.empty()) throw CliError("an agent name is empty: give the names to compare");
    if (std::find(agents.begin(), agents.end(), agent) == agents.end()) agents.push_back(agent);
  }
  auto store = open_store(options.store);
  std::vector<AgentStats> rows;
  for (const auto& agent : agents) {
    storage::ExecutionFilter agent_filter = filter;
    agent_filter.agent_name = agent;
    rows.push_back({agent, store->get_summary_stats(agent_filter)});
  }
  const bool any =
      std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.has_runs(); });

  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      out.push_back(comparison_json(r.agent, r.stats));
    }
    fmt::print("{}\n", nlohmann::json{{"agents", std::move(out)}}.dump(2));
    return 0;
  }
  if (!any) {
    throw CliError("none of " + join(agents, ", ") + " has executions in " + store->location() +
                   (has_filters(filter)
                        ? " matching these filters (" + describe_filter(filter) + ")"
                        : std::string()) +
                   ": check the names with `kagura monitor list` or `kagura monitor cost --by "
                   "agent`");
  }

  fmt::print("{}\n", bold("Agents compared: " + store->backend_name() + " " + store->location()));
  if (has_filters(filter)) fmt::print("  {}\n", describe_filter(filter));
  fmt::print("\n");
  std::vector<Table::Column> columns = {{"", Table::Align::left}};
  for (const auto& r : rows) columns.push_back({r.agent, Table::Align::right, 30});
  Table table(std::move(columns));
  using Metric = std::string (*)(const AgentStats&);
  const std::vector<std::pair<const char*, Metric>> metrics = {
      {"runs", [](const AgentStats& r) { return format_count(r.stats.total_executions); }},
      {"completed", [](const AgentStats& r) { return format_count(r.stats.completed); }},
      {"failed", [](const AgentStats& r) { return format_count(r.stats.failed); }},
      {"success rate", [](const AgentStats& r) { return format_percent(r.stats.success_rate); }},
      {"p50 latency", [](const AgentStats& r) { return format_duration(r.stats.p50_duration); }},
      {"p95 latency", [](const AgentStats& r) { return format_duration(r.stats.p95_duration); }},
      {"p99 latency", [](const AgentStats& r) { return format_duration(r.stats.p99_duration); }},
      {"tokens / run",
       [](const AgentStats& r) {
         return format_count(
             static_cast<std::int64_t>(r.per_run(static_cast<double>(r.stats.total_tokens)) + 0.5));
       }},
      {"cost / run",
       [](const AgentStats& r) { return format_cost(r.per_run(r.stats.total_cost())); }},
      {"total cost", [](const AgentStats& r) { return format_cost(r.stats.total_cost()); }},
  };
  for (const auto& [name, metric] : metrics) {
    std::vector<Table::Cell> cells = {name};
    for (const auto& r : rows) cells.emplace_back(r.has_runs() ? metric(r) : std::string("-"));
    table.add_row(std::move(cells));
  }
  for (const auto& line : table.lines()) fmt::print("  {}\n", line);
  for (const auto& r : rows) {
    if (!r.has_runs()) {
      fmt::print("\n  {}\n", yellow(r.agent + ": no runs in this store" +
                                    (has_filters(filter) ? " matching these filters" : "") +
                                    " (check the name with `kagura monitor list`)"));
    } else if (r.stats.unpriced_llm_calls > 0) {
      fmt::print("\n  {}: {} LLM call{} of unpriced models, not included in its cost\n", r.agent,
                 format_count(r.stats.unpriced_llm_calls),
                 r.stats.unpriced_llm_calls == 1 ? "" : "s");
    }
  }
  return 0;
}

}  // namespace

nlohmann::json comparison_json(const std::string& agent, const storage::SummaryStats& s) {
  const bool runs = s.total_executions > 0;
  const auto per_run = [&](double total) {
    return runs ? nlohmann::json(total / static_cast<double>(s.total_executions))
                : nlohmann::json();
  };
  return {{"agent", agent},
          {"runs", s.total_executions},
          {"completed", s.completed},
          {"failed", s.failed},
          {"running", s.running},
          {"success_rate", s.success_rate},
          {"p50_duration", s.p50_duration},
          {"p95_duration", s.p95_duration},
          {"p99_duration", s.p99_duration},
          {"total_tokens", s.total_tokens},
          {"total_cost", s.total_cost()},
          {"unpriced_llm_calls", s.unpriced_llm_calls},
          {"tokens_per_run", per_run(static_cast<double>(s.total_tokens))},
          {"cost_per_run", per_run(s.total_cost())}};
}

void add_compare_command(CLI::App& monitor) {
  auto options = std::make_shared<CompareOptions>();
  auto* command = monitor.add_subcommand(
      "compare",
      "Agents side by side: runs, success rate, latency p50/p95/p99, tokens and cost per run");
  command->add_option("agents", options->agents, "The agents to compare")->required();
  add_store_options(*command, options->store);
  add_filter_options(*command, options->filters, FilterSet::time_only);
  command->add_flag("--json", options->json, "Machine-readable JSON output");
  command->callback([options, command] {
    run_monitor([&] {
      reject_options_before(*command);
      return run_compare(*options);
    });
  });
}

}  // namespace kagura::cli::monitor
