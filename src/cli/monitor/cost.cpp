#include "cli/monitor/cost.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/monitor/filters.hpp"
#include "cli/output.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::monitor {
namespace {

struct CostOptions {
  StoreOptions store;
  FilterOptions filters;
  std::string by = "model";
  bool json = false;
};

storage::CostGrouping parse_grouping(const std::string& by) {
  if (by == "agent") return storage::CostGrouping::agent;
  if (by == "day") return storage::CostGrouping::day;
  return storage::CostGrouping::model;
}

// The period the projection divides by: from --since (else the first execution) to --until
// (else now, or the last execution if that is later, as a clock ahead of this one may record).
struct Period {
  double start = 0;
  double end = 0;
  double days() const { return (end - start) / 86400.0; }
};

std::optional<Period> projection_period(const storage::ExecutionFilter& filter,
                                        const storage::SummaryStats& stats, double now) {
  if (!stats.first_started_at || !stats.last_started_at) return std::nullopt;
  Period period;
  period.start = filter.since.value_or(*stats.first_started_at);
  period.end = filter.until ? std::min(*filter.until, std::max(now, *stats.last_started_at))
                            : std::max(now, *stats.last_started_at);
  // Under a minute of data says nothing about a month.
  if (period.end - period.start < 60.0) return std::nullopt;
  return period;
}

std::string group_cost_text(const storage::CostGroup& group) {
  if (group.llm_calls > 0 && group.unpriced_llm_calls == group.llm_calls) return "unpriced";
  const std::string cost = format_cost(group.cost());
  return group.unpriced_llm_calls > 0 ? "≥" + cost : cost;
}

int run_cost(const CostOptions& options) {
  const double now = telemetry::unix_now();
  const auto filter = make_filter(options.filters, now);
  const auto grouping = parse_grouping(options.by);
  auto store = open_store(options.store);
  const auto stats = store->get_summary_stats(filter);
  const auto groups = stats.total_executions > 0 ? store->get_cost_breakdown(grouping, filter)
                                                 : std::vector<storage::CostGroup>{};
  telemetry::NanoUsd total_nanos = 0;
  std::int64_t total_calls = 0;
  std::int64_t unpriced_calls = 0;
  std::vector<std::string> unpriced_models;
  for (const auto& g : groups) {
    total_nanos += g.cost_nanos;
    total_calls += g.llm_calls;
    unpriced_calls += g.unpriced_llm_calls;
    if (grouping == storage::CostGrouping::model && g.unpriced_llm_calls > 0) {
      unpriced_models.push_back(g.key);
    }
  }
  const double total = telemetry::nano_usd_to_usd(total_nanos);
  const auto period = projection_period(filter, stats, now);
  const double monthly = period ? total / period->days() * 30.0 : 0.0;

  if (options.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& g : groups) {
      nlohmann::json row = {{"key", g.key},
                            {"llm_calls", g.llm_calls},
                            {"prompt_tokens", g.prompt_tokens},
                            {"completion_tokens", g.completion_tokens},
                            {"cached_tokens", g.cached_tokens},
                            {"unpriced_llm_calls", g.unpriced_llm_calls},
                            {"cost", g.cost()}};
      if (grouping != storage::CostGrouping::model) row["executions"] = g.executions;
      rows.push_back(std::move(row));
    }
    nlohmann::json projection = nullptr;
    if (period) {
      projection = {
          {"monthly_cost", monthly},       {"cost_per_day", total / period->days()},
          {"period_start", period->start}, {"period_end", period->end},
          {"period_days", period->days()}, {"basis", "cost per day over the period x 30"}};
    }
    const nlohmann::json out = {{"by", options.by},
                                {"executions", stats.total_executions},
                                {"groups", std::move(rows)},
                                {"total_cost", total},
                                {"llm_calls", total_calls},
                                {"unpriced_llm_calls", unpriced_calls},
                                {"projection", std::move(projection)}};
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  if (stats.total_executions == 0) throw no_executions(*store, filter);

  fmt::print("{}\n", bold("Cost by " + options.by + ": " + store->backend_name() + " " +
                          store->location()));
  fmt::print("  {} ({} executions)\n\n", describe_filter(filter),
             format_count(stats.total_executions));
  using Align = Table::Align;
  const bool by_model = grouping == storage::CostGrouping::model;
  Table table({{options.by, Align::left, 40},
               {"executions", Align::right},
               {"LLM calls", Align::right},
               {"prompt tokens", Align::right},
               {"completion tokens", Align::right},
               {"cost", Align::right},
               {"share", Align::right}});
  for (const auto& g : groups) {
    table.add_row({g.key.empty() ? "(none)" : g.key, by_model ? "-" : format_count(g.executions),
                   format_count(g.llm_calls), format_count(g.prompt_tokens),
                   format_count(g.completion_tokens), group_cost_text(g),
                   total_nanos > 0 ? format_percent(static_cast<double>(g.cost_nanos) /
                                                    static_cast<double>(total_nanos))
                                   : "-"});
  }
  table.add_row({{"Total", bold},
                 {format_count(stats.total_executions), bold},
                 {format_count(total_calls), bold},
                 {format_count(stats.prompt_tokens), bold},
                 {format_count(stats.completion_tokens), bold},
                 {format_cost(total), bold},
                 {total_nanos > 0 ? "100.0%" : "-", bold}});
  for (const auto& line : table.lines()) fmt::print("  {}\n", line);
  fmt::print("\n");
  if (unpriced_calls > 0) {
    fmt::print("  {}\n",
               yellow(fmt::format(
                   "{} LLM call{} of unpriced models{}: their cost is unknown and "
                   "not included (add prices in ~/.kagura/pricing.json)",
                   format_count(unpriced_calls), unpriced_calls == 1 ? "" : "s",
                   unpriced_models.empty() ? "" : " (" + join(unpriced_models, ", ") + ")")));
  }
  if (period) {
    fmt::print("  Monthly projection  {}  (30 x {} per day, over {}: {} to {} UTC)\n",
               bold(format_cost(monthly)), format_cost(total / period->days()),
               format_span(period->end - period->start), format_utc_time(period->start),
               format_utc_time(period->end));
  } else {
    fmt::print("  Monthly projection  n/a (the executions span under a minute)\n");
  }
  return 0;
}

}  // namespace

void add_cost_command(CLI::App& monitor) {
  auto options = std::make_shared<CostOptions>();
  auto* command =
      monitor.add_subcommand("cost", "Cost by model, agent or day, with a monthly projection");
  command->footer(
      "The monthly projection is 30 x the cost per day over the period shown: --since to "
      "--until, by default the first matching execution to now. LLM calls of unpriced models "
      "are counted and reported, never given a cost.");
  command->alias("cost-analysis");
  add_store_options(*command, options->store);
  add_filter_options(*command, options->filters);
  command->add_option("--by", options->by, "Group by model (default), agent or day")
      ->check(CLI::IsMember({"model", "agent", "day"}));
  command->add_flag("--json", options->json, "Machine-readable JSON output");
  command->callback([options, command] {
    run_monitor([&] {
      reject_options_before(*command);
      return run_cost(*options);
    });
  });
}

}  // namespace kagura::cli::monitor
