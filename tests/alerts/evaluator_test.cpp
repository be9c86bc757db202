// The rules' conditions: each kind fires exactly when its condition holds, windows start and
// end where they should, cooldowns hold repeats back, agent filters choose the executions.

#include "kagura/alerts/evaluator.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kagura::alerts {
namespace {

using telemetry::Execution;
using telemetry::ExecutionStatus;

int g_counter = 0;

// An execution of `agent` that ended at `end` after `duration` seconds.
Execution make(const std::string& agent, double end,
               ExecutionStatus status = ExecutionStatus::completed,
               telemetry::NanoUsd cost_nanos = 0, double duration = 1.0) {
  Execution e;
  e.id = "exec" + std::to_string(++g_counter);
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = end - duration;
  e.duration = duration;
  e.ended_at = end;
  e.status = status;
  e.metrics.cost_nanos = cost_nanos;
  if (status == ExecutionStatus::failed) {
    e.error = "rate limited\nby the provider";
    e.error_type = "LlmError";
  }
  return e;
}

Rule rule(const std::string& name, RuleKind kind, double threshold = 0, double window = 0) {
  Rule r;
  r.name = name;
  r.kind = kind;
  r.threshold = threshold;
  r.window = window;
  return r;
}

constexpr telemetry::NanoUsd kDollar = 1'000'000'000;
constexpr double kT0 = 1'700'000'000;

TEST(EvaluatorTest, ExecutionCostFiresOnlyAboveTheThreshold) {
  Evaluator evaluator({rule("expensive", RuleKind::execution_cost, 0.5)});
  EXPECT_TRUE(evaluator.evaluate(make("a", kT0, ExecutionStatus::completed, kDollar / 2)).empty())
      << "exactly the threshold is not above it";
  const auto e = make("a", kT0 + 1, ExecutionStatus::completed, kDollar / 2 + 1);
  const auto alerts = evaluator.evaluate(e);
  ASSERT_EQ(alerts.size(), 1u);
  const Alert& alert = alerts[0];
  EXPECT_EQ(alert.rule, "expensive");
  EXPECT_EQ(alert.kind, RuleKind::execution_cost);
  EXPECT_DOUBLE_EQ(alert.value, 0.500000001);
  EXPECT_DOUBLE_EQ(alert.threshold, 0.5);
  EXPECT_EQ(alert.agent, "a");
  EXPECT_EQ(alert.execution_id, e.id);
  EXPECT_DOUBLE_EQ(alert.timestamp, kT0 + 1);
  EXPECT_EQ(alert.message, "execution " + e.id + " of agent 'a' cost $0.5000, above $0.5000");
  // A failed execution is checked for its cost too.
  EXPECT_EQ(evaluator.evaluate(make("a", kT0 + 2, ExecutionStatus::failed, kDollar)).size(), 1u);
}

TEST(EvaluatorTest, LatencyFiresOnlyAboveTheThreshold) {
  Evaluator evaluator({rule("slow", RuleKind::latency, 30)});
  EXPECT_TRUE(evaluator.evaluate(make("a", kT0, ExecutionStatus::completed, 0, 30.0)).empty());
  auto no_duration = make("a", kT0 + 1);
  no_duration.duration.reset();
  EXPECT_TRUE(evaluator.evaluate(no_duration).empty());
  const auto alerts = evaluator.evaluate(make("a", kT0 + 2, ExecutionStatus::completed, 0, 30.5));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_DOUBLE_EQ(alerts[0].value, 30.5);
  EXPECT_NE(alerts[0].message.find("took 30.50s, above 30s"), std::string::npos)
      << alerts[0].message;
}

TEST(EvaluatorTest, FailedExecutionFiresForFailuresOfTheListedAgentsOnly) {
  Rule failures = rule("failures", RuleKind::failed_execution);
  failures.agents = {"writer", "critic"};
  Evaluator evaluator({failures});
  EXPECT_TRUE(evaluator.evaluate(make("writer", kT0)).empty());
  EXPECT_TRUE(evaluator.evaluate(make("researcher", kT0 + 1, ExecutionStatus::failed)).empty());
  const auto e = make("critic", kT0 + 2, ExecutionStatus::failed);
  const auto alerts = evaluator.evaluate(e);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(
      alerts[0].message,
      "execution " + e.id + " of agent 'critic' failed: LlmError: rate limited by the provider");
  EXPECT_TRUE(evaluator.covers("writer"));
  EXPECT_FALSE(evaluator.covers("researcher"));
}

TEST(EvaluatorTest, RunningExecutionsAreIgnored) {
  Evaluator evaluator({rule("failures", RuleKind::failed_execution),
                       rule("any-cost", RuleKind::execution_cost, 0)});
  auto running = make("a", kT0, ExecutionStatus::running, kDollar);
  EXPECT_TRUE(evaluator.evaluate(running).empty());
  EXPECT_EQ(evaluator.stats().evaluated, 0u);
}

TEST(EvaluatorTest, WindowCostCountsExactlyTheExecutionsInsideTheWindow) {
  Rule budget = rule("budget", RuleKind::window_cost, 1.0, 3600);
  Evaluator evaluator({budget});
  EXPECT_TRUE(
      evaluator.evaluate(make("a", kT0, ExecutionStatus::completed, kDollar * 6 / 10)).empty());
  auto alerts = evaluator.evaluate(make("b", kT0 + 1000, ExecutionStatus::completed, kDollar / 2));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_DOUBLE_EQ(alerts[0].value, 1.1);
  EXPECT_FALSE(alerts[0].agent) << "a window over all agents names none";
  EXPECT_EQ(alerts[0].window, 3600);
  EXPECT_EQ(alerts[0].message,
            "cost over the last 1h was $1.1000 (2 executions, all agents), above $1.0000");
  // One hour after the first: it has left the window (the window is (t - 1h, t]).
  EXPECT_TRUE(
      evaluator.evaluate(make("a", kT0 + 3600, ExecutionStatus::completed, kDollar / 10)).empty());
  // $0.50 + $0.10 + $0.45 = $1.05 over the hour ending at kT0 + 3700.
  alerts =
      evaluator.evaluate(make("a", kT0 + 3700, ExecutionStatus::completed, kDollar * 45 / 100));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_DOUBLE_EQ(alerts[0].value, 1.05);
}

TEST(EvaluatorTest, WindowRulesPerAgentKeepAWindowForEachAgent) {
  Rule shared = rule("shared", RuleKind::window_cost, 1.0, 600);
  Rule per_agent = rule("per-agent", RuleKind::window_cost, 1.0, 600);
  per_agent.per_agent = true;
  Evaluator evaluator({shared, per_agent});
  EXPECT_TRUE(
      evaluator.evaluate(make("a", kT0, ExecutionStatus::completed, kDollar * 6 / 10)).empty());
  auto alerts =
      evaluator.evaluate(make("b", kT0 + 1, ExecutionStatus::completed, kDollar * 6 / 10));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "shared");
  alerts = evaluator.evaluate(make("b", kT0 + 2, ExecutionStatus::completed, kDollar / 2));
  ASSERT_EQ(alerts.size(), 2u) << "shared fires again (no cooldown), per-agent fires for b";
  EXPECT_EQ(alerts[1].rule, "per-agent");
  EXPECT_EQ(alerts[1].agent, "b");
  EXPECT_NE(alerts[1].message.find("agent 'b'"), std::string::npos) << alerts[1].message;
}

