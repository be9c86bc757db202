#include "cli/monitor/filters.hpp"

#include <algorithm>
#include <stdexcept>
#include <variant>

#include "cli/output.hpp"
#include "cli/time_spec.hpp"

namespace kagura::cli::monitor {

void add_filter_options(CLI::App& command, FilterOptions& options, FilterSet which) {
  if (which != FilterSet::time_only) {
    command.add_option("--agent,-a", options.agent, "Only executions of this agent");
  }
  if (which == FilterSet::all) {
    command.add_option("--status", options.status, "Only executions with this status")
        ->check(CLI::IsMember({"running", "completed", "failed"}));
  }
  command.add_option("--since,-s", options.since,
                     "Only executions started at or after: Unix time, ISO date (UTC) or a span "
                     "back from now (90s, 30m, 24h, 7d, 2w)");
  command.add_option("--until", options.until,
                     "Only executions started before this time (same forms as --since)");
}

void reject_options_before(const CLI::App& command) {
  const CLI::App* parent = command.get_parent();
  if (parent == nullptr) return;
  for (const CLI::Option* option : parent->get_options()) {
    if (option->count() > 0) {
      const std::string name = option->get_name();
      throw CliError(name + " is given before `" + command.get_name() +
                     "`: options go after the "
                     "subcommand, as in `kagura monitor " +
                     command.get_name() + " " + name + " ...`");
    }
  }
}

storage::ExecutionFilter make_filter(const FilterOptions& options, double now) {
  storage::ExecutionFilter filter;
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
  if (filter.since && filter.until && *filter.until <= *filter.since) {
    throw CliError("--until " + options.until + " (" + format_utc_time(*filter.until) +
                   " UTC) is not after --since " + options.since + " (" +
                   format_utc_time(*filter.since) +
                   " UTC): the range is empty; swap them or widen it");
  }
  return filter;
}

bool has_filters(const storage::ExecutionFilter& filter) {
  return filter.agent_name || filter.status || filter.since || filter.until;
}

std::string describe_filter(const storage::ExecutionFilter& filter) {
  std::vector<std::string> parts;
  if (filter.agent_name) parts.push_back("agent " + *filter.agent_name);
  if (filter.status) parts.push_back("status " + std::string(telemetry::to_string(*filter.status)));
  if (filter.since) parts.push_back("since " + format_utc_time(*filter.since) + " UTC");
  if (filter.until) parts.push_back("until " + format_utc_time(*filter.until) + " UTC");
  return parts.empty() ? "all executions" : join(parts, ", ");
}

CliError no_executions(const storage::StorageAdapter& store,
                       const storage::ExecutionFilter& filter) {
  if (has_filters(filter)) {
    return CliError("no executions in " + store.location() + " match these filters (" +
                    describe_filter(filter) + "): widen them, or check names with `kagura " +
                    "monitor list`");
  }
  return CliError("no executions in " + store.location() +
                  " yet: run an agent that records telemetry, or point --db / --connection at "
                  "another store");
}

std::vector<std::string> models_of(const telemetry::Execution& execution) {
  std::vector<std::string> models;
  for (const auto& event : execution.events) {
    if (const auto* call = std::get_if<telemetry::LlmCall>(&event.payload)) {
      if (std::find(models.begin(), models.end(), call->model) == models.end()) {
        models.push_back(call->model);
      }
    }
  }
  return models;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

std::string one_line(std::string_view message) {
  std::string out;
  bool space = false;
  for (const char c : message) {
    if (c == '\n' || c == '\r' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty() && out.back() != ' ') out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace kagura::cli::monitor
