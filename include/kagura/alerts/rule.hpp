#pragma once

// An alert rule: a condition on finished executions and what to do when it holds. Rules come
// from ~/.kagura/alerts.json (see rules_file.hpp and docs/alerts.md).

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kagura::alerts {

enum class RuleKind {
  execution_cost,    // the cost of one execution above `threshold` USD
  window_cost,       // the total cost over `window` above `threshold` USD
  failed_execution,  // any failed execution
  latency,           // the duration of one execution above `threshold` seconds
  error_rate,        // failed / (completed + failed) over `window` above `threshold` (0..1)
};

std::string_view to_string(RuleKind kind) noexcept;

// `stderr` itself is a macro of <cstdio>, hence the longer name.
enum class ActionType { standard_error, webhook, command };

std::string_view to_string(ActionType type) noexcept;

struct Action {
  ActionType type = ActionType::standard_error;
  // webhook
  std::string url;
  std::map<std::string, std::string> headers;
  std::chrono::milliseconds timeout{5000};
  // command: the program and its arguments, run without a shell
  std::vector<std::string> command;
};

struct Rule {
  std::string name;
  RuleKind kind = RuleKind::execution_cost;
  double threshold = 0.0;  // USD, seconds or a fraction, by kind; unused by failed_execution
  double window = 0.0;     // seconds; window_cost and error_rate
  std::int64_t min_executions = 1;  // error_rate: fewer finished executions never fire
  std::vector<std::string> agents;  // empty: every agent
  // Window rules: one window per agent instead of one over all the agents the rule covers.
  bool per_agent = false;
  // After firing, the rule stays quiet this long (seconds) for the same agent (for a window
  // rule without per_agent: at all).
  double cooldown = 0.0;
  std::vector<Action> actions;

  bool is_window_rule() const noexcept {
    return kind == RuleKind::window_cost || kind == RuleKind::error_rate;
  }
  bool applies_to(std::string_view agent) const noexcept;
};

// "cost of one execution > $0.5000", for listings and messages.
std::string describe_condition(const Rule& rule);
// A span as rules files write it: "90s", "15m", "1h", "2d".
std::string format_span(double seconds);

}  // namespace kagura::alerts
