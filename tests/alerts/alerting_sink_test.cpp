// Alerts in the recording process: a Telemetry with rules checks executions as they finish, on
// its own thread, without holding the agent up; and the global telemetry picks up
// ~/.kagura/alerts.json by itself.

#include "kagura/alerts/alerting_sink.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "alerts/webhook_receiver.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/test_support.hpp"

namespace kagura::alerts {
namespace {

namespace fs = std::filesystem;
using kagura::test::EnvChanges;
using kagura::test::TempDir;
using kagura::test::WebhookReceiver;

Rule expensive_rule(const std::string& url) {
  Rule rule;
  rule.name = "expensive";
  rule.kind = RuleKind::execution_cost;
  rule.threshold = 0.5;
  Action hook;
  hook.type = ActionType::webhook;
  hook.url = url;
  rule.actions = {hook};
  return rule;
}

TEST(AlertingSinkTest, ATelemetryWithRulesPostsTheAlertOfAnExpensiveExecution) {
  WebhookReceiver receiver;
  auto store = std::make_shared<storage::SqliteStore>(":memory:");
  telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.alert_rules = {expensive_rule(receiver.url())};
  auto telemetry = std::make_shared<telemetry::Telemetry>(store, options);
  ASSERT_NE(telemetry->alerts(), nullptr);
  auto& collector = telemetry->collector();

  std::string expensive_id;
  collector.track("researcher", {{"topic", "solar"}}, [&](auto& scope) {
    expensive_id = scope.id();
    scope.record_llm_call({.model = "gpt-4o",
                           .prompt_tokens = 1000,
                           .completion_tokens = 500,
                           .duration = 0.5,
                           .cost_usd = 0.75});
    return 0;
  });
  collector.track("researcher", {}, [&](auto& scope) {
    scope.record_llm_call({.model = "gpt-4o",
                           .prompt_tokens = 10,
                           .completion_tokens = 5,
                           .duration = 0.1,
                           .cost_usd = 0.01});
    return 0;
  });
  ASSERT_TRUE(telemetry->flush(std::chrono::seconds(10)));

  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 1u) << "only the expensive one";
  EXPECT_EQ(bodies[0]["rule"], "expensive");
  EXPECT_EQ(bodies[0]["kind"], "execution_cost");
  EXPECT_EQ(bodies[0]["agent"], "researcher");
  EXPECT_EQ(bodies[0]["execution_id"], expensive_id);
  EXPECT_DOUBLE_EQ(bodies[0]["value"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(bodies[0]["threshold"].get<double>(), 0.5);
  EXPECT_EQ(bodies[0]["message"],
            "execution " + expensive_id + " of agent 'researcher' cost $0.7500, above $0.5000");
  // Both executions are stored all the same.
  EXPECT_EQ(store->count_executions({}), 2);
  const auto stats = telemetry->alerts()->stats();
  EXPECT_EQ(stats.evaluated, 2u);
  EXPECT_EQ(stats.alerts, 1u);
  EXPECT_EQ(stats.actions_delivered, 1u);
}

TEST(AlertingSinkTest, ASlowWebhookNeverHoldsTheAgentUp) {
  WebhookReceiver receiver;
  receiver.set_delay(std::chrono::milliseconds(300));
  auto store = std::make_shared<storage::SqliteStore>(":memory:");
  telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.alert_rules = {expensive_rule(receiver.url())};
  telemetry::Telemetry telemetry(store, options);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    telemetry.collector().track("researcher", {}, [&](auto& scope) {
      scope.record_llm_call({.model = "gpt-4o", .cost_usd = 1.0});
      return 0;
    });
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250))
      << "three alerts of 300 ms each went out on the agent's thread";
  ASSERT_TRUE(telemetry.flush(std::chrono::seconds(10)));
  EXPECT_EQ(receiver.bodies().size(), 3u);
}

class CountingSink final : public telemetry::ExecutionSink {
 public:
  void submit(std::shared_ptr<const telemetry::Execution>) noexcept override { ++count; }
  std::atomic<int> count{0};
};

TEST(AlertingSinkTest, AFullQueueDropsFromAlertingOnlyAndCountsIt) {
  WebhookReceiver receiver;
  receiver.set_delay(std::chrono::milliseconds(300));
  auto inner = std::make_shared<CountingSink>();
  kagura::test::NoticeCapture notices;
  AlertingOptions options;
  options.queue_capacity = 1;
  AlertingSink sink(inner, {expensive_rule(receiver.url())}, options);
  for (int i = 0; i < 6; ++i) {
    auto e = std::make_shared<telemetry::Execution>();
    e->id = "e" + std::to_string(i);
    e->agent_name = "a";
    e->status = telemetry::ExecutionStatus::completed;
    e->metrics.cost_nanos = 2'000'000'000;
    sink.submit(e);
  }
  EXPECT_EQ(inner->count, 6) << "every execution still reaches the store";
  ASSERT_TRUE(sink.flush(std::chrono::seconds(10)));
  const auto stats = sink.stats();
  EXPECT_GE(stats.dropped, 1u);
  EXPECT_EQ(stats.queued + stats.dropped, 6u);
  EXPECT_EQ(stats.evaluated, stats.queued);
  EXPECT_EQ(receiver.bodies().size(), stats.queued);
  EXPECT_EQ(notices.count_containing("alert rules fall behind"), 1u);
}

TEST(AlertingSinkTest, ExecutionsOfAgentsNoRuleCoversAreNotQueued) {
  auto inner = std::make_shared<CountingSink>();
  Rule rule = expensive_rule("http://127.0.0.1:9/unused");
  rule.agents = {"writer"};
  AlertingSink sink(inner, {rule});
  auto e = std::make_shared<telemetry::Execution>();
  e->agent_name = "researcher";
  e->status = telemetry::ExecutionStatus::completed;
  e->metrics.cost_nanos = 2'000'000'000;
  sink.submit(e);
  ASSERT_TRUE(sink.flush(std::chrono::seconds(5)));
  EXPECT_EQ(inner->count, 1);
  EXPECT_EQ(sink.stats().queued, 0u);
  EXPECT_EQ(sink.stats().alerts, 0u);
}

// The global telemetry of a real process (tests/support/record_and_wait.cpp) with
// ~/.kagura/alerts.json in its HOME.
class GlobalAlertsTest : public ::testing::Test {
 protected:
  TempDir dir{"kagura_global_alerts"};
  fs::path home() const { return dir.path() / "home"; }
  fs::path rules_file() const { return home() / ".kagura" / "alerts.json"; }
  void write_rules(const std::string& text) const {
    fs::create_directories(rules_file().parent_path());
    std::ofstream(rules_file()) << text;
  }
  kagura::test::ProcessResult record(int count) const {
    EnvChanges env = {{"HOME", home().string()}, {"KAGURA_HOME", std::nullopt}};
    return kagura::test::run_process({kagura::test::record_helper(), std::to_string(count), "exit"},
                                     env);
  }
  std::int64_t stored() const {
    storage::SqliteStore store((home() / ".kagura" / "telemetry.db").string());
    return store.count_executions({});
  }
};

TEST_F(GlobalAlertsTest, RulesInTheHomeDirectoryAreActiveWithoutAnyCode) {
  WebhookReceiver receiver;
  write_rules(R"({"rules": [{"name": "any-cost", "kind": "execution_cost", "threshold": 0,
      "actions": [{"type": "webhook", "url": ")" +
              receiver.url() + R"("}, {"type": "stderr"}]}]})");
  const auto result = record(3);
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  // Delivered before the process ended.
  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 3u) << result.err;
  for (const auto& body : bodies) {
    EXPECT_EQ(body["rule"], "any-cost");
    EXPECT_EQ(body["agent"], "helper");
    EXPECT_GT(body["value"].get<double>(), 0);
  }
  std::size_t lines = 0;
  for (auto at = result.err.find("kagura alert [any-cost]: execution "); at != std::string::npos;
       at = result.err.find("kagura alert [any-cost]: execution ", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 3u) << result.err;
  EXPECT_EQ(stored(), 3);
}

TEST_F(GlobalAlertsTest, ABadRulesFileIsReportedOnceAndRecordingGoesOn) {
  write_rules(R"({"rules": [{"name": "budget", "kind": "window_cost", "threshold": 5}]})");
  const auto result = record(3);
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const std::string expected = "kagura: alerts are off for this process: " + rules_file().string() +
                               ": rule 1 (\"budget\"), field \"window\": missing";
  EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("alerts are off"), result.err.rfind("alerts are off")) << "once";
  EXPECT_EQ(stored(), 3);
}

}  // namespace
}  // namespace kagura::alerts