TEST(EvaluatorTest, ErrorRateNeedsTheMinimumAndFiresOnlyAboveTheFraction) {
  Rule errors = rule("errors", RuleKind::error_rate, 0.2, 600);
  errors.min_executions = 5;
  Evaluator evaluator({errors});
  // 1 failure in 5: exactly 20%, not above.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(evaluator.evaluate(make("a", kT0 + i)).empty());
  EXPECT_TRUE(evaluator.evaluate(make("a", kT0 + 4, ExecutionStatus::failed)).empty());
  // 2 in 6 (33%).
  const auto alerts = evaluator.evaluate(make("a", kT0 + 5, ExecutionStatus::failed));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NEAR(alerts[0].value, 2.0 / 6.0, 1e-12);
  EXPECT_EQ(alerts[0].message,
            "error rate over the last 10m was 33.3% (2 of 6 executions failed, all agents), "
            "above 20%");

  Evaluator few({errors});
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(few.evaluate(make("a", kT0 + i, ExecutionStatus::failed)).empty())
        << "fewer than min_executions never fire, even at 100%";
  }
  EXPECT_EQ(few.evaluate(make("a", kT0 + 4, ExecutionStatus::failed)).size(), 1u);
  // The failures leave the window after 10 minutes: five fresh successes are 0%.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(few.evaluate(make("a", kT0 + 700 + i)).empty());
  }
}

