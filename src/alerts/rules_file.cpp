#include "kagura/alerts/rules_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "kagura/config/paths.hpp"
#include "kagura/telemetry/notice.hpp"

namespace kagura::alerts {
namespace {

using config::ConfigError;
using nlohmann::json;

constexpr double kDefaultWindowCooldown = 300;  // window rules would otherwise fire on every
                                                // execution while the window stays over
constexpr std::int64_t kDefaultMinExecutions = 10;

constexpr std::string_view kKinds =
    "execution_cost, window_cost, failed_execution, latency or error_rate";

struct KindInfo {
  RuleKind kind;
  std::string_view name;
  std::vector<std::string_view> fields;  // besides the common ones
};

const std::vector<KindInfo>& kinds() {
  static const std::vector<KindInfo> table = {
      {RuleKind::execution_cost, "execution_cost", {"threshold"}},
      {RuleKind::window_cost, "window_cost", {"threshold", "window", "per_agent"}},
      {RuleKind::failed_execution, "failed_execution", {}},
      {RuleKind::latency, "latency", {"threshold"}},
      {RuleKind::error_rate, "error_rate", {"threshold", "window", "min_executions", "per_agent"}},
  };
  return table;
}

const std::vector<std::string_view> kCommonFields = {"name",    "kind",    "agents",     "cooldown",
                                                     "actions", "enabled", "description"};

std::string join(const std::vector<std::string_view>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string short_json(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Where a problem is, for messages: "alerts.json: rule 2 (\"budget\")".
class Where {
 public:
  Where(std::string_view source, std::size_t index, std::string name)
      : source_(source), index_(index), name_(std::move(name)) {}
  void set_name(std::string name) { name_ = std::move(name); }

  [[noreturn]] void fail(std::string_view field, const std::string& problem) const {
    std::string where = fmt::format("{}: rule {}", source_, index_ + 1);
    if (!name_.empty()) where += fmt::format(" (\"{}\")", name_);
    if (!field.empty()) where += fmt::format(", field \"{}\"", field);
    throw ConfigError(where + ": " + problem);
  }

 private:
  std::string_view source_;
  std::size_t index_;
  std::string name_;
};

double required_number(const json& rule, std::string_view field, const Where& where,
                       std::string_view unit) {
  const auto it = rule.find(field);
  if (it == rule.end()) {
    where.fail(field, fmt::format("missing: add \"{}\": <number> ({})", field, unit));
  }
  if (!it->is_number()) {
    where.fail(field, fmt::format("{} is not a number: write a number ({}), without quotes",
                                  short_json(*it), unit));
  }
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < 0) {
    where.fail(field, fmt::format("{} must be a number of at least 0 ({})", short_json(*it), unit));
  }
  return value;
}

double duration_field(const json& value, std::string_view field, const Where& where) {
  std::optional<double> seconds;
  if (value.is_number()) {
    seconds = value.get<double>();
  } else if (value.is_string()) {
    seconds = parse_duration(value.get<std::string>());
  }
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0) {
    where.fail(field, fmt::format("{} is not a duration: write a span such as \"90s\", \"15m\", "
                                  "\"1h\" or \"1d\", or a number of seconds",
                                  short_json(value)));
  }
  return *seconds;
}

std::vector<std::string> agents_field(const json& value, const Where& where) {
  std::vector<std::string> agents;
  if (value.is_string()) {
    agents.push_back(value.get<std::string>());
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (!item.is_string() || item.get<std::string>().empty()) {
        where.fail("agents", fmt::format("{} is not an agent name: list agent names as strings, "
                                         "e.g. [\"researcher\", \"writer\"]",
                                         short_json(item)));
      }
      agents.push_back(item.get<std::string>());
    }
  } else {
    where.fail("agents", fmt::format("{} is not a list of agent names: write e.g. "
                                     "[\"researcher\"], or leave the field out for every agent",
                                     short_json(value)));
  }
  if (agents.empty()) {
    where.fail("agents",
               "the list is empty, so the rule could never fire: name at least one "
               "agent, or leave the field out for every agent");
  }
  return agents;
}

Action parse_action(const json& value, std::size_t number, const Where& where) {
  const std::string field = fmt::format("actions[{}]", number);
  if (!value.is_object()) {
    where.fail(field, fmt::format("{} is not an action: write an object such as "
                                  "{{\"type\": \"stderr\"}}",
                                  short_json(value)));
  }
  const auto type = value.find("type");
  if (type == value.end() || !type->is_string()) {
    where.fail(field, "has no \"type\": add \"type\": \"stderr\", \"webhook\" or \"command\"");
  }
  Action action;
  const std::string type_name = type->get<std::string>();
  std::vector<std::string_view> allowed = {"type"};
  if (type_name == "stderr") {
    action.type = ActionType::standard_error;
  } else if (type_name == "webhook") {
    action.type = ActionType::webhook;
    allowed.insert(allowed.end(), {"url", "headers", "timeout"});
    const auto url = value.find("url");
    if (url == value.end() || !url->is_string()) {
      where.fail(field + ".url",
                 "missing: a webhook needs \"url\": \"http://...\" or "
                 "\"https://...\"");
    }
    action.url = url->get<std::string>();
    if (!action.url.starts_with("http://") && !action.url.starts_with("https://")) {
      where.fail(field + ".url", fmt::format("\"{}\" is not an http:// or https:// URL: give the "
                                             "full address of the receiver",
                                             action.url));
    }
    if (const auto headers = value.find("headers"); headers != value.end()) {
      if (!headers->is_object()) {
        where.fail(field + ".headers",
                   "must be an object of header names and string values, "
                   "e.g. {\"Authorization\": \"Bearer ...\"}");
      }
      for (const auto& [name, header_value] : headers->items()) {
        if (!header_value.is_string() || name.empty() ||
            name.find_first_of(":\r\n ") != std::string::npos) {
          where.fail(field + ".headers", fmt::format("header \"{}\" is not valid: names have no "
                                                     "spaces or colons, values are strings",
                                                     name));
        }
        action.headers[name] = header_value.get<std::string>();
      }
    }
    if (const auto timeout = value.find("timeout"); timeout != value.end()) {
      const double seconds = duration_field(*timeout, field + ".timeout", where);
      if (seconds <= 0) where.fail(field + ".timeout", "must be longer than 0: e.g. \"5s\"");
      action.timeout = std::chrono::milliseconds(std::llround(seconds * 1000));
    }
  } else if (type_name == "command") {
    action.type = ActionType::command;
    allowed.push_back("command");
    const auto command = value.find("command");
    const bool ok = command != value.end() && command->is_array() && !command->empty() &&
                    std::all_of(command->begin(), command->end(),
                                [](const json& part) { return part.is_string(); }) &&
                    !command->front().get<std::string>().empty();
    if (!ok) {
      where.fail(field + ".command",
                 "must be the program and its arguments as a list of strings, e.g. "
                 "[\"notify-send\", \"kagura\"]; it runs without a shell, so for pipes or "
                 "redirections write [\"sh\", \"-c\", \"...\"]");
    }
    for (const auto& part : *command) action.command.push_back(part.get<std::string>());
  } else {
    where.fail(field + ".type", fmt::format("\"{}\" is not an action type: use \"stderr\", "
                                            "\"webhook\" or \"command\"",
                                            type_name));
  }
  for (const auto& [key, unused] : value.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      where.fail(field, fmt::format("unknown field \"{}\" for a {} action: its fields are {}", key,
                                    type_name, join(allowed)));
    }
  }
  return action;
}

