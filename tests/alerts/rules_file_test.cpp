// The rules file: what a good one gives, and the one-line error of each kind of mistake (file,
// rule, field, fix).

#include "kagura/alerts/rules_file.hpp"

#include <gtest/gtest.h>

#include <string>

#include "kagura/config/paths.hpp"
#include "support/test_support.hpp"

namespace kagura::alerts {
namespace {

using kagura::test::NoticeCapture;
using kagura::test::ScopedEnv;
using kagura::test::TempDir;
using nlohmann::json;

// The message of the ConfigError that parsing `rules` raises, or "" when it parses.
std::string error_of(const json& rules) {
  try {
    parse_rules(json{{"rules", rules}}, "/home/u/.kagura/alerts.json");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(RulesFileTest, ParsesEveryKindWithItsDefaults) {
  const auto rules = parse_rules(json::parse(R"({"rules": [
      {"name": "expensive", "kind": "execution_cost", "threshold": 0.5, "agents": "researcher",
       "actions": [{"type": "stderr"},
                   {"type": "webhook", "url": "https://hooks.example.com/x",
                    "headers": {"Authorization": "Bearer t"}, "timeout": "2s"},
                   {"type": "command", "command": ["notify-send", "kagura"]}]},
      {"name": "budget", "kind": "window_cost", "threshold": 10, "window": "1h"},
      {"name": "failures", "kind": "failed_execution", "cooldown": 90},
      {"name": "slow", "kind": "latency", "threshold": 30, "description": "p100 latency"},
      {"name": "errors", "kind": "error_rate", "threshold": 0.2, "window": "15m",
       "per_agent": true},
      {"name": "off", "kind": "failed_execution", "enabled": false}
  ]})"),
                                 "alerts.json");
  ASSERT_EQ(rules.size(), 5u) << "the disabled rule is left out";
  EXPECT_EQ(rules[0].kind, RuleKind::execution_cost);
  EXPECT_EQ(rules[0].agents, std::vector<std::string>{"researcher"});
  EXPECT_EQ(rules[0].cooldown, 0);
  ASSERT_EQ(rules[0].actions.size(), 3u);
  EXPECT_EQ(rules[0].actions[1].type, ActionType::webhook);
  EXPECT_EQ(rules[0].actions[1].headers.at("Authorization"), "Bearer t");
  EXPECT_EQ(rules[0].actions[1].timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(rules[0].actions[2].command, (std::vector<std::string>{"notify-send", "kagura"}));
  EXPECT_EQ(rules[1].window, 3600);
  EXPECT_EQ(rules[1].cooldown, 300) << "window rules default to 5 minutes";
  ASSERT_EQ(rules[1].actions.size(), 1u);
  EXPECT_EQ(rules[1].actions[0].type, ActionType::standard_error) << "the default action";
  EXPECT_EQ(rules[2].cooldown, 90);
  EXPECT_EQ(rules[3].threshold, 30);
  EXPECT_EQ(rules[4].window, 900);
  EXPECT_EQ(rules[4].min_executions, 10);
  EXPECT_TRUE(rules[4].per_agent);
  EXPECT_EQ(describe_condition(rules[4]),
            "error rate over 15m > 20% (at least 10 executions) per agent");
}

TEST(RulesFileTest, ErrorsNameTheFileTheRuleTheFieldAndTheFix) {
  EXPECT_EQ(error_of({{{"name", "ok"}, {"kind", "failed_execution"}},
                      {{"name", "budget"}, {"kind", "window_cost"}, {"threshold", 10}}}),
            "/home/u/.kagura/alerts.json: rule 2 (\"budget\"), field \"window\": missing: add the "
            "span the rule looks back over, e.g. \"window\": \"1h\"");
  EXPECT_EQ(error_of({{{"name", "x"}, {"kind", "cost"}}}),
            "/home/u/.kagura/alerts.json: rule 1 (\"x\"), field \"kind\": \"cost\" is not a rule "
            "kind: use execution_cost, window_cost, failed_execution, latency or error_rate");
  EXPECT_EQ(error_of({{{"kind", "latency"}}}),
            "/home/u/.kagura/alerts.json: rule 1, field \"name\": missing: give the rule a name, "
            "e.g. \"name\": \"hourly-budget\"");
  EXPECT_EQ(error_of({{{"name", "x"}, {"kind", "latency"}, {"threshold", "30s"}}}),
            "/home/u/.kagura/alerts.json: rule 1 (\"x\"), field \"threshold\": \"30s\" is not a "
            "number: write a number (seconds), without quotes");
  EXPECT_EQ(error_of({{{"name", "x"}, {"kind", "latency"}, {"treshold", 3}}}),
            "/home/u/.kagura/alerts.json: rule 1 (\"x\"): unknown field \"treshold\" for a "
            "latency rule: its fields are name, kind, agents, cooldown, actions, enabled, "
            "description, threshold");
  EXPECT_EQ(
      error_of({{{"name", "x"}, {"kind", "window_cost"}, {"threshold", 1}, {"window", "1 hour"}}}),
      "/home/u/.kagura/alerts.json: rule 1 (\"x\"), field \"window\": \"1 hour\" is not a "
      "duration: write a span such as \"90s\", \"15m\", \"1h\" or \"1d\", or a number of "
      "seconds");
  EXPECT_NE(error_of({{{"name", "x"}, {"kind", "error_rate"}, {"threshold", 20}, {"window", "1h"}}})
                .find("field \"threshold\": 20 is not a fraction below 1: write 0.2 for 20%"),
            std::string::npos);
  EXPECT_EQ(
      error_of(
          {{{"name", "x"}, {"kind", "failed_execution"}, {"actions", {{{"type", "webhook"}}}}}}),
      "/home/u/.kagura/alerts.json: rule 1 (\"x\"), field \"actions[0].url\": missing: a "
      "webhook needs \"url\": \"http://...\" or \"https://...\"");
  EXPECT_NE(error_of({{{"name", "x"},
                       {"kind", "failed_execution"},
                       {"actions", {{{"type", "command"}, {"command", "notify-send hi"}}}}}})
                .find("field \"actions[0].command\": must be the program and its arguments as a "
                      "list of strings"),
            std::string::npos);
  EXPECT_NE(
      error_of({{{"name", "x"}, {"kind", "failed_execution"}, {"actions", {{{"type", "email"}}}}}})
          .find("\"email\" is not an action type: use \"stderr\", \"webhook\" or "
                "\"command\""),
      std::string::npos);
  EXPECT_NE(error_of({{{"name", "x"}, {"kind", "failed_execution"}, {"agents", json::array()}}})
                .find("field \"agents\": the list is empty"),
            std::string::npos);
  EXPECT_EQ(error_of({{{"name", "x"}, {"kind", "failed_execution"}},
                      {{"name", "x"}, {"kind", "latency"}, {"threshold", 1}}}),
            "/home/u/.kagura/alerts.json: rule 2 (\"x\"), field \"name\": another rule has the "
            "same name: give each rule its own name, since alerts and cooldowns go by it");
}

TEST(RulesFileTest, AFileThatIsNotJsonOrNotRulesSaysWhere) {
  TempDir dir("kagura_alerts_rules");
  const auto broken = dir.write("alerts.json", "{\"rules\": [\n  {\"name\": \"x\",}\n]}");
  try {
    load_rules_file(broken);
    FAIL() << "no error";
  } catch (const config::ConfigError& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.starts_with(broken.string() + ": not valid JSON (")) << message;
    EXPECT_NE(message.find("line 2"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
  }
  const auto list = dir.write("list.json", "[]");
  EXPECT_THROW(load_rules_file(list), config::ConfigError);
  try {
    load_rules_file(dir / "missing.json");
    FAIL() << "no error";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "missing.json").string() +
                                         ": no such file: create it (the format is in "
                                         "docs/alerts.md) or give another file");
  }
}

// Found with fuzz/alert_rules_fuzzer.cpp: a number too large for a double is JSON's
// out_of_range, not a parse_error, and escaped as a nlohmann exception instead of the one-line
// ConfigError.
TEST(RulesFileTest, ANumberTooLargeForADoubleIsAConfigErrorSayingWhere) {
  TempDir dir("kagura_alerts_rules");
  const auto huge = dir.write(
      "alerts.json", R"({"rules": [{"name": "x", "kind": "latency", "threshold": 1e999}]})");
  try {
    load_rules_file(huge);
    FAIL() << "no error";
  } catch (const config::ConfigError& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.starts_with(huge.string() + ": not valid JSON (")) << message;
    EXPECT_NE(message.find("1e999"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
  }
  EXPECT_THROW(parse_rules_text("[1e400]", "text"), config::ConfigError);
}

TEST(RulesFileTest, DurationsTakeAUnitOrSeconds) {
  EXPECT_EQ(parse_duration("90s"), 90);
  EXPECT_EQ(parse_duration("15m"), 900);
  EXPECT_EQ(parse_duration("1.5h"), 5400);
  EXPECT_EQ(parse_duration("2d"), 172800);
  EXPECT_EQ(parse_duration("1w"), 604800);
  EXPECT_EQ(parse_duration("250ms"), 0.25);
  EXPECT_EQ(parse_duration("42"), 42);
  EXPECT_FALSE(parse_duration("1 hour"));
  EXPECT_FALSE(parse_duration("-5m"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("m"));
  // Found with fuzz/alert_rules_fuzzer.cpp: a finite number times its unit overflowed to an
  // infinite span.
  EXPECT_FALSE(parse_duration("1e308w"));
  EXPECT_FALSE(parse_duration("1e306d"));
}

TEST(RulesFileTest, TheDefaultFileIsOptionalAndABadOneIsReportedOnce) {
  TempDir home("kagura_alerts_home");
  ScopedEnv env;
  env.set("KAGURA_HOME", home.path().string());
  NoticeCapture notices;
  EXPECT_TRUE(load_default_rules_or_notify().empty());
  EXPECT_TRUE(notices.messages().empty()) << "no file is no problem";

  home.write("alerts.json", R"({"rules": [{"name": "f", "kind": "failed_execution"}]})");
  EXPECT_EQ(load_default_rules_or_notify().size(), 1u);
  EXPECT_TRUE(notices.messages().empty());

  home.write("alerts.json", R"({"rules": [{"name": "f", "kind": "failure"}]})");
  EXPECT_TRUE(load_default_rules_or_notify().empty());
  ASSERT_EQ(notices.messages().size(), 1u);
  EXPECT_EQ(notices.messages()[0],
            "alerts are off for this process: " + (home.path() / "alerts.json").string() +
                ": rule 1 (\"f\"), field \"kind\": \"failure\" is not a rule kind: use "
                "execution_cost, window_cost, failed_execution, latency or error_rate");
}

}  // namespace
}  // namespace kagura::alerts