TEST(EvaluatorTest, CooldownHoldsBackRepeatsOfTheSameAgent) {
  Rule failures = rule("failures", RuleKind::failed_execution);
  failures.cooldown = 60;
  Evaluator evaluator({failures});
  EXPECT_EQ(evaluator.evaluate(make("a", kT0, ExecutionStatus::failed)).size(), 1u);
  EXPECT_TRUE(evaluator.evaluate(make("a", kT0 + 30, ExecutionStatus::failed)).empty());
  EXPECT_EQ(evaluator.evaluate(make("b", kT0 + 31, ExecutionStatus::failed)).size(), 1u)
      << "another agent has its own cooldown";
  EXPECT_TRUE(evaluator.evaluate(make("a", kT0 + 59.9, ExecutionStatus::failed)).empty());
  EXPECT_EQ(evaluator.evaluate(make("a", kT0 + 60, ExecutionStatus::failed)).size(), 1u);
  EXPECT_EQ(evaluator.stats().suppressed, 2u);
  EXPECT_EQ(evaluator.stats().alerts, 3u);
}

TEST(EvaluatorTest, AWindowRuleOverAllAgentsHasOneCooldown) {
  Rule budget = rule("budget", RuleKind::window_cost, 1.0, 3600);
  budget.cooldown = 300;
  Evaluator evaluator({budget});
  EXPECT_EQ(evaluator.evaluate(make("a", kT0, ExecutionStatus::completed, 2 * kDollar)).size(), 1u);
  EXPECT_TRUE(
      evaluator.evaluate(make("b", kT0 + 100, ExecutionStatus::completed, kDollar)).empty());
  EXPECT_EQ(evaluator.evaluate(make("b", kT0 + 300, ExecutionStatus::completed, 0)).size(), 1u)
      << "still over budget once the cooldown has passed";
}

TEST(EvaluatorTest, RememberedExecutionsFillTheWindowWithoutAlerting) {
  Evaluator evaluator({rule("budget", RuleKind::window_cost, 1.0, 3600),
                       rule("failures", RuleKind::failed_execution)});
  evaluator.remember(make("a", kT0, ExecutionStatus::failed, kDollar * 9 / 10));
  EXPECT_EQ(evaluator.stats().alerts, 0u);
  const auto alerts =
      evaluator.evaluate(make("a", kT0 + 10, ExecutionStatus::completed, kDollar / 5));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_DOUBLE_EQ(alerts[0].value, 1.1);
}

TEST(EvaluatorTest, AFullWindowGivesUpItsOldestEntries) {
  Evaluator evaluator({rule("budget", RuleKind::window_cost, 3.5, 86400)}, 3);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(
        evaluator.evaluate(make("a", kT0 + i, ExecutionStatus::completed, kDollar)).empty());
  }
  EXPECT_EQ(evaluator.stats().window_overflow, 2u);
}

TEST(EvaluatorTest, LateExecutionsOlderThanTheWindowAreNotCounted) {
  Evaluator evaluator({rule("budget", RuleKind::window_cost, 1.0, 60)});
  EXPECT_TRUE(
      evaluator.evaluate(make("a", kT0 + 100, ExecutionStatus::completed, kDollar / 2)).empty());
  EXPECT_TRUE(evaluator.evaluate(make("a", kT0, ExecutionStatus::completed, kDollar)).empty())
      << "ended 100s before the newest: outside a 60s window";
  // Late but inside: counted.
  EXPECT_EQ(evaluator.evaluate(make("a", kT0 + 50, ExecutionStatus::completed, kDollar)).size(),
            1u);
}

}  // namespace
}  // namespace kagura::alerts
