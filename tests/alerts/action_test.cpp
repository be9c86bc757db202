// The actions, for real: a webhook POSTed to a local receiver, a command run with the alert in
// its environment and on stdin, and failures counted and reported instead of thrown.

#include "kagura/alerts/action.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "alerts/webhook_receiver.hpp"
#include "support/test_support.hpp"

namespace kagura::alerts {
namespace {

using kagura::test::TempDir;
using kagura::test::WebhookReceiver;

Alert sample_alert() {
  Alert alert;
  alert.rule = "expensive";
  alert.kind = RuleKind::execution_cost;
  alert.message = "execution abc of agent 'researcher' cost $0.7500, above $0.5000";
  alert.value = 0.75;
  alert.threshold = 0.5;
  alert.agent = "researcher";
  alert.execution_id = "abc";
  alert.timestamp = 1700000000.5;
  return alert;
}

Rule rule_with(std::vector<Action> actions) {
  Rule rule;
  rule.name = "expensive";
  rule.kind = RuleKind::execution_cost;
  rule.threshold = 0.5;
  rule.actions = std::move(actions);
  return rule;
}

Action webhook(const std::string& url) {
  Action action;
  action.type = ActionType::webhook;
  action.url = url;
  return action;
}

Action command(std::vector<std::string> argv) {
  Action action;
  action.type = ActionType::command;
  action.command = std::move(argv);
  return action;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Failures {
  std::vector<std::string> messages;
  FailureHandler handler() {
    return [this](std::string_view message) { messages.emplace_back(message); };
  }
};

TEST(ActionTest, AWebhookReceivesTheAlertAsJson) {
  WebhookReceiver receiver;
  Action hook = webhook(receiver.url());
  hook.headers["Authorization"] = "Bearer secret-token";
  Failures failures;
  ActionRunner runner(failures.handler());
  runner.run(rule_with({hook}), sample_alert());
  // Posted before run() returns.
  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], nlohmann::json::parse(R"({"rule": "expensive", "kind": "execution_cost",
      "message": "execution abc of agent 'researcher' cost $0.7500, above $0.5000",
      "value": 0.75, "threshold": 0.5, "agent": "researcher", "execution_id": "abc",
      "window": null, "timestamp": 1700000000.5})"));
  EXPECT_EQ(receiver.authorization_headers()[0], "Bearer secret-token");
  EXPECT_EQ(receiver.content_types()[0], "application/json");
  EXPECT_EQ(runner.stats().delivered, 1u);
  EXPECT_EQ(runner.stats().failed, 0u);
  EXPECT_TRUE(failures.messages.empty());
}

TEST(ActionTest, AFailingWebhookIsCountedAndReportedWithoutItsPath) {
  WebhookReceiver receiver;
  receiver.set_status(500);
  Failures failures;
  ActionRunner runner(failures.handler());
  runner.run(rule_with({webhook(receiver.url() + "?token=s3cr3t")}), sample_alert());
  EXPECT_EQ(runner.stats().failed, 1u);
  ASSERT_EQ(failures.messages.size(), 1u);
  const std::string& message = failures.messages[0];
  EXPECT_NE(message.find("alert webhook of rule 'expensive' to http://127.0.0.1:" +
                         std::to_string(receiver.port()) + "/... failed: HTTP 500"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << "the URL's secret stays out";

  int closed_port = 0;
  {
    WebhookReceiver gone;
    closed_port = gone.port();
  }
  runner.run(rule_with({webhook("http://127.0.0.1:" + std::to_string(closed_port) + "/hook")}),
             sample_alert());
  EXPECT_EQ(runner.stats().failed, 2u);
  ASSERT_EQ(failures.messages.size(), 2u);
  EXPECT_NE(failures.messages[1].find("check that the receiver is running"), std::string::npos)
      << failures.messages[1];
}

TEST(ActionTest, ASlowWebhookTimesOut) {
  WebhookReceiver receiver;
  receiver.set_delay(std::chrono::milliseconds(1500));
  Action hook = webhook(receiver.url());
  hook.timeout = std::chrono::milliseconds(200);
  Failures failures;
  ActionRunner runner(failures.handler());
  const auto start = std::chrono::steady_clock::now();
  runner.run(rule_with({hook}), sample_alert());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1200));
  ASSERT_EQ(failures.messages.size(), 1u);
  EXPECT_NE(failures.messages[0].find("no answer within 200 ms"), std::string::npos)
      << failures.messages[0];
}

TEST(ActionTest, ACommandGetsTheAlertInItsEnvironmentAndOnStdin) {
  TempDir dir("kagura_alert_command");
  const auto out = dir / "alert.txt";
  Failures failures;
  ActionRunner runner(failures.handler());
  runner.run(rule_with({command({"sh", "-c",
                                 "printf '%s|%s|%s|%s|%s|%s\\n' \"$KAGURA_ALERT_RULE\" "
                                 "\"$KAGURA_ALERT_KIND\" \"$KAGURA_ALERT_AGENT\" "
                                 "\"$KAGURA_ALERT_VALUE\" \"$KAGURA_ALERT_EXECUTION_ID\" "
                                 "\"$KAGURA_ALERT_MESSAGE\" > \"$0\"; cat >> \"$0\"",
                                 out.string()})}),
             sample_alert());
  ASSERT_TRUE(runner.wait_for_commands(std::chrono::seconds(10)));
  EXPECT_EQ(runner.stats().delivered, 1u);
  EXPECT_TRUE(failures.messages.empty());
  const std::string text = read_file(out);
  const auto newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos) << text;
  EXPECT_EQ(text.substr(0, newline),
            "expensive|execution_cost|researcher|0.75|abc|execution abc of agent 'researcher' "
            "cost $0.7500, above $0.5000");
  const auto json = nlohmann::json::parse(text.substr(newline + 1));
  EXPECT_EQ(json["rule"], "expensive");
  EXPECT_EQ(json["value"], 0.75);
}