Rule parse_rule(const json& value, std::size_t index, std::string_view source) {
  Where where(source, index, "");
  if (!value.is_object()) {
    where.fail("", fmt::format("{} is not a rule: each rule is an object with \"name\", "
                               "\"kind\" and its parameters",
                               short_json(value)));
  }
  Rule rule;
  const auto name = value.find("name");
  if (name == value.end() || !name->is_string() || name->get<std::string>().empty()) {
    where.fail("name", "missing: give the rule a name, e.g. \"name\": \"hourly-budget\"");
  }
  rule.name = name->get<std::string>();
  where.set_name(rule.name);

  const auto kind = value.find("kind");
  if (kind == value.end() || !kind->is_string()) {
    where.fail("kind", fmt::format("missing: add \"kind\": one of {}", kKinds));
  }
  const auto info = std::find_if(kinds().begin(), kinds().end(), [&](const KindInfo& k) {
    return k.name == kind->get<std::string>();
  });
  if (info == kinds().end()) {
    where.fail("kind",
               fmt::format("\"{}\" is not a rule kind: use {}", kind->get<std::string>(), kKinds));
  }
  rule.kind = info->kind;

  for (const auto& [key, unused] : value.items()) {
    const bool known =
        std::find(kCommonFields.begin(), kCommonFields.end(), key) != kCommonFields.end() ||
        std::find(info->fields.begin(), info->fields.end(), key) != info->fields.end();
    if (!known) {
      std::vector<std::string_view> all = kCommonFields;
      all.insert(all.end(), info->fields.begin(), info->fields.end());
      where.fail("", fmt::format("unknown field \"{}\" for a {} rule: its fields are {}", key,
                                 info->name, join(all)));
    }
  }

  switch (rule.kind) {
    case RuleKind::execution_cost:
    case RuleKind::window_cost:
      rule.threshold = required_number(value, "threshold", where, "US dollars");
      break;
    case RuleKind::latency:
      rule.threshold = required_number(value, "threshold", where, "seconds");
      break;
    case RuleKind::error_rate:
      rule.threshold = required_number(value, "threshold", where, "a fraction, 0.2 for 20%");
      if (rule.threshold >= 1) {
        where.fail("threshold", fmt::format("{:g} is not a fraction below 1: write 0.2 for 20%",
                                            rule.threshold));
      }
      break;
    case RuleKind::failed_execution:
      break;
  }
  if (rule.is_window_rule()) {
    const auto window = value.find("window");
    if (window == value.end()) {
      where.fail("window",
                 "missing: add the span the rule looks back over, e.g. \"window\": "
                 "\"1h\"");
    }
    rule.window = duration_field(*window, "window", where);
    if (rule.window <= 0) where.fail("window", "must be longer than 0: e.g. \"1h\"");
    rule.cooldown = kDefaultWindowCooldown;
  }
  if (rule.kind == RuleKind::error_rate) {
    rule.min_executions = kDefaultMinExecutions;
    if (const auto min = value.find("min_executions"); min != value.end()) {
      if (!min->is_number_integer() || min->get<std::int64_t>() < 1) {
        where.fail("min_executions",
                   fmt::format("{} is not a whole number of at least 1", short_json(*min)));
      }
      rule.min_executions = min->get<std::int64_t>();
    }
  }
  if (const auto per_agent = value.find("per_agent"); per_agent != value.end()) {
    if (!per_agent->is_boolean()) {
      where.fail("per_agent", fmt::format("{} is not true or false", short_json(*per_agent)));
    }
    rule.per_agent = per_agent->get<bool>();
  }
  if (const auto agents = value.find("agents"); agents != value.end()) {
    rule.agents = agents_field(*agents, where);
  }
  if (const auto cooldown = value.find("cooldown"); cooldown != value.end()) {
    rule.cooldown = duration_field(*cooldown, "cooldown", where);
  }
  if (const auto description = value.find("description");
      description != value.end() && !description->is_string()) {
    where.fail("description", "must be a string");
  }
  if (const auto enabled = value.find("enabled");
      enabled != value.end() && !enabled->is_boolean()) {
    where.fail("enabled", fmt::format("{} is not true or false", short_json(*enabled)));
  }

  if (const auto actions = value.find("actions"); actions != value.end()) {
    if (!actions->is_array() || actions->empty()) {
      where.fail("actions",
                 "must be a non-empty list, e.g. [{\"type\": \"stderr\"}]; leave "
                 "the field out for a message on stderr");
    }
    for (std::size_t i = 0; i < actions->size(); ++i) {
      rule.actions.push_back(parse_action((*actions)[i], i, where));
    }
  } else {
    rule.actions.push_back(Action{});
  }
  return rule;
}

}  // namespace

