#pragma once

// The content of the reliability suite's executions, derived from a key (process, thread,
// sequence): agent name, arguments, an LLM call's token counts, a tool call's name and
// arguments, a custom metric and a tag. An execution whose parts were mixed up with another's
// (a torn write, a batch assembled wrongly, rows of two writers crossed) no longer matches its
// own key, which check_key_content() reports.

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "kagura/telemetry/collector.hpp"
#include "kagura/telemetry/execution.hpp"

namespace kagura::test {

struct ReliabilityKey {
  int process = 0;
  int thread = 0;
  long sequence = 0;

  std::string text() const { return fmt::format("{}/{}/{}", process, thread, sequence); }
  std::string agent_name() const { return fmt::format("agent-p{}-t{}", process, thread); }
  std::string tool_name() const { return fmt::format("tool-{}-{}-{}", process, thread, sequence); }
  std::int64_t prompt_tokens() const { return std::int64_t{process} * 1000 + thread + 1; }
  std::int64_t completion_tokens() const { return sequence + 1; }
  nlohmann::json kwargs() const {
    return {{"key", text()}, {"p", process}, {"t", thread}, {"s", sequence}};
  }
};

inline void record_key_content(telemetry::ExecutionScope& scope, const ReliabilityKey& key) {
  scope.record_llm_call({.model = "gpt-4o-mini",
                         .prompt_tokens = key.prompt_tokens(),
                         .completion_tokens = key.completion_tokens(),
                         .duration = 0.001});
  scope.record_tool_call({.tool_name = key.tool_name(), .kwargs = {{"key", key.text()}}});
  scope.record_metric("sequence", key.sequence);
  scope.add_tag("key", key.text());
}

// The key an execution was recorded with, if its arguments carry one.
inline std::optional<ReliabilityKey> key_of(const telemetry::Execution& e) {
  if (!e.kwargs.is_object() || !e.kwargs.contains("p") || !e.kwargs.contains("t") ||
      !e.kwargs.contains("s")) {
    return std::nullopt;
  }
  return ReliabilityKey{e.kwargs["p"].get<int>(), e.kwargs["t"].get<int>(),
                        e.kwargs["s"].get<long>()};
}

// Empty when every part of the execution belongs to its key; else what does not.
inline std::string check_key_content(const telemetry::Execution& e) {
  const auto key = key_of(e);
  if (!key) return "execution " + e.id + " has no key in its arguments";
  const std::string where = "execution " + e.id + " (key " + key->text() + "): ";
  if (e.kwargs != key->kwargs()) return where + "arguments " + e.kwargs.dump();
  if (e.agent_name != key->agent_name()) return where + "agent " + e.agent_name;
  if (e.status != telemetry::ExecutionStatus::completed) return where + "not completed";
  if (e.events.size() != 2) return where + std::to_string(e.events.size()) + " events";
  const auto* llm = std::get_if<telemetry::LlmCall>(&e.events[0].payload);
  if (llm == nullptr || llm->prompt_tokens != key->prompt_tokens() ||
      llm->completion_tokens != key->completion_tokens()) {
    return where + "LLM call of another execution";
  }
  const auto* tool = std::get_if<telemetry::ToolCall>(&e.events[1].payload);
  if (tool == nullptr || tool->tool_name != key->tool_name() ||
      tool->kwargs != nlohmann::json{{"key", key->text()}}) {
    return where + "tool call of another execution";
  }
  if (e.metrics.prompt_tokens != key->prompt_tokens() ||
      e.metrics.completion_tokens != key->completion_tokens() || e.metrics.llm_calls != 1 ||
      e.metrics.tool_calls != 1) {
    return where + "metrics of another execution";
  }
  const auto custom = e.metrics.custom.find("sequence");
  if (custom == e.metrics.custom.end() || custom->second != key->sequence) {
    return where + "custom metric of another execution";
  }
  const auto tag = e.tags.find("key");
  if (tag == e.tags.end() || tag->second != key->text()) return where + "tag of another execution";
  return {};
}

}  // namespace kagura::test
