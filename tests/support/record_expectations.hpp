#pragma once

// Sample telemetry records and field-by-field comparisons of them, shared by the suites that
// write records somewhere (JSON, SQLite) and read them back.

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "kagura/telemetry/execution.hpp"

namespace kagura::test {

// An LLM call with every field set.
inline telemetry::LlmCall make_llm_call() {
  telemetry::LlmCall call;
  call.model = "gpt-4o-mini";
  call.provider = "openai";
  call.prompt_tokens = 1200;
  call.completion_tokens = 345;
  call.cached_tokens = 1024;
  call.cache_write_tokens = 64;
  call.reasoning_tokens = 100;
  call.duration = 1.25;
  call.time_to_first_token = 0.375;
  call.finish_reason = "stop";
  call.retries = 2;
  call.cost_nanos = 123456789;
  call.priced = true;
  return call;
}

// A record using every field: the four kinds of event, kwargs, custom metrics, tags, an error,
// and parent and trace ids.
inline telemetry::Execution make_full_execution() {
  using namespace telemetry;
  Execution e;
  e.id = "0192f0a1b2c37d4e8f0123456789abcd";
  e.trace_id = "0192f0a1b2c37000a000000000000001";
  e.parent_id = "0192f0a1b2c37000a000000000000002";
  e.agent_name = "research-agent";
  e.started_at = 1700000000.123456;
  e.ended_at = 1700000003.654321;
  e.duration = *e.ended_at - e.started_at;
  e.status = ExecutionStatus::failed;
  e.error = "tool exploded";
  e.error_type = "RuntimeError";
  e.kwargs = {{"query", "weather in Kyoto"}, {"max_steps", 5}, {"nested", {{"a", {1, 2, 3}}}}};

  const LlmCall call = make_llm_call();
  e.events.push_back(Event{1700000000.5, call});
  e.metrics.add(call);

  LlmCall unpriced;
  unpriced.model = "my-local-model";
  unpriced.prompt_tokens = 10;
  unpriced.completion_tokens = 20;
  unpriced.duration = 0.5;
  unpriced.priced = false;
  e.events.push_back(Event{1700000001.0, unpriced});
  e.metrics.add(unpriced);

  ToolCall ok_tool;
  ok_tool.tool_name = "search";
  ok_tool.kwargs = {{"q", "kyoto"}, {"limit", 3}};
  ok_tool.duration = 0.25;
  e.events.push_back(Event{1700000001.5, ok_tool});
  ++e.metrics.tool_calls;

  ToolCall failed_tool;
  failed_tool.tool_name = "calculator";
  failed_tool.kwargs = {{"expr", "1/0"}};
  failed_tool.duration = 0.01;
  failed_tool.success = false;
  failed_tool.error = "division by zero";
  e.events.push_back(Event{1700000002.0, failed_tool});
  ++e.metrics.tool_calls;

  MemoryOperation op;
  op.operation = "add";
  op.memory_type = "conversation";
  op.duration = 0.002;
  op.items = 4;
  op.details = {{"trimmed", false}};
  e.events.push_back(Event{1700000002.5, op});
  ++e.metrics.memory_operations;

  e.events.push_back(Event{1700000003.0, CustomEvent{"checkpoint", {{"step", 3}, {"ok", true}}}});

  e.metrics.custom.emplace("quality", 0.875);
  e.metrics.custom.emplace("label", "good");
  e.metrics.custom.emplace("reviewed", true);
  e.metrics.custom.emplace("retries", 7);
  e.tags = {{"env", "test"}, {"team", "search"}};
  return e;
}

inline void expect_same_llm_call(const telemetry::LlmCall& a, const telemetry::LlmCall& b) {
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.provider, b.provider);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.completion_tokens, b.completion_tokens);
  EXPECT_EQ(a.cached_tokens, b.cached_tokens);
  EXPECT_EQ(a.cache_write_tokens, b.cache_write_tokens);
  EXPECT_EQ(a.reasoning_tokens, b.reasoning_tokens);
  EXPECT_EQ(a.duration, b.duration);
  EXPECT_EQ(a.time_to_first_token, b.time_to_first_token);
  EXPECT_EQ(a.finish_reason, b.finish_reason);
  EXPECT_EQ(a.retries, b.retries);
  EXPECT_EQ(a.cost_nanos, b.cost_nanos);
  EXPECT_EQ(a.priced, b.priced);
}

