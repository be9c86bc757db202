#include "kagura/telemetry/execution.hpp"

#include <stdexcept>
#include <string>

namespace kagura::telemetry {

std::string_view to_string(ExecutionStatus status) noexcept {
  switch (status) {
    case ExecutionStatus::running:
      return "running";
    case ExecutionStatus::completed:
      return "completed";
    case ExecutionStatus::failed:
      return "failed";
  }
  return "running";
}

ExecutionStatus parse_execution_status(std::string_view text) {
  if (text == "running") return ExecutionStatus::running;
  if (text == "completed") return ExecutionStatus::completed;
  if (text == "failed") return ExecutionStatus::failed;
  throw std::invalid_argument("unknown execution status '" + std::string(text) +
                              "': expected running, completed or failed");
}

std::string_view Event::type() const noexcept {
  struct Visitor {
    std::string_view operator()(const LlmCall&) const { return "llm_call"; }
    std::string_view operator()(const ToolCall&) const { return "tool_call"; }
    std::string_view operator()(const MemoryOperation&) const { return "memory_operation"; }
    std::string_view operator()(const CustomEvent& custom) const { return custom.type; }
  };
  return std::visit(Visitor{}, payload);
}

void Metrics::add(const LlmCall& call) noexcept {
  ++llm_calls;
  prompt_tokens += call.prompt_tokens;
  completion_tokens += call.completion_tokens;
  cached_tokens += call.cached_tokens;
  reasoning_tokens += call.reasoning_tokens;
  cost_nanos += call.cost_nanos;
  if (!call.priced) ++unpriced_llm_calls;
}

const std::string& Execution::primary_model() const noexcept {
  static const std::string kNone;
  for (const auto& event : events) {
    if (const auto* call = std::get_if<LlmCall>(&event.payload)) return call->model;
  }
  return kNone;
}

}  // namespace kagura::telemetry
