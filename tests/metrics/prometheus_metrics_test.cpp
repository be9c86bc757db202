// ExecutionMetrics and the text exposition: exact counts, bucket placement at and around the
// OpenTelemetry boundaries, label escaping of hostile names, exact costs, and output that
// Prometheus' own checker (promtool, when installed) accepts.

#include "kagura/metrics/prometheus_metrics.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::metrics {
namespace {

using telemetry::Execution;
using telemetry::ExecutionStatus;

Execution execution(const std::string& agent, ExecutionStatus status = ExecutionStatus::completed,
                    double duration = 1.0) {
  Execution e;
  e.id = telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = 1736467200;
  e.status = status;
  if (status != ExecutionStatus::running) {
    e.duration = duration;
    e.ended_at = e.started_at + duration;
  }
  return e;
}

void add_llm_call(Execution& e, const std::string& model, std::int64_t prompt,
                  std::int64_t completion, double duration, telemetry::NanoUsd cost,
                  bool priced = true, const std::string& provider = "openai") {
  telemetry::LlmCall call;
  call.model = model;
  call.provider = provider;
  call.prompt_tokens = prompt;
  call.completion_tokens = completion;
  call.duration = duration;
  call.cost_nanos = cost;
  call.priced = priced;
  e.metrics.add(call);
  e.events.push_back({e.started_at, call});
}

void add_tool_call(Execution& e, const std::string& tool, bool success) {
  e.events.push_back({e.started_at, telemetry::ToolCall{tool, nlohmann::json::object(), 0.1,
                                                        success, success ? "" : "boom"}});
  ++e.metrics.tool_calls;
}

// The value of the sample whose name and labels are exactly `series`; "" (and a failure) when
// there is no such line, or when there are several.
std::string value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::vector<std::string> found;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) found.push_back(line.substr(series.size() + 1));
  }
  if (found.size() != 1) {
    ADD_FAILURE() << found.size() << " lines for " << series << " in:\n" << text;
    return "";
  }
  return found.front();
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.starts_with(prefix) ? 1 : 0;
  return n;
}

const std::string kChat =
    R"(gen_ai_agent_name="writer",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_response_model="gpt-4o-mini")";

TEST(ExecutionMetricsTest, CountsExecutionsByAgentAndStatusAndErrorsByType) {
  ExecutionMetrics metrics;
  EXPECT_TRUE(metrics.add(execution("writer")));
  EXPECT_TRUE(metrics.add(execution("writer")));
  Execution failed = execution("reviewer", ExecutionStatus::failed);
  failed.error = "rate limited";
  failed.error_type = "RateLimitError";
  EXPECT_TRUE(metrics.add(failed));
  Execution untyped = execution("reviewer", ExecutionStatus::failed);
  EXPECT_TRUE(metrics.add(untyped));
  EXPECT_FALSE(metrics.add(execution("writer", ExecutionStatus::running)))
      << "a running execution is counted once it is seen finished, not before";
  EXPECT_EQ(metrics.executions(), 4u);

  const std::string text = metrics.exposition();
  EXPECT_EQ(value_of(text, R"(kagura_executions_total{agent="writer",status="completed"})"), "2");
  EXPECT_EQ(value_of(text, R"(kagura_executions_total{agent="reviewer",status="failed"})"), "2");
  EXPECT_EQ(
      count_lines_starting(text, R"(kagura_executions_total{agent="writer",status="running"})"),
      0u);
  EXPECT_EQ(value_of(text, R"(kagura_errors_total{agent="reviewer",error_type="RateLimitError"})"),
            "1");
  EXPECT_EQ(value_of(text, R"(kagura_errors_total{agent="reviewer",error_type="_OTHER"})"), "1");
  EXPECT_EQ(value_of(text, R"(kagura_execution_duration_seconds_count{agent="writer"})"), "2");
  EXPECT_EQ(value_of(text, R"(kagura_execution_duration_seconds_sum{agent="writer"})"), "2");
  // Each family is announced once.
  EXPECT_EQ(count_lines_starting(text, "# TYPE kagura_executions_total counter"), 1u);
  EXPECT_EQ(count_lines_starting(text, "# HELP kagura_executions_total "), 1u);
  EXPECT_EQ(count_lines_starting(text, "# TYPE gen_ai_client_token_usage histogram"), 1u);
}

