// RFC-030's four Phase 1 tests, translated: an agent records itself with no telemetry code in
// user code. The LLM is a local server reached over real HTTP, the store a real SQLite store.

#include <gtest/gtest.h>

#include "agent/agent_fixture.hpp"

namespace kagura::test {
namespace {

using agent::Agent;
using telemetry::ExecutionStatus;

class RfcPhase1AgentTest : public AgentFixture {};

TEST_F(RfcPhase1AgentTest, AgentRecordsTelemetry) {
  server_.enqueue(
      {.content = "Hello, World!", .usage = {.prompt_tokens = 10, .completion_tokens = 5}});
  Agent hello(options("hello", "Say hello to {{ name }}"));

  const std::string result = hello({{"name", "Alice"}});

  EXPECT_NE(result.find("Hello"), std::string::npos);
  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 1u);
  const auto& execution = executions[0];
  EXPECT_EQ(execution.agent_name, "hello");
  EXPECT_EQ(execution.status, ExecutionStatus::completed);
  EXPECT_EQ(execution.kwargs.at("name"), "Alice");
  EXPECT_EQ(execution.metrics.llm_calls, 1);
  EXPECT_EQ(execution.metrics.total_tokens(), 15);
  EXPECT_GT(execution.metrics.total_cost(), 0.0);
  // The model was sent the rendered prompt.
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].at("messages").back().at("content"), "Say hello to Alice");
}

TEST_F(RfcPhase1AgentTest, AgentTelemetryDisabled) {
  server_.enqueue({.content = "Hi Bob"});
  auto o = options("hello", "Say hello to {{ name }}");
  o.enable_telemetry = false;
  Agent hello(std::move(o));

  EXPECT_EQ(hello({{"name", "Bob"}}), "Hi Bob");

  EXPECT_TRUE(recorded().empty());
  EXPECT_EQ(telemetry_->stats().queued, 0u);
}

TEST_F(RfcPhase1AgentTest, AgentRecordsToolCalls) {
  agent::Tool search{.name = "search",
                     .description = "Search for query",
                     .parameters = {{"type", "object"},
                                    {"properties", {{"query", {{"type", "string"}}}}},
                                    {"required", {"query"}}},
                     .function = [](const nlohmann::json& args) {
                       return "Results for " + args.at("query").get<std::string>();
                     }};
  server_.enqueue({.tool_calls = {{"call_1", "search", R"({"query": "AI"})"}}});
  server_.enqueue({.content = "Here are the results"});
  auto o = options("researcher", "Research {{ topic }}");
  o.tools = {search};
  Agent researcher(std::move(o));

  EXPECT_EQ(researcher({{"topic", "AI"}}), "Here are the results");

  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 1u);
  const auto tool_events = events_of<telemetry::ToolCall>(executions[0]);
  ASSERT_GE(tool_events.size(), 1u);
  EXPECT_EQ(tool_events[0].tool_name, "search");
  EXPECT_EQ(tool_events[0].kwargs.at("query"), "AI");
  EXPECT_TRUE(tool_events[0].success);
  // The tool's result went back to the model.
  ASSERT_EQ(server_.requests().size(), 2u);
  const auto follow_up = server_.requests()[1].at("messages");
  EXPECT_EQ(follow_up.back().at("role"), "tool");
  EXPECT_EQ(follow_up.back().at("content"), "Results for AI");
}

TEST_F(RfcPhase1AgentTest, AgentRecordsError) {
  ScriptedReply failure{.status = 500, .raw_body = R"({"error": {"message": "API Error"}})"};
  server_.set_default_reply(failure);
  Agent faulty(options("faulty_agent", "Process {{ query }}"));

  EXPECT_THROW(faulty({{"query", "test"}}), llm::LlmError);

  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 1u);
  EXPECT_EQ(executions[0].status, ExecutionStatus::failed);
  EXPECT_NE(executions[0].error.find("API Error"), std::string::npos) << executions[0].error;
  EXPECT_EQ(executions[0].error_type, "kagura::llm::LlmError");
}

}  // namespace
}  // namespace kagura::test
