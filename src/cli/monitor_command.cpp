#include "cli/monitor_command.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/command_support.hpp"
#include "cli/output.hpp"
#include "cli/time_spec.hpp"
#include "kagura/config/paths.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/storage/factory.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli {
namespace {

struct MonitorOptions {
  StoreOptions store;
  std::string agent;
  std::string status;
  std::string since;
  std::string until;
  std::int64_t limit = 20;
  bool json = false;
};

storage::ExecutionFilter make_filter(const MonitorOptions& options) {
  storage::ExecutionFilter filter;
  const double now = telemetry::unix_now();
  try {
    if (!options.agent.empty()) filter.agent_name = options.agent;
    if (!options.status.empty()) {
      filter.status = telemetry::parse_execution_status(options.status);
    }
    if (!options.since.empty()) filter.since = parse_time_spec(options.since, now);
    if (!options.until.empty()) filter.until = parse_time_spec(options.until, now);
  } catch (const std::invalid_argument& e) {
    throw CliError(e.what());
  }
  return filter;
}

std::string utc_time(double unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

nlohmann::json stats_json(const storage::SummaryStats& s) {
  return {{"total_executions", s.total_executions},
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
}

int run_stats(const MonitorOptions& options) {
  auto store = open_store(options.store);
  const auto stats = store->get_summary_stats(make_filter(options));
  if (options.json) {
    std::puts(stats_json(stats).dump(2).c_str());
    return 0;
  }
  if (stats.total_executions == 0) {
    std::fprintf(stderr, "kagura: no executions in %s match these filters\n",
                 store->location().c_str());
    return 1;
  }
  fmt::print("{}\n", bold("Kagura telemetry: " + store->backend_name() + " " + store->location()));
  fmt::print("  Executions    {}  (completed {}, failed {}, running {})\n",
             format_count(stats.total_executions), green(format_count(stats.completed)),
             stats.failed > 0 ? red(format_count(stats.failed)) : format_count(stats.failed),
             format_count(stats.running));
  fmt::print("  Success rate  {}\n", format_percent(stats.success_rate));
  fmt::print("  Duration      avg {}  p50 {}  p95 {}  p99 {}  max {}\n",
             format_duration(stats.avg_duration), format_duration(stats.p50_duration),
             format_duration(stats.p95_duration), format_duration(stats.p99_duration),
             format_duration(stats.max_duration));
  fmt::print("  Calls         LLM {}  tools {}  memory {}\n", format_count(stats.llm_calls),
             format_count(stats.tool_calls), format_count(stats.memory_operations));
  fmt::print("  Tokens        {}  (prompt {}, completion {}, cached {}, reasoning {})\n",
             format_count(stats.total_tokens), format_count(stats.prompt_tokens),
             format_count(stats.completion_tokens), format_count(stats.cached_tokens),
             format_count(stats.reasoning_tokens));
  fmt::print("  Cost          {}{}\n", format_cost(stats.total_cost()),
             stats.unpriced_llm_calls > 0
                 ? fmt::format("  ({} LLM calls of unpriced models not included)",
                               format_count(stats.unpriced_llm_calls))
                 : std::string());
  if (stats.first_started_at && stats.last_started_at) {
    fmt::print("  Period        {} to {} UTC\n", utc_time(*stats.first_started_at),
               utc_time(*stats.last_started_at));
  }
  return 0;
}

int run_list(const MonitorOptions& options) {
  auto store = open_store(options.store);
  storage::ExecutionQuery query;
  static_cast<storage::ExecutionFilter&>(query) = make_filter(options);
  query.limit = options.limit;
  query.include_events = options.json;
  const auto executions = store->get_executions(query);
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : executions) out.push_back(telemetry::to_json(e));
    std::puts(out.dump(2).c_str());
    return 0;
  }
  if (executions.empty()) {
    std::fprintf(stderr, "kagura: no executions in %s match these filters\n",
                 store->location().c_str());
    return 1;
  }
  fmt::print("{:<19}  {:<20}  {:<10}  {:>9}  {:>9}  {:>10}  {}\n", "started (UTC)", "agent",
             "status", "duration", "tokens", "cost", "id");
  for (const auto& e : executions) {
    const std::string status(telemetry::to_string(e.status));
    fmt::print("{:<19}  {:<20}  {:<10}  {:>9}  {:>9}  {:>10}  {}\n", utc_time(e.started_at),
               e.agent_name.substr(0, 20),
               e.status == telemetry::ExecutionStatus::failed ? red(status) : status,
               e.duration ? format_duration(*e.duration) : "-",
               format_count(e.metrics.total_tokens()), format_cost(e.metrics.total_cost()), e.id);
  }
  return 0;
}

void add_filter_options(CLI::App& command, MonitorOptions& options) {
  add_store_options(command, options.store);
  command.add_option("--agent,-a", options.agent, "Only executions of this agent");
  command.add_option("--status", options.status, "Only executions with this status")
      ->check(CLI::IsMember({"running", "completed", "failed"}));
  command.add_option("--since,-s", options.since,
                     "Only executions started at or after: Unix time, ISO date or 24h/7d");
  command.add_option("--until", options.until, "Only executions started before this time");
  command.add_flag("--json", options.json, "Machine-readable JSON output");
}

}  // namespace

void add_monitor_command(CLI::App& app) {
  auto options = std::make_shared<MonitorOptions>();
  auto* monitor = app.add_subcommand("monitor", "Show recorded agent executions");
  monitor->require_subcommand(1);

  auto* stats = monitor->add_subcommand("stats", "Totals, success rate, latency, tokens, cost");
  add_filter_options(*stats, *options);
  stats->callback([options] { run_or_exit([&] { return run_stats(*options); }); });

  auto* list = monitor->add_subcommand("list", "Recent executions, newest first");
  add_filter_options(*list, *options);
  list->add_option("--limit,-n", options->limit, "How many executions to show")
      ->check(CLI::PositiveNumber);
  list->callback([options] { run_or_exit([&] { return run_list(*options); }); });
}

}  // namespace kagura::cli
