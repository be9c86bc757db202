// RFC-030 Phase 1 ("@agent integration"), tests/core/test_decorators_telemetry.py, translated
// to the C++ API. The agent runtime does not exist yet, so an agent here is what the RFC's
// @agent decorator will expand to: Collector::track() on the global telemetry around the
// agent's body, with the LLM and tool calls it makes recorded into the execution. The RFC's
// mock_store fixture becomes an in-memory SqliteStore behind set_global_telemetry(), and its
// dict records are read back through get_executions() and to_json().

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "kagura/pricing/price_table.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"

namespace kagura::telemetry {
namespace {

// The RFC's mocked LLM answers every call with 10 prompt and 5 completion tokens.
LlmCallInfo mocked_llm_call() {
  return {.model = "gpt-4o-mini",
          .provider = "openai",
          .prompt_tokens = 10,
          .completion_tokens = 5,
          .duration = 0.2,
          .finish_reason = "stop"};
}

// @agent async def hello(name: str) -> str: '''Say hello to {{ name }}'''
std::string hello(const std::string& name) {
  return get_global_telemetry()->collector().track("hello", {{"name", name}},
                                                   [&](ExecutionScope& scope) {
                                                     scope.record_llm_call(mocked_llm_call());
                                                     return "Hello, " + name + "!";
                                                   });
}

// @agent(tools=[search]) async def researcher(topic: str) -> str: '''Research {{ topic }}'''
std::string researcher(const std::string& topic) {
  return get_global_telemetry()->collector().track(
      "researcher", {{"topic", topic}}, [&](ExecutionScope& scope) {
        scope.record_llm_call(mocked_llm_call());  // the model asks for search(query=topic)
        const std::string results = "Results for " + topic;
        scope.record_tool_call(
            {.tool_name = "search", .kwargs = {{"query", topic}}, .duration = 0.01});
        return "Here are the results: " + results;
      });
}

// @agent async def faulty_agent(query: str) -> str, with the LLM call raising "API Error".
std::string faulty_agent(const std::string& query) {
  return get_global_telemetry()->collector().track(
      "faulty_agent", {{"query", query}},
      [&](ExecutionScope&) -> std::string { throw std::runtime_error("API Error"); });
}

class RfcPhase1Test : public ::testing::Test {
 protected:
  RfcPhase1Test() {
    TelemetryOptions options;
    options.flush_on_signals = false;
    // The shipped prices, not whatever ~/.kagura/pricing.json the machine has.
    options.prices = std::make_shared<const pricing::PriceTable>(pricing::PriceTable::builtin());
    telemetry = std::make_shared<Telemetry>(store, options);
    set_global_telemetry(telemetry);
  }
  ~RfcPhase1Test() override {
    // Never leave the global unset: the next get_global_telemetry() would configure itself
    // from this machine's HOME.
    set_global_telemetry(Telemetry::disabled());
    set_telemetry_enabled(true);
  }

  // mock_store.get_executions(), as the RFC's dicts.
  nlohmann::json get_executions() {
    EXPECT_TRUE(telemetry->flush());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : store->get_executions({})) out.push_back(to_json(e));
    return out;
  }

  std::shared_ptr<storage::SqliteStore> store =
      std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  std::shared_ptr<Telemetry> telemetry;
};

TEST_F(RfcPhase1Test, test_agent_records_telemetry) {
  const std::string result = hello("Alice");
  EXPECT_NE(result.find("Hello"), std::string::npos);

  const nlohmann::json executions = get_executions();
  ASSERT_EQ(executions.size(), 1U);
  const nlohmann::json& execution = executions[0];
  EXPECT_EQ(execution["agent_name"], "hello");
  EXPECT_EQ(execution["status"], "completed");
  EXPECT_EQ(execution["kwargs"]["name"], "Alice");

  ASSERT_TRUE(execution["metrics"].contains("llm_calls"));
  EXPECT_EQ(execution["metrics"]["llm_calls"], 1);
  EXPECT_EQ(execution["metrics"]["total_tokens"], 15);

  ASSERT_TRUE(execution["metrics"].contains("total_cost"));
  const double total_cost = execution["metrics"]["total_cost"].get<double>();
  EXPECT_GT(total_cost, 0.0);
  // $0.15 and $0.60 per million tokens: 10 * 0.15e-6 + 5 * 0.60e-6 = $0.0000045 exactly.
  EXPECT_EQ(total_cost, nano_usd_to_usd(4500));
  const auto stored = store->get_executions({});
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].metrics.cost_nanos, 4500);

  // The LLM call itself is an event, with its own cost.
  ASSERT_EQ(execution["events"].size(), 1U);
  EXPECT_EQ(execution["events"][0]["type"], "llm_call");
  EXPECT_EQ(execution["events"][0]["data"]["model"], "gpt-4o-mini");
  EXPECT_EQ(execution["events"][0]["data"]["total_tokens"], 15);
  EXPECT_EQ(execution["events"][0]["data"]["cost"].get<double>(), nano_usd_to_usd(4500));
}

