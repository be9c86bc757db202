#pragma once

// The rules file, ~/.kagura/alerts.json by default:
//
//   {"rules": [{"name": "expensive", "kind": "execution_cost", "threshold": 0.5,
//               "agents": ["researcher"], "cooldown": "10m",
//               "actions": [{"type": "stderr"},
//                           {"type": "webhook", "url": "http://127.0.0.1:9000/hook"},
//                           {"type": "command", "command": ["notify-send", "kagura"]}]}]}
//
// The full schema is in docs/alerts.md.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "kagura/alerts/rule.hpp"

namespace kagura::alerts {

// <kagura_home>/alerts.json. Throws config::ConfigError when there is no home directory.
std::filesystem::path default_rules_path();

// Throws config::ConfigError naming `source`, the rule (number and name), the field, and the fix.
std::vector<Rule> parse_rules(const nlohmann::json& document, std::string_view source);
// The text of a rules file; throws config::ConfigError naming `source`, also for text that is
// not JSON.
std::vector<Rule> parse_rules_text(std::string_view text, std::string_view source);
// Throws config::ConfigError, also for a file that is missing or not JSON.
std::vector<Rule> load_rules_file(const std::filesystem::path& path);

// "90s", "15m", "1h", "2d" or a number of seconds; nullopt when `text` is none of these.
std::optional<double> parse_duration(std::string_view text);

// The rules of ~/.kagura/alerts.json for a recording process: none when the file does not
// exist; a bad file is reported once as a notice and gives none. Never throws.
std::vector<Rule> load_default_rules_or_notify() noexcept;

}  // namespace kagura::alerts