TEST(ExecutionMetricsTest, TokenUsageBucketsAreCumulativeAndIncludeTheirUpperBound) {
  ExecutionMetrics metrics;
  Execution e = execution("writer");
  add_llm_call(e, "gpt-4o-mini", 4, 5, 0.01, 0);          // input exactly on le=4
  add_llm_call(e, "gpt-4o-mini", 0, 67108864, 0.011, 0);  // output exactly on the last bound
  add_llm_call(e, "gpt-4o-mini", 1, 67108865, 81.92, 0);  // output beyond it: +Inf only
  metrics.add(e);
  const std::string text = metrics.exposition();

  const auto input = [&](const std::string& le) {
    return value_of(text, "gen_ai_client_token_usage_bucket{" + kChat +
                              R"(,gen_ai_token_type="input",le=")" + le + "\"}");
  };
  const auto output = [&](const std::string& le) {
    return value_of(text, "gen_ai_client_token_usage_bucket{" + kChat +
                              R"(,gen_ai_token_type="output",le=")" + le + "\"}");
  };
  EXPECT_EQ(input("1"), "2");  // 0 and 1 tokens
  EXPECT_EQ(input("4"), "3");  // and 4: the bound itself belongs to its bucket
  EXPECT_EQ(input("+Inf"), "3");
  EXPECT_EQ(output("4"), "0");
  EXPECT_EQ(output("16"), "1");  // 5 tokens
  EXPECT_EQ(output("16777216"), "1");
  EXPECT_EQ(output("67108864"), "2");
  EXPECT_EQ(output("+Inf"), "3");
  EXPECT_EQ(value_of(text, "gen_ai_client_token_usage_count{" + kChat +
                               R"(,gen_ai_token_type="output"})"),
            "3");
  EXPECT_EQ(
      value_of(text, "gen_ai_client_token_usage_sum{" + kChat + R"(,gen_ai_token_type="output"})"),
      "134217734");
  // Every boundary of the conventions, then +Inf.
  EXPECT_EQ(count_lines_starting(text, "gen_ai_client_token_usage_bucket{" + kChat +
                                           R"(,gen_ai_token_type="input")"),
            kTokenUsageBuckets.size() + 1);

  const auto duration = [&](const std::string& le) {
    return value_of(
        text, "gen_ai_client_operation_duration_seconds_bucket{" + kChat + R"(,le=")" + le + "\"}");
  };
  EXPECT_EQ(duration("0.01"), "1");  // exactly 0.01 s
  EXPECT_EQ(duration("0.02"), "2");  // 0.011 s
  EXPECT_EQ(duration("40.96"), "2");
  EXPECT_EQ(duration("81.92"), "3");
  EXPECT_EQ(duration("+Inf"), "3");
  EXPECT_EQ(count_lines_starting(text, "gen_ai_client_operation_duration_seconds_bucket{" + kChat),
            kOperationDurationBuckets.size() + 1);
}

