#include "kagura/alerts/alert.hpp"

namespace kagura::alerts {

nlohmann::json to_json(const Alert& alert) {
  auto optional = [](const auto& value) -> nlohmann::json {
    if (value) return *value;
    return nullptr;
  };
  return {{"rule", alert.rule},
          {"kind", std::string(to_string(alert.kind))},
          {"message", alert.message},
          {"value", alert.value},
          {"threshold", alert.threshold},
          {"agent", optional(alert.agent)},
          {"execution_id", optional(alert.execution_id)},
          {"window", optional(alert.window)},
          {"timestamp", alert.timestamp}};
}

}  // namespace kagura::alerts