inline void expect_same_event(const telemetry::Event& a, const telemetry::Event& b) {
  using namespace telemetry;
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.type(), b.type());
  ASSERT_EQ(a.payload.index(), b.payload.index());
  if (const auto* call = std::get_if<LlmCall>(&a.payload)) {
    expect_same_llm_call(*call, std::get<LlmCall>(b.payload));
  } else if (const auto* tool = std::get_if<ToolCall>(&a.payload)) {
    const auto& other = std::get<ToolCall>(b.payload);
    EXPECT_EQ(tool->tool_name, other.tool_name);
    EXPECT_EQ(tool->kwargs, other.kwargs);
    EXPECT_EQ(tool->duration, other.duration);
    EXPECT_EQ(tool->success, other.success);
    EXPECT_EQ(tool->error, other.error);
  } else if (const auto* op = std::get_if<MemoryOperation>(&a.payload)) {
    const auto& other = std::get<MemoryOperation>(b.payload);
    EXPECT_EQ(op->operation, other.operation);
    EXPECT_EQ(op->memory_type, other.memory_type);
    EXPECT_EQ(op->duration, other.duration);
    EXPECT_EQ(op->items, other.items);
    EXPECT_EQ(op->details, other.details);
  } else {
    const auto& custom = std::get<CustomEvent>(a.payload);
    const auto& other = std::get<CustomEvent>(b.payload);
    EXPECT_EQ(custom.type, other.type);
    EXPECT_EQ(custom.data, other.data);
  }
}

// The same number of events, each the same as its counterpart.
inline void expect_same_events(const std::vector<telemetry::Event>& a,
                               const std::vector<telemetry::Event>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("event " + std::to_string(i));
    expect_same_event(a[i], b[i]);
  }
}

inline void expect_same_execution(const telemetry::Execution& a, const telemetry::Execution& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.trace_id, b.trace_id);
  EXPECT_EQ(a.parent_id, b.parent_id);
  EXPECT_EQ(a.agent_name, b.agent_name);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.ended_at, b.ended_at);
  EXPECT_EQ(a.duration, b.duration);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.error_type, b.error_type);
  EXPECT_EQ(a.kwargs, b.kwargs);
  expect_same_events(a.events, b.events);
  if (a.events.size() != b.events.size()) return;  // a fatal failure already
  EXPECT_EQ(a.metrics.llm_calls, b.metrics.llm_calls);
  EXPECT_EQ(a.metrics.tool_calls, b.metrics.tool_calls);
  EXPECT_EQ(a.metrics.memory_operations, b.metrics.memory_operations);
  EXPECT_EQ(a.metrics.prompt_tokens, b.metrics.prompt_tokens);
  EXPECT_EQ(a.metrics.completion_tokens, b.metrics.completion_tokens);
  EXPECT_EQ(a.metrics.cached_tokens, b.metrics.cached_tokens);
  EXPECT_EQ(a.metrics.reasoning_tokens, b.metrics.reasoning_tokens);
  EXPECT_EQ(a.metrics.unpriced_llm_calls, b.metrics.unpriced_llm_calls);
  EXPECT_EQ(a.metrics.cost_nanos, b.metrics.cost_nanos);
  EXPECT_EQ(a.metrics.custom, b.metrics.custom);
  EXPECT_EQ(a.tags, b.tags);
}

}  // namespace kagura::test
