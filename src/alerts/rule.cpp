#include "kagura/alerts/rule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace kagura::alerts {

std::string_view to_string(RuleKind kind) noexcept {
  switch (kind) {
    case RuleKind::execution_cost:
      return "execution_cost";
    case RuleKind::window_cost:
      return "window_cost";
    case RuleKind::failed_execution:
      return "failed_execution";
    case RuleKind::latency:
      return "latency";
    case RuleKind::error_rate:
      return "error_rate";
  }
  return "unknown";
}

std::string_view to_string(ActionType type) noexcept {
  switch (type) {
    case ActionType::standard_error:
      return "stderr";
    case ActionType::webhook:
      return "webhook";
    case ActionType::command:
      return "command";
  }
  return "unknown";
}

bool Rule::applies_to(std::string_view agent) const noexcept {
  return agents.empty() || std::find(agents.begin(), agents.end(), agent) != agents.end();
}

std::string format_span(double seconds) {
  if (seconds >= 86400 && std::fmod(seconds, 86400) == 0)
    return fmt::format("{:g}d", seconds / 86400);
  if (seconds >= 3600 && std::fmod(seconds, 3600) == 0) return fmt::format("{:g}h", seconds / 3600);
  if (seconds >= 60 && std::fmod(seconds, 60) == 0) return fmt::format("{:g}m", seconds / 60);
  return fmt::format("{:g}s", seconds);
}

std::string describe_condition(const Rule& rule) {
  switch (rule.kind) {
    case RuleKind::execution_cost:
      return fmt::format("cost of one execution > ${:.4f}", rule.threshold);
    case RuleKind::window_cost:
      return fmt::format("cost over {} > ${:.4f}{}", format_span(rule.window), rule.threshold,
                         rule.per_agent ? " per agent" : "");
    case RuleKind::failed_execution:
      return "an execution failed";
    case RuleKind::latency:
      return fmt::format("duration of one execution > {:g}s", rule.threshold);
    case RuleKind::error_rate:
      return fmt::format("error rate over {} > {:g}% (at least {} executions){}",
                         format_span(rule.window), rule.threshold * 100, rule.min_executions,
                         rule.per_agent ? " per agent" : "");
  }
  return "";
}

}  // namespace kagura::alerts