std::optional<double> parse_duration(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  double number = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || !std::isfinite(number) || number < 0) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  double seconds = 0;
  if (unit.empty() || unit == "s") {
    seconds = number;
  } else if (unit == "ms") {
    seconds = number / 1000;
  } else if (unit == "m") {
    seconds = number * 60;
  } else if (unit == "h") {
    seconds = number * 3600;
  } else if (unit == "d") {
    seconds = number * 86400;
  } else if (unit == "w") {
    seconds = number * 7 * 86400;
  } else {
    return std::nullopt;
  }
  // "1e308w" is a number, but no span: it overflows to infinity.
  if (!std::isfinite(seconds)) return std::nullopt;
  return seconds;
}

std::filesystem::path default_rules_path() {
  return config::kagura_home() / "alerts.json";
}

std::vector<Rule> parse_rules(const json& document, std::string_view source) {
  if (!document.is_object()) {
    throw ConfigError(
        fmt::format("{}: the file must hold an object with a \"rules\" list, e.g. "
                    "{{\"rules\": [{{\"name\": \"failures\", \"kind\": "
                    "\"failed_execution\"}}]}}",
                    source));
  }
  for (const auto& [key, unused] : document.items()) {
    if (key != "rules" && key != "$schema" && key != "description") {
      throw ConfigError(
          fmt::format("{}: unknown top-level field \"{}\": the rules go in a "
                      "\"rules\" list",
                      source, key));
    }
  }
  const auto list = document.find("rules");
  if (list == document.end() || !list->is_array()) {
    throw ConfigError(fmt::format("{}: no \"rules\" list: write {{\"rules\": [ ... ]}}", source));
  }
  std::vector<Rule> rules;
  std::set<std::string> names;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    Rule rule = parse_rule(item, i, source);
    if (!names.insert(rule.name).second) {
      Where(source, i, rule.name)
          .fail("name",
                "another rule has the same name: give each rule its own name, since "
                "alerts and cooldowns go by it");
    }
    if (item.value("enabled", true)) rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<Rule> load_rules_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
      throw ConfigError(
          fmt::format("{}: no such file: create it (the format is in "
                      "docs/alerts.md) or give another file",
                      path.string()));
    }
    throw ConfigError(fmt::format("{}: cannot be read: check its permissions", path.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_rules_text(text.str(), path.string());
}

std::vector<Rule> parse_rules_text(std::string_view text, std::string_view source) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string detail = e.what();
    if (const auto colon = detail.find("parse error"); colon != std::string::npos) {
      detail = detail.substr(colon);
    }
    throw ConfigError(
        fmt::format("{}: not valid JSON ({}): fix the syntax at that place", source, detail));
  } catch (const json::exception& e) {
    // A number too large for a double (1e999) is out_of_range, not a parse_error.
    std::string detail = e.what();
    if (const auto tag = detail.find("] "); tag != std::string::npos)
      detail = detail.substr(tag + 2);
    throw ConfigError(
        fmt::format("{}: not valid JSON ({}): fix the number at that place", source, detail));
  }
  return parse_rules(document, source);
}

std::vector<Rule> load_default_rules_or_notify() noexcept {
  std::filesystem::path path;
  try {
    path = default_rules_path();
  } catch (const std::exception&) {
    return {};  // no home directory, so no rules file either
  }
  try {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) return {};
    return load_rules_file(path);
  } catch (const std::exception& e) {
    telemetry::notify(std::string("alerts are off for this process: ") + e.what());
  } catch (...) {
    telemetry::notify("alerts are off for this process: the rules could not be read");
  }
  return {};
}

}  // namespace kagura::alerts
