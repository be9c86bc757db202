#pragma once

// What an execution records, appended in order to one buffer: its events, and what is set on
// the execution itself (arguments, failure, custom metrics, tags). The running execution keeps
// it in memory the agent's thread reuses from one execution to the next; as the execution ends
// it is copied into the record the sink receives, and replayed into the Execution when that is
// completed: on the thread of the sink that takes it, when that sink takes incomplete
// executions (the asynchronous writer's encoder), else at its end on the agent's thread.
//
// Why: the agent's thread comes back from every LLM call's network wait with cold caches.
// Writing the Execution's strings, events and argument trees in place meant some thirty
// scattered cache lines, most reached through a pointer loaded from another cold line; appending
// here writes a few consecutive ones. (docs/benchmarks.md, Step 2.)

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "kagura/telemetry/collector.hpp"
#include "kagura/telemetry/execution.hpp"
#include "telemetry/byte_buffer.hpp"

namespace kagura::telemetry::detail {

class RecordJournal {
 public:
  using IsSecret = bool (*)(std::string_view key);

  // The numbers of an LLM call, as appended.
  struct LlmNumbers {
    double timestamp = 0;
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t cached_tokens = 0;
    std::int64_t cache_write_tokens = 0;
    std::int64_t reasoning_tokens = 0;
    double duration = 0;
    double time_to_first_token = 0;
    NanoUsd cost_nanos = 0;
    std::int32_t retries = 0;
    bool has_time_to_first_token = false;
    bool priced = true;
  };
  struct LlmCallEntry {
    LlmNumbers numbers;
    std::string_view model, provider, finish_reason;
  };
  struct ToolNumbers {
    double timestamp = 0;
    double duration = 0;
    bool success = true;
  };
  struct ToolCallEntry {
    ToolNumbers numbers;
    std::string_view tool_name, error;
    nlohmann::json arguments;  // null when the arguments filter threw
  };

  struct MemoryNumbers {
    double timestamp = 0;
    double duration = 0;
    std::int64_t items = 0;
  };
  struct MemoryOperationEntry {
    MemoryNumbers numbers;
    std::string_view operation, memory_type;
    nlohmann::json details;
  };
  struct CustomEventEntry {
    double timestamp = 0;
    std::string_view type;
    nlohmann::json data;
  };

  void clear() noexcept { bytes_.clear(); }
  bool empty() const noexcept { return bytes_.empty(); }

  void add_agent_name(std::string_view name);
  // The execution's arguments; nullptr when the filter threw (recorded as null). Members whose
  // key redact.is_secret flags are recorded as "[REDACTED]".
  void add_arguments(const nlohmann::json* arguments, RedactKeys redact = {});
  void add_llm_call(const LlmNumbers& numbers, const LlmCallInfo& info);
  // The tool's arguments; nullptr when the filter threw (recorded as null).
  void add_tool_call(const ToolNumbers& numbers, const ToolCallInfo& info,
                     const nlohmann::json* arguments, RedactKeys redact = {});

  void add_memory_operation(const MemoryNumbers& numbers, const MemoryOperationInfo& info);
  void add_custom_event(double timestamp, std::string_view type, const nlohmann::json& data);

  // What a scope or a caller sets on the execution itself, in order with its events.
  struct FailureEntry {
    std::string_view message, error_type;
    bool unless_failed;  // the scope's own failure: an earlier one's message is kept
  };
  struct MetricEntry {
    std::string_view name;
    nlohmann::json value;
  };
  struct TagEntry {
    std::string_view key, value;
  };

  void add_failure(std::string_view message, std::string_view error_type, bool unless_failed);
  void add_metric(std::string_view name, const nlohmann::json& value);
  void add_tag(std::string_view key, std::string_view value);

  // This journal becomes a copy of `other`, in the memory it already has.
  void assign(const RecordJournal& other) { bytes_.assign(other.bytes_); }

