// `kagura alerts watch|check|test` as users run them: the real binary in a child process, against
// a SQLite store the test seeds, with a local webhook receiver and a command that writes a file.

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "alerts/webhook_receiver.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;
using kagura::test::EnvChanges;
using kagura::test::ProcessResult;
using kagura::test::TempDir;
using kagura::test::WebhookReceiver;
using telemetry::Execution;
using telemetry::ExecutionStatus;

Execution make_execution(const std::string& agent, double started_at, ExecutionStatus status,
                         telemetry::NanoUsd cost_nanos, double duration = 1.0) {
  Execution e;
  e.id = telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = started_at;
  e.duration = duration;
  e.ended_at = started_at + duration;
  e.status = status;
  if (status == ExecutionStatus::failed) {
    e.error = "API Error";
    e.error_type = "LlmError";
  }
  telemetry::LlmCall call;
  call.model = "gpt-4o";
  call.prompt_tokens = 100;
  call.completion_tokens = 50;
  call.cost_nanos = cost_nanos;
  e.metrics.add(call);
  e.events.push_back({started_at, call});
  return e;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AlertsCliTest : public ::testing::Test {
 protected:
  AlertsCliTest() {
    const double now = telemetry::unix_now();
    expensive = make_execution("alpha", now - 600, ExecutionStatus::completed, 2'000'000'000);
    failed = make_execution("beta", now - 500, ExecutionStatus::failed, 1'000'000);
    cheap = make_execution("gamma", now - 400, ExecutionStatus::completed, 1'000'000);
    storage::SqliteStore store(db.string());
    for (const auto* e : {&expensive, &failed, &cheap}) store.save_execution(*e);
  }

  // The rules of these tests: "expensive" (> $1) with a webhook, a command writing
  // `command_out` and a line on stderr; "failures" with a line on stderr.
  fs::path write_rules(const std::string& webhook_url) const {
    const nlohmann::json rules = {
        {"rules",
         {{{"name", "expensive"},
           {"kind", "execution_cost"},
           {"threshold", 1.0},
           {"actions",
            {{{"type", "webhook"}, {"url", webhook_url}, {"timeout", "3s"}},
             {{"type", "command"},
              {"command",
               {"sh", "-c",
                "printf '%s %s %s\\n' \"$KAGURA_ALERT_RULE\" \"$KAGURA_ALERT_AGENT\" "
                "\"$KAGURA_ALERT_VALUE\" > \"$0\"; cat >> \"$0\"",
                command_out.string()}}},
             {{"type", "stderr"}}}}},
          {{"name", "failures"}, {"kind", "failed_execution"}}}}};
    return dir.write("alerts.json", rules.dump(2));
  }

  ProcessResult kagura(std::vector<std::string> args) const {
    args.insert(args.begin(), kagura::test::kagura_bin());
    EnvChanges env = {{"HOME", dir.path().string()}};
    return kagura::test::run_process(args, env);
  }

  TempDir dir{"kagura_alerts_cli"};
  fs::path db = dir.path() / "telemetry.db";
  fs::path command_out = dir.path() / "command.out";
  Execution expensive, failed, cheap;
};

TEST_F(AlertsCliTest, WatchOnceSinceChecksTheStoredExecutionsAndRunsEveryAction) {
  WebhookReceiver receiver;
  const auto rules = write_rules(receiver.url());
  const auto result = kagura({"alerts", "watch", "--rules", rules.string(), "--db", db.string(),
                              "--once", "--since", "1h"});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.out, "Checked 3 executions: 2 alerts; actions: 4 delivered, 0 failed\n");

  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0]["rule"], "expensive");
  EXPECT_EQ(bodies[0]["execution_id"], expensive.id);
  EXPECT_EQ(bodies[0]["agent"], "alpha");
  EXPECT_DOUBLE_EQ(bodies[0]["value"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(bodies[0]["timestamp"].get<double>(), *expensive.ended_at);

  // The command ran to its end before kagura exited.
  const std::string written = read_file(command_out);
  const auto newline = written.find('\n');
  ASSERT_NE(newline, std::string::npos) << written;
  EXPECT_EQ(written.substr(0, newline), "expensive alpha 2");
  EXPECT_EQ(nlohmann::json::parse(written.substr(newline + 1)), bodies[0]);

  EXPECT_EQ(result.err, "kagura alert [expensive]: execution " + expensive.id +
                            " of agent 'alpha' cost $2.0000, above $1.0000\n"
                            "kagura alert [failures]: execution " +
                            failed.id + " of agent 'beta' failed: LlmError: API Error\n");
}

TEST_F(AlertsCliTest, WatchStartsFromNowAndCatchesNewExecutionsUntilInterrupted) {
  WebhookReceiver receiver;
  const auto rules = write_rules(receiver.url());
  kagura::test::ChildProcess child({kagura::test::kagura_bin(), "alerts", "watch", "--rules",
                                    rules.string(), "--db", db.string(), "--interval", "0.2"},
                                   {{"HOME", dir.path().string()}});
  ASSERT_TRUE(child.wait_for_stdout("(Ctrl-C to stop)\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(receiver.bodies().empty()) << "what was stored before the watch is not new";

  const auto fresh =
      make_execution("alpha", telemetry::unix_now() - 2, ExecutionStatus::completed, 3'000'000'000);
  {
    storage::SqliteStore store(db.string());
    store.save_execution(fresh);
  }
  const auto bodies = receiver.wait_for(1, std::chrono::seconds(10));
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0]["execution_id"], fresh.id);
  // Seen once, alerted once, however many reads follow.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(receiver.bodies().size(), 1u);

  ::kill(child.pid(), SIGINT);
  const auto result = child.finish();
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(result.out.find("Watching sqlite " + db.string() + " with 2 rules from " +
                            rules.string() + ", every 0.2s (Ctrl-C to stop)\n"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("Checked 1 execution: 1 alert; actions: 3 delivered, 0 failed"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(result.err, "kagura alert [expensive]: execution " + fresh.id +
                            " of agent 'alpha' cost $3.0000, above $1.0000\n");
}

TEST_F(AlertsCliTest, AFailingWebhookIsReportedAndGivesExitCode1) {
  int closed_port = 0;
  {
    WebhookReceiver gone;
    closed_port = gone.port();
  }
  const auto rules =
      write_rules("http://127.0.0.1:" + std::to_string(closed_port) + "/hook/secret-path");
  const auto result = kagura({"alerts", "watch", "--rules", rules.string(), "--db", db.string(),
                              "--once", "--since", "1h"});
  EXPECT_EQ(result.exit_code(), 1);
  EXPECT_NE(result.err.find("kagura: alert webhook of rule 'expensive' to http://127.0.0.1:" +
                            std::to_string(closed_port) + "/... failed"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("secret-path"), std::string::npos);
  EXPECT_NE(result.out.find("actions: 3 delivered, 1 failed"), std::string::npos) << result.out;
}

TEST_F(AlertsCliTest, CheckListsTheRules) {
  const auto rules = write_rules("http://127.0.0.1:9/hook");
  const auto result = kagura({"alerts", "check", "--rules", rules.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(result.out.find(rules.string() + ": 2 rules enabled\n"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("expensive  execution_cost    cost of one execution > $1.0000  all"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("webhook,command,stderr"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("failures   failed_execution  an execution failed"), std::string::npos)
      << result.out;
}

TEST_F(AlertsCliTest, CheckReadsTheHomeDirectoryAndExplainsABadFile) {
  const auto missing = kagura({"alerts", "check"});
  EXPECT_EQ(missing.exit_code(), 1);
  EXPECT_EQ(missing.err, "kagura: error: " + (dir.path() / ".kagura" / "alerts.json").string() +
                             ": no such file: create it (the format is in docs/alerts.md) or "
                             "give another file\n");
  dir.write(".kagura/alerts.json",
            R"({"rules": [{"name": "slow", "kind": "latency", "threshold": "30s"}]})");
  const auto bad = kagura({"alerts", "check"});
  EXPECT_EQ(bad.exit_code(), 1);
  EXPECT_EQ(bad.err, "kagura: error: " + (dir.path() / ".kagura" / "alerts.json").string() +
                         ": rule 1 (\"slow\"), field \"threshold\": \"30s\" is not a number: "
                         "write a number (seconds), without quotes\n");
  const auto watch = kagura({"alerts", "watch", "--db", db.string(), "--once"});
  EXPECT_EQ(watch.exit_code(), 1);
  EXPECT_EQ(watch.err, bad.err);
}

TEST_F(AlertsCliTest, TestFiresTheActionsOfOneRule) {
  WebhookReceiver receiver;
  const auto rules = write_rules(receiver.url());
  const auto result = kagura({"alerts", "test", "expensive", "--rules", rules.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.out, "Test alert of rule 'expensive': 3 of 3 actions delivered\n");
  ASSERT_EQ(receiver.bodies().size(), 1u);
  EXPECT_EQ(receiver.bodies()[0]["rule"], "expensive");
  EXPECT_NE(read_file(command_out).find("expensive"), std::string::npos);
  const auto unknown = kagura({"alerts", "test", "nope", "--rules", rules.string()});
  EXPECT_EQ(unknown.exit_code(), 1);
  EXPECT_EQ(unknown.err, "kagura: error: no enabled rule named 'nope' in " + rules.string() +
                             ": the rules are expensive, failures\n");
}

}  // namespace
}  // namespace kagura::cli