TEST_F(RfcPhase1Test, test_agent_telemetry_disabled) {
  // @agent(enable_telemetry=False) becomes switching the collector off for the agent's run.
  telemetry->collector().set_enabled(false);
  EXPECT_EQ(hello("Bob"), "Hello, Bob!") << "the agent works without telemetry";
  telemetry->collector().set_enabled(true);
  EXPECT_EQ(get_executions().size(), 0U);
  EXPECT_EQ(telemetry->stats().queued, 0U);
}

TEST_F(RfcPhase1Test, test_agent_telemetry_disabled_globally) {
  set_telemetry_enabled(false);  // KAGURA_TELEMETRY_ENABLED=false at run time
  EXPECT_EQ(hello("Bob"), "Hello, Bob!");
  set_telemetry_enabled(true);
  EXPECT_EQ(get_executions().size(), 0U);
}

TEST_F(RfcPhase1Test, test_agent_telemetry_disabled_telemetry_object) {
  set_global_telemetry(Telemetry::disabled());
  EXPECT_EQ(hello("Bob"), "Hello, Bob!");
  EXPECT_EQ(get_executions().size(), 0U);
}

TEST_F(RfcPhase1Test, test_agent_records_tool_calls) {
  const std::string result = researcher("AI");
  EXPECT_NE(result.find("Results for AI"), std::string::npos);

  const nlohmann::json executions = get_executions();
  ASSERT_EQ(executions.size(), 1U);
  const nlohmann::json& execution = executions[0];
  EXPECT_EQ(execution["agent_name"], "researcher");
  EXPECT_EQ(execution["kwargs"]["topic"], "AI");

  nlohmann::json tool_events = nlohmann::json::array();
  for (const auto& event : execution["events"]) {
    if (event["type"] == "tool_call") tool_events.push_back(event);
  }
  ASSERT_GE(tool_events.size(), 1U);
  EXPECT_EQ(tool_events[0]["data"]["tool_name"], "search");
  EXPECT_EQ(tool_events[0]["data"]["kwargs"]["query"], "AI");
  EXPECT_EQ(execution["metrics"]["tool_calls"], 1);
  EXPECT_EQ(execution["metrics"]["llm_calls"], 1);
}

TEST_F(RfcPhase1Test, test_agent_records_error) {
  EXPECT_THROW(faulty_agent("test"), std::runtime_error);

  const nlohmann::json executions = get_executions();
  ASSERT_EQ(executions.size(), 1U);
  const nlohmann::json& execution = executions[0];
  EXPECT_EQ(execution["agent_name"], "faulty_agent");
  EXPECT_EQ(execution["status"], "failed");
  ASSERT_TRUE(execution["error"].is_string()) << execution.dump();
  EXPECT_NE(execution["error"].get<std::string>().find("API Error"), std::string::npos)
      << execution["error"];
  EXPECT_EQ(execution["kwargs"]["query"], "test");
}

TEST_F(RfcPhase1Test, executions_of_several_agents_are_kept_apart) {
  hello("Alice");
  researcher("AI");
  EXPECT_THROW(faulty_agent("x"), std::runtime_error);
  hello("Carol");

  const nlohmann::json executions = get_executions();
  ASSERT_EQ(executions.size(), 4U);
  storage::ExecutionFilter only_hello;
  only_hello.agent_name = "hello";
  EXPECT_EQ(store->count_executions(only_hello), 2);
  const auto stats = store->get_summary_stats({});
  EXPECT_EQ(stats.completed, 3);
  EXPECT_EQ(stats.failed, 1);
  EXPECT_EQ(stats.llm_calls, 3);
  EXPECT_EQ(stats.tool_calls, 1);
  EXPECT_EQ(stats.total_tokens, 45);
  EXPECT_EQ(stats.cost_nanos, 3 * 4500);
}

TEST_F(RfcPhase1Test, an_agent_called_by_an_agent_is_its_child) {
  const std::string result = get_global_telemetry()->collector().track(
      "orchestrator", {{"task", "greet"}}, [](ExecutionScope&) { return hello("Dave"); });
  EXPECT_EQ(result, "Hello, Dave!");

  ASSERT_TRUE(telemetry->flush());
  const auto executions = store->get_executions({});
  ASSERT_EQ(executions.size(), 2U);
  const auto& child = executions[0].agent_name == "hello" ? executions[0] : executions[1];
  const auto& parent = executions[0].agent_name == "hello" ? executions[1] : executions[0];
  EXPECT_EQ(parent.agent_name, "orchestrator");
  EXPECT_EQ(child.parent_id, parent.id);
  EXPECT_EQ(child.trace_id, parent.id);
}

}  // namespace
}  // namespace kagura::telemetry
