#pragma once

// Serialisation of records to JSON text on the writer thread. It streams through RapidJSON's
// SAX writer instead of building an nlohmann DOM first: building the DOM for the events of one
// execution costs more than the SQLite insert it feeds, and the writer thread has a budget of
// a few microseconds per execution.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/telemetry/execution.hpp"

namespace kagura::telemetry::detail {

// Each function replaces the content of `out`.
void write_events_json(const std::vector<Event>& events, std::string& out);
void write_value_json(const nlohmann::json& value, std::string& out);
void write_metrics_json(const Metrics& metrics, std::string& out);
void write_tags_json(const std::map<std::string, std::string, std::less<>>& tags, std::string& out);
void write_execution_json(const Execution& execution, std::string& out);

// The storage encoding of events: one JSON array per event with its fields by position, about
// a third of the size of the record form, because row size sets a store's ingest rate.
//   ["l", timestamp, model, provider, prompt_tokens, completion_tokens, cached_tokens,
//    cache_write_tokens, reasoning_tokens, duration, time_to_first_token, finish_reason,
//    retries, cost_nanos, priced]
//   ["t", timestamp, tool_name, kwargs, duration, success, error]
//   ["m", timestamp, operation, memory_type, duration, items, details]
//   ["c", timestamp, type, data]
void write_events_storage(const std::vector<Event>& events, std::string& out);
std::vector<Event> parse_events_storage(std::string_view text);

// Inverse of the writers; throw std::invalid_argument naming the malformed field.
std::vector<Event> parse_events_json(std::string_view text);
Metrics parse_metrics_json(std::string_view text);
std::map<std::string, std::string, std::less<>> parse_tags_json(std::string_view text);
Event event_from_json(const nlohmann::json& json);
Metrics metrics_from_json(const nlohmann::json& json);

// Serialises the JSON columns of a whole batch of rows into one buffer: one allocation that is
// kept from batch to batch, instead of a string per column per row that one thread allocates
// and another frees.
class JsonArena {
 public:
  // Where a value lies in the buffer; offsets stay valid while the buffer grows.
  struct Slice {
    std::size_t offset = 0;
    std::size_t size = 0;
  };

  JsonArena();
  void clear();
  // Plain text, not JSON: for columns the rows bind as they are.
  Slice append_text(std::string_view text);
  Slice append_value(const nlohmann::json& value);
  Slice append_events_storage(const std::vector<Event>& events);
  Slice append_custom_metrics(const std::map<std::string, nlohmann::json, std::less<>>& custom);
  Slice append_tags(const std::map<std::string, std::string, std::less<>>& tags);
  // Valid until the next append or clear().
  std::string_view view(Slice slice) const noexcept {
    return {buffer_.GetString() + slice.offset, slice.size};
  }

 private:
  template <typename Fn>
  Slice append(Fn&& fn);

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// Replaces malformed UTF-8 sequences with U+FFFD so that every string we store is valid JSON.
bool is_valid_utf8(std::string_view text) noexcept;
std::string sanitize_utf8(std::string_view text);

}  // namespace kagura::telemetry::detail
