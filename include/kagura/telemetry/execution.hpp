#pragma once

// The record of one agent execution, shaped like RFC-030's records so that a JSON export of
// a Kagura C++ store reads like one of the Python original's.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kagura::telemetry {

enum class ExecutionStatus { running, completed, failed };

std::string_view to_string(ExecutionStatus status) noexcept;
// Throws std::invalid_argument naming the accepted values.
ExecutionStatus parse_execution_status(std::string_view text);

// Costs are kept as whole nano-dollars so that sums over millions of calls stay exact to the
// cent; the JSON form shows US dollars as in the RFC.
using NanoUsd = std::int64_t;
inline double nano_usd_to_usd(NanoUsd nanos) noexcept {
  return static_cast<double>(nanos) / 1e9;
}

struct LlmCall {
  std::string model;
  std::string provider;                 // empty when unknown
  std::int64_t prompt_tokens = 0;       // includes cached_tokens (OpenAI's convention)
  std::int64_t completion_tokens = 0;   // includes reasoning_tokens
  std::int64_t cached_tokens = 0;       // prompt tokens served from the provider's cache
  std::int64_t cache_write_tokens = 0;  // prompt tokens written to the cache (Anthropic)
  std::int64_t reasoning_tokens = 0;
  double duration = 0.0;                      // seconds
  std::optional<double> time_to_first_token;  // seconds, streaming only
  std::string finish_reason;
  int retries = 0;
  NanoUsd cost_nanos = 0;
  bool priced = true;  // false: the model is not in the price table and cost_nanos is 0

  std::int64_t total_tokens() const noexcept { return prompt_tokens + completion_tokens; }
};

struct ToolCall {
  std::string tool_name;
  nlohmann::json kwargs = nlohmann::json::object();
  double duration = 0.0;
  bool success = true;
  std::string error;
};

struct MemoryOperation {
  std::string operation;  // add, read, trim, clear, ...
  std::string memory_type;
  double duration = 0.0;
  std::int64_t items = 0;
  nlohmann::json details;  // null when absent
};

struct CustomEvent {
  std::string type;
  nlohmann::json data = nlohmann::json::object();
};

struct Event {
  double timestamp = 0.0;  // Unix seconds
  std::variant<LlmCall, ToolCall, MemoryOperation, CustomEvent> payload;

  std::string_view type() const noexcept;
};

struct Metrics {
  std::int64_t llm_calls = 0;
  std::int64_t tool_calls = 0;
  std::int64_t memory_operations = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t unpriced_llm_calls = 0;
  NanoUsd cost_nanos = 0;
  // Metrics recorded by the user with record_metric(); names never collide with the above
  // because record_metric() refuses the built-in names.
  std::map<std::string, nlohmann::json, std::less<>> custom;

  std::int64_t total_tokens() const noexcept { return prompt_tokens + completion_tokens; }
  double total_cost() const noexcept { return nano_usd_to_usd(cost_nanos); }

  void add(const LlmCall& call) noexcept;
};

struct Execution {
  std::string id;         // 32 hex digits, UUIDv7 layout: sorts by start time
  std::string trace_id;   // the root execution's id
  std::string parent_id;  // empty for a root execution
  std::string agent_name;
  double started_at = 0.0;  // Unix seconds
  std::optional<double> ended_at;
  std::optional<double> duration;  // seconds
  ExecutionStatus status = ExecutionStatus::running;
  std::string error;
  std::string error_type;
  nlohmann::json kwargs = nlohmann::json::object();
  std::vector<Event> events;
  Metrics metrics;
  std::map<std::string, std::string, std::less<>> tags;

  // The model of the first LLM call, shown in lists; empty when there was none.
  const std::string& primary_model() const noexcept;
};

// JSON in the RFC's shape: {"id", "trace_id", "parent_id", "agent_name", "started_at",
// "ended_at", "duration", "status", "error", "kwargs", "events": [{"type", "timestamp",
// "data"}], "metrics": {...}, "tags": {...}}.
nlohmann::json to_json(const Execution& execution);
nlohmann::json to_json(const Event& event);
// Throws std::invalid_argument saying which field is missing or malformed.
Execution execution_from_json(const nlohmann::json& json);

}  // namespace kagura::telemetry
