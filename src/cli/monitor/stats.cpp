#include "cli/monitor/stats.hpp"

#include <fmt/format.h>

#include <memory>

#include "cli/monitor/filters.hpp"
#include "cli/output.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::monitor {
namespace {

struct StatsOptions {
  StoreOptions store;
  FilterOptions filters;
  bool json = false;
};

int run_stats(const StatsOptions& options) {
  const auto filter = make_filter(options.filters, telemetry::unix_now());
  auto store = open_store(options.store);
  const auto stats = store->get_summary_stats(filter);
  if (options.json) {
    fmt::print("{}\n", stats_json(stats).dump(2));
    return 0;
  }
  if (stats.total_executions == 0) throw no_executions(*store, filter);
  fmt::print("{}\n", bold("Kagura telemetry: " + store->backend_name() + " " + store->location()));
  for (const auto& line : stats_lines(stats)) fmt::print("{}\n", line);
  return 0;
}

}  // namespace

nlohmann::json stats_json(const storage::SummaryStats& s) {
  nlohmann::json json = {{"total_executions", s.total_executions},
                         {"completed", s.completed},
                         {"failed", s.failed},
                         {"running", s.running},
                         {"success_rate", s.success_rate},
                         {"avg_duration", s.avg_duration},
                         {"p50_duration", s.p50_duration},
                         {"p95_duration", s.p95_duration},
                         {"p99_duration", s.p99_duration},
                         {"max_duration", s.max_duration},
                         {"llm_calls", s.llm_calls},
                         {"tool_calls", s.tool_calls},
                         {"memory_operations", s.memory_operations},
                         {"prompt_tokens", s.prompt_tokens},
                         {"completion_tokens", s.completion_tokens},
                         {"total_tokens", s.total_tokens},
                         {"cached_tokens", s.cached_tokens},
                         {"reasoning_tokens", s.reasoning_tokens},
                         {"unpriced_llm_calls", s.unpriced_llm_calls},
                         {"total_cost", s.total_cost()}};
  json["first_started_at"] =
      s.first_started_at ? nlohmann::json(*s.first_started_at) : nlohmann::json();
  json["last_started_at"] =
      s.last_started_at ? nlohmann::json(*s.last_started_at) : nlohmann::json();
  return json;
}

std::vector<std::string> stats_lines(const storage::SummaryStats& stats) {
  std::vector<std::string> lines;
  lines.push_back(
      fmt::format("  Executions    {}  (completed {}, failed {}, running {})",
                  format_count(stats.total_executions), green(format_count(stats.completed)),
                  stats.failed > 0 ? red(format_count(stats.failed)) : format_count(stats.failed),
                  format_count(stats.running)));
  lines.push_back(fmt::format("  Success rate  {}", format_percent(stats.success_rate)));
  lines.push_back(fmt::format(
      "  Duration      avg {}  p50 {}  p95 {}  p99 {}  max {}", format_duration(stats.avg_duration),
      format_duration(stats.p50_duration), format_duration(stats.p95_duration),
      format_duration(stats.p99_duration), format_duration(stats.max_duration)));
  lines.push_back(fmt::format("  Calls         LLM {}  tools {}  memory {}",
                              format_count(stats.llm_calls), format_count(stats.tool_calls),
                              format_count(stats.memory_operations)));
  lines.push_back(
      fmt::format("  Tokens        {}  (prompt {}, completion {}, cached {}, reasoning {})",
                  format_count(stats.total_tokens), format_count(stats.prompt_tokens),
                  format_count(stats.completion_tokens), format_count(stats.cached_tokens),
                  format_count(stats.reasoning_tokens)));
  lines.push_back(fmt::format("  Cost          {}{}", format_cost(stats.total_cost()),
                              stats.unpriced_llm_calls > 0
                                  ? fmt::format("  ({} LLM call{} of unpriced models not included)",
                                                format_count(stats.unpriced_llm_calls),
                                                stats.unpriced_llm_calls == 1 ? "" : "s")
                                  : std::string()));
  if (stats.first_started_at && stats.last_started_at) {
    lines.push_back(fmt::format("  Period        {} to {} UTC",
                                format_utc_time(*stats.first_started_at),
                                format_utc_time(*stats.last_started_at)));
  }
  return lines;
}

void add_stats_command(CLI::App& monitor) {
  auto options = std::make_shared<StatsOptions>();
  auto* command =
      monitor.add_subcommand("stats", "Totals, success rate, latency percentiles, tokens, cost");
  add_store_options(*command, options->store);
  add_filter_options(*command, options->filters);
  command->add_flag("--json", options->json, "Machine-readable JSON output");
  command->callback([options, command] {
    run_monitor([&] {
      reject_options_before(*command);
      return run_stats(*options);
    });
  });
}

}  // namespace kagura::cli::monitor