  // Calls, for each entry in the order they were added, the visitor's agent_name(string_view),
  // arguments(json), llm_call(const LlmCallEntry&), tool_call(ToolCallEntry&&),
  // memory_operation(MemoryOperationEntry&&), custom_event(CustomEventEntry&&),
  // failure(const FailureEntry&), metric(MetricEntry&&) or tag(const TagEntry&).
  template <typename Visitor>
  void replay(Visitor& visitor) const {
    Reader reader{bytes_.data(), bytes_.data() + bytes_.size()};
    while (!reader.done()) {
      switch (static_cast<Kind>(reader.byte())) {
        case Kind::agent_name:
          visitor.agent_name(reader.text());
          break;
        case Kind::arguments: {
          const auto is_secret = reader.secret_test();
          visitor.arguments(reader.json(is_secret));
          break;
        }
        case Kind::llm_call: {
          LlmCallEntry entry;
          reader.copy(entry.numbers);
          entry.model = reader.text();
          entry.provider = reader.text();
          entry.finish_reason = reader.text();
          visitor.llm_call(entry);
          break;
        }
        case Kind::tool_call: {
          ToolCallEntry entry;
          reader.copy(entry.numbers);
          entry.tool_name = reader.text();
          entry.error = reader.text();
          const auto is_secret = reader.secret_test();
          entry.arguments = reader.json(is_secret);
          visitor.tool_call(std::move(entry));
          break;
        }
        case Kind::memory_operation: {
          MemoryOperationEntry entry;
          reader.copy(entry.numbers);
          entry.operation = reader.text();
          entry.memory_type = reader.text();
          entry.details = reader.json();
          visitor.memory_operation(std::move(entry));
          break;
        }
        case Kind::custom_event: {
          CustomEventEntry entry;
          reader.copy(entry.timestamp);
          entry.type = reader.text();
          entry.data = reader.json();
          visitor.custom_event(std::move(entry));
          break;
        }
        case Kind::failure: {
          FailureEntry entry{};
          entry.unless_failed = reader.byte() != 0;
          entry.message = reader.text();
          entry.error_type = reader.text();
          visitor.failure(entry);
          break;
        }
        case Kind::metric: {
          MetricEntry entry;
          entry.name = reader.text();
          entry.value = reader.json();
          visitor.metric(std::move(entry));
          break;
        }
        case Kind::tag: {
          TagEntry entry;
          entry.key = reader.text();
          entry.value = reader.text();
          visitor.tag(entry);
          break;
        }
      }
    }
  }

 private:
  enum class Kind : std::uint8_t {
    agent_name,
    arguments,
    llm_call,
    tool_call,
    memory_operation,
    custom_event,
    failure,
    metric,
    tag
  };

  // Entries are read back by this class from bytes it wrote, so the reader trusts them.
  struct Reader {
    const std::uint8_t* at;
    const std::uint8_t* end;
    bool done() const noexcept { return at == end; }
    std::uint8_t byte() noexcept { return *at++; }
    template <typename T>
    void copy(T& value) noexcept {
      std::memcpy(&value, at, sizeof value);
      at += sizeof value;
    }
    std::string_view text() noexcept {
      std::uint32_t size = 0;
      copy(size);
      const std::string_view view(reinterpret_cast<const char*>(at), size);
      at += size;
      return view;
    }
    // The value of each object member whose key is_secret flags is read as "[REDACTED]".
    nlohmann::json json(IsSecret is_secret = nullptr);
    IsSecret secret_test() noexcept {
      IsSecret is_secret = nullptr;
      copy(is_secret);
      return is_secret;
    }
  };

  void put_kind(Kind kind) { bytes_.push_back(static_cast<std::uint8_t>(kind)); }
  template <typename T>
  void put(const T& value) {
    bytes_.append(&value, sizeof value);
  }
  void put_text(std::string_view text);
  // A JSON value in a compact binary form of this class's own (a byte of type, then the value
  // as it is in memory: integers, floats and binary stay exact, which text would not keep),
  // written straight into the buffer. Strings longer than kMaxRecordedValueBytes are cut at a
  // UTF-8 character boundary and end with "...[truncated N bytes]". nullptr: recorded as null.
  void put_json(const nlohmann::json* value);
  void put_value(const nlohmann::json& value);
  // A JSON value whose secrets replay() redacts: the test goes with it, so that redaction
  // runs where the record is written, off the agent's thread when the sink allows.
  void put_json(const nlohmann::json* value, RedactKeys redact) {
    put(redact.is_secret);
    put_json(value);
  }

  ByteBuffer bytes_;
};

}  // namespace kagura::telemetry::detail