TEST(ExecutionMetricsTest, CostIsExactToTheNanoDollar) {
  ExecutionMetrics metrics;
  // A thousand calls at $0.1: summed as doubles this is 99.9999999999986.
  for (int i = 0; i < 10; ++i) {
    Execution e = execution("writer");
    for (int j = 0; j < 100; ++j) add_llm_call(e, "gpt-4o", 10, 10, 0.5, 100'000'000);
    metrics.add(e);
  }
  Execution odd = execution("writer");
  add_llm_call(odd, "claude-3-haiku", 1, 1, 0.5, 100'000'001, true, "anthropic");
  add_llm_call(odd, "claude-3-haiku", 1, 1, 0.5, 200'000'002, true, "anthropic");
  add_llm_call(odd, "local-llama", 1, 1, 0.5, 0, /*priced=*/false, "");
  metrics.add(odd);

  const std::string text = metrics.exposition();
  EXPECT_EQ(value_of(text, R"(kagura_cost_usd_total{agent="writer",model="gpt-4o"})"), "100");
  EXPECT_EQ(value_of(text, R"(kagura_cost_usd_total{agent="writer",model="claude-3-haiku"})"),
            "0.300000003");
  EXPECT_EQ(value_of(text, R"(kagura_cost_usd_total{agent="writer",model="local-llama"})"), "0");
  EXPECT_EQ(value_of(text, R"(kagura_llm_calls_total{agent="writer",model="gpt-4o"})"), "1000");
  EXPECT_EQ(value_of(text, R"(kagura_unpriced_llm_calls_total{model="local-llama"})"), "1");
  EXPECT_EQ(count_lines_starting(text, R"(kagura_unpriced_llm_calls_total{model="gpt-4o"})"), 0u);
  // No provider recorded and none in the model's name: the label is "_OTHER".
  EXPECT_EQ(
      count_lines_starting(
          text,
          R"(gen_ai_client_operation_duration_seconds_count{gen_ai_agent_name="writer",gen_ai_operation_name="chat",gen_ai_provider_name="_OTHER",gen_ai_response_model="local-llama"})"),
      1u);

  EXPECT_EQ(format_nanos(0), "0");
  EXPECT_EQ(format_nanos(1), "0.000000001");
  EXPECT_EQ(format_nanos(1'234'500'000), "1.2345");
  EXPECT_EQ(format_nanos(-1'500'000'000), "-1.5");
  EXPECT_EQ(format_nanos(std::numeric_limits<std::int64_t>::min()), "-9223372036.854775808");
}

TEST(ExecutionMetricsTest, ToolCallsByOutcomeAndProviderFromTheModelName) {
  ExecutionMetrics metrics;
  Execution e = execution("researcher");
  add_tool_call(e, "web_search", true);
  add_tool_call(e, "web_search", true);
  add_tool_call(e, "web_search", false);
  add_tool_call(e, "calculator", true);
  add_llm_call(e, "openrouter/meta-llama", 1, 1, 0.2, 0, true, "");
  metrics.add(e);
  const std::string text = metrics.exposition();
  EXPECT_EQ(
      value_of(
          text,
          R"(kagura_tool_calls_total{agent="researcher",tool="web_search",outcome="success"})"),
      "2");
  EXPECT_EQ(
      value_of(text,
               R"(kagura_tool_calls_total{agent="researcher",tool="web_search",outcome="error"})"),
      "1");
  EXPECT_EQ(
      value_of(
          text,
          R"(kagura_tool_calls_total{agent="researcher",tool="calculator",outcome="success"})"),
      "1");
  EXPECT_EQ(
      value_of(
          text,
          R"(gen_ai_client_operation_duration_seconds_count{gen_ai_agent_name="researcher",gen_ai_operation_name="chat",gen_ai_provider_name="openrouter",gen_ai_response_model="openrouter/meta-llama"})"),
      "1");
}

const std::string kHostile = "evil\"} 1\nkagura_executions_total{agent=\"x\\";

TEST(ExecutionMetricsTest, HostileNamesAreEscapedAndCannotAddLines) {
  ExecutionMetrics metrics;
  Execution e = execution(kHostile);
  add_llm_call(e, kHostile, 1, 1, 0.2, 5, true, kHostile);
  add_tool_call(e, kHostile, true);
  e.status = ExecutionStatus::failed;
  e.error_type = kHostile;
  metrics.add(e);
  const std::string text = metrics.exposition();
  const std::string escaped = R"(evil\"} 1\nkagura_executions_total{agent=\"x\\)";
  EXPECT_EQ(escape_label_value(kHostile), escaped);
  EXPECT_EQ(value_of(text, "kagura_executions_total{agent=\"" + escaped + "\",status=\"failed\"}"),
            "1");
  EXPECT_EQ(count_lines_starting(text, "kagura_executions_total{agent=\"x"), 0u)
      << "the name's line feed started a line of its own:\n"
      << text;
  EXPECT_EQ(escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d");
}

TEST(ExecutionMetricsTest, LabelValuesBeyondTheLimitAreCountedAsOther) {
  ExecutionMetrics metrics({.max_label_values = 2});
  for (const char* agent : {"a", "b", "c", "d", "a"}) metrics.add(execution(agent));
  const std::string text = metrics.exposition();
  EXPECT_EQ(value_of(text, R"(kagura_executions_total{agent="a",status="completed"})"), "2");
  EXPECT_EQ(value_of(text, R"(kagura_executions_total{agent="b",status="completed"})"), "1");
  EXPECT_EQ(value_of(text, R"(kagura_executions_total{agent="_OTHER",status="completed"})"), "2");
  EXPECT_EQ(count_lines_starting(text, R"(kagura_executions_total{agent="c")"), 0u);
}

TEST(ExecutionMetricsTest, PipelineCountersAreRenderedWhenGiven) {
  pipeline::PipelineStats stats;
  stats.queued = 12;
  stats.written = 9;
  stats.dropped = 2;
  stats.failed = 1;
  stats.spooled = 3;
  stats.pending = 1;
  stats.spool_pending = 4;
  ExecutionMetrics metrics;
  metrics.add(execution("writer"));
  const std::string text = metrics.exposition(stats);
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_queued_total"), "12");
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_written_total"), "9");
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_dropped_total"), "2");
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_failed_total"), "1");
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_spooled_total"), "3");
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_pending"), "1");
  EXPECT_EQ(value_of(text, "kagura_pipeline_spool_executions_pending"), "4");
  EXPECT_EQ(value_of(text, R"(kagura_executions_total{agent="writer",status="completed"})"), "1");
  EXPECT_EQ(metrics.exposition().find("kagura_pipeline_"), std::string::npos);
  EXPECT_EQ(pipeline_exposition(stats).find("kagura_executions_total"), std::string::npos);
}

// Prometheus' own parser and linter on everything at once, hostile names included.
TEST(ExecutionMetricsTest, PromtoolAcceptsTheExposition) {
  const std::string promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool)) GTEST_SKIP() << "promtool (Debian: prometheus) absent";
  ExecutionMetrics metrics;
  Execution e = execution(kHostile, ExecutionStatus::failed);
  e.error_type = kHostile;
  add_llm_call(e, kHostile, 1000, 200, 1.5, 1234, false, kHostile);
  add_tool_call(e, kHostile, false);
  metrics.add(e);
  Execution plain = execution("writer");
  add_llm_call(plain, "gpt-4o-mini", 10, 20, 0.3, 5000);
  metrics.add(plain);
  kagura::test::TempDir dir("kagura_prometheus_test");
  const auto file = dir.write("metrics.txt", metrics.exposition(pipeline::PipelineStats{}));
  const auto result = kagura::test::run_process(
      {"/bin/sh", "-c", promtool + " check metrics < '" + file.string() + "'"});
  EXPECT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_EQ(result.out + result.err, "") << "promtool found problems";
}

}  // namespace
}  // namespace kagura::metrics