TEST(ActionTest, CommandsRunWithoutAShell) {
  TempDir dir("kagura_alert_noshell");
  Failures failures;
  ActionRunner runner(failures.handler());
  // With a shell, the redirection would create the file; without one it is an argument to echo.
  runner.run(rule_with({command({"echo", "hello", ">", (dir / "made").string()})}), sample_alert());
  ASSERT_TRUE(runner.wait_for_commands(std::chrono::seconds(10)));
  EXPECT_FALSE(std::filesystem::exists(dir / "made"));
  EXPECT_EQ(runner.stats().delivered, 1u);
}

TEST(ActionTest, CommandFailuresAreCountedAndReported) {
  Failures failures;
  ActionRunner runner(failures.handler());
  runner.run(rule_with({command({"kagura-no-such-program-here"})}), sample_alert());
  ASSERT_EQ(failures.messages.size(), 1u);
  EXPECT_EQ(failures.messages[0],
            "alert command 'kagura-no-such-program-here' of rule 'expensive' could not start "
            "(No such file or directory): check the program name, or give its full path");
  runner.run(rule_with({command({"sh", "-c", "exit 3"})}), sample_alert());
  ASSERT_TRUE(runner.wait_for_commands(std::chrono::seconds(10)));
  ASSERT_EQ(failures.messages.size(), 2u);
  EXPECT_EQ(failures.messages[1], "alert command 'sh' of rule 'expensive' exited with status 3");
  EXPECT_EQ(runner.stats().failed, 2u);
}

TEST(ActionTest, ACommandThatIgnoresItsInputDoesNotHurtTheProcess) {
  Failures failures;
  ActionRunner runner(failures.handler());
  // `true` exits at once without reading: the write meets a closed pipe (SIGPIPE, EPIPE).
  Alert big = sample_alert();
  big.message = std::string(200000, 'x');
  for (int i = 0; i < 5; ++i) runner.run(rule_with({command({"true"})}), big);
  ASSERT_TRUE(runner.wait_for_commands(std::chrono::seconds(10)));
  EXPECT_EQ(runner.stats().delivered, 5u);
  EXPECT_TRUE(failures.messages.empty()) << failures.messages.front();
}

}  // namespace
}  // namespace kagura::alerts
