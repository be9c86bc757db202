#pragma once

// One firing of a rule, as actions receive it.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kagura/alerts/rule.hpp"

namespace kagura::alerts {

struct Alert {
  std::size_t rule_index = 0;  // into the evaluator's rules
  std::string rule;            // the rule's name
  RuleKind kind = RuleKind::execution_cost;
  std::string message;  // one line
  double value = 0.0;   // what was measured: USD, seconds, a fraction; 1 for a failure
  double threshold = 0.0;
  std::optional<std::string> agent;         // absent for a window over several agents
  std::optional<std::string> execution_id;  // the execution that fired it
  std::optional<double> window;             // seconds, window rules
  double timestamp = 0.0;  // Unix seconds: the end of the execution that met the condition
};

// {"rule", "kind", "message", "value", "threshold", "agent", "execution_id", "window",
//  "timestamp"}; absent values are null.
nlohmann::json to_json(const Alert& alert);

}  // namespace kagura::alerts
