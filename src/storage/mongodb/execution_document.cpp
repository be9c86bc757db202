#include "storage/mongodb/execution_document.hpp"

#include <stdexcept>

#include "storage/aggregate.hpp"

namespace kagura::storage::mongo_detail {
namespace {

using telemetry::detail::JsonArena;

// BSON strings must be valid UTF-8, and a server rejects a document that is not.
void append_text(bson_t* out, const char* key, std::string_view text) {
  if (telemetry::detail::is_valid_utf8(text)) {
    bson_append_utf8(out, key, -1, text.data(), static_cast<int>(text.size()));
  } else {
    const std::string clean = telemetry::detail::sanitize_utf8(text);
    bson_append_utf8(out, key, -1, clean.data(), static_cast<int>(clean.size()));
  }
}

void append_json(bson_t* out, const char* key, const JsonArena& arena, JsonArena::Slice slice) {
  append_text(out, key, arena.view(slice));
}

bool find(const bson_t* document, const char* key, bson_iter_t& iter) {
  return bson_iter_init_find(&iter, document, key);
}

bool is_number(const bson_iter_t& iter) {
  const auto type = bson_iter_type(&iter);
  return type == BSON_TYPE_DOUBLE || type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64;
}

}  // namespace

double number_or(const bson_t* document, const char* key, double fallback) {
  bson_iter_t iter;
  if (!find(document, key, iter) || !is_number(iter)) return fallback;
  return bson_iter_type(&iter) == BSON_TYPE_DOUBLE ? bson_iter_double(&iter)
                                                   : static_cast<double>(bson_iter_as_int64(&iter));
}

std::int64_t integer_or(const bson_t* document, const char* key, std::int64_t fallback) {
  bson_iter_t iter;
  if (!find(document, key, iter) || !is_number(iter)) return fallback;
  return bson_iter_as_int64(&iter);
}

std::string text_or(const bson_t* document, const char* key, std::string fallback) {
  bson_iter_t iter;
  if (!find(document, key, iter) || bson_iter_type(&iter) != BSON_TYPE_UTF8) return fallback;
  std::uint32_t length = 0;
  const char* text = bson_iter_utf8(&iter, &length);
  return {text, length};
}

void encode_execution(const telemetry::Execution& e, JsonArena& arena, bson_t* out) {
  append_text(out, field::kId, e.id);
  append_text(out, field::kTraceId, e.trace_id);
  append_text(out, field::kParentId, e.parent_id);
  append_text(out, field::kAgent, e.agent_name);
  BSON_APPEND_DOUBLE(out, field::kStartedAt, e.started_at);
  std::optional<double> duration = e.duration;
  if (!duration && e.ended_at) duration = *e.ended_at - e.started_at;
  if (duration) BSON_APPEND_DOUBLE(out, field::kDuration, *duration);
  BSON_APPEND_INT32(out, field::kHasDuration, duration ? 1 : 0);
  append_text(out, field::kStatus, telemetry::to_string(e.status));
  append_text(out, field::kDay, detail::utc_day(detail::bucket_of(e.started_at)));
  append_text(out, "error", e.error);
  append_text(out, "error_type", e.error_type);
  append_text(out, "model", e.primary_model());
  const auto& m = e.metrics;
  BSON_APPEND_INT64(out, "llm_calls", m.llm_calls);
  BSON_APPEND_INT64(out, "tool_calls", m.tool_calls);
  BSON_APPEND_INT64(out, "memory_operations", m.memory_operations);
  BSON_APPEND_INT64(out, "prompt_tokens", m.prompt_tokens);
  BSON_APPEND_INT64(out, "completion_tokens", m.completion_tokens);
  BSON_APPEND_INT64(out, "cached_tokens", m.cached_tokens);
  BSON_APPEND_INT64(out, "reasoning_tokens", m.reasoning_tokens);
  BSON_APPEND_INT64(out, "unpriced_llm_calls", m.unpriced_llm_calls);
  BSON_APPEND_INT64(out, "cost_nanos", m.cost_nanos);

  bson_t calls;
  BSON_APPEND_ARRAY_BEGIN(out, field::kLlm, &calls);
  std::uint32_t index = 0;
  for (const auto& event : e.events) {
    const auto* call = std::get_if<telemetry::LlmCall>(&event.payload);
    if (call == nullptr) continue;
    const char* key = nullptr;
    char key_buffer[16];
    bson_uint32_to_string(index++, &key, key_buffer, sizeof key_buffer);
    bson_t doc;
    BSON_APPEND_DOCUMENT_BEGIN(&calls, key, &doc);
    append_text(&doc, "model", call->model);
    BSON_APPEND_INT64(&doc, "prompt_tokens", call->prompt_tokens);
    BSON_APPEND_INT64(&doc, "completion_tokens", call->completion_tokens);
    BSON_APPEND_INT64(&doc, "cached_tokens", call->cached_tokens);
    BSON_APPEND_INT64(&doc, "reasoning_tokens", call->reasoning_tokens);
    BSON_APPEND_INT32(&doc, "unpriced", call->priced ? 0 : 1);
    BSON_APPEND_INT64(&doc, "cost_nanos", call->cost_nanos);
    bson_append_document_end(&calls, &doc);
  }
  bson_append_array_end(out, &calls);

  arena.clear();
  append_json(out, "kwargs", arena, arena.append_value(e.kwargs));
  arena.clear();
  append_json(out, "events", arena, arena.append_events_storage(e.events));
  if (!m.custom.empty()) {
    arena.clear();
    append_json(out, "custom_metrics", arena, arena.append_custom_metrics(m.custom));
  }
  if (!e.tags.empty()) {
    arena.clear();
    append_json(out, "tags", arena, arena.append_tags(e.tags));
  }
}

telemetry::Execution decode_execution(const bson_t* d, bool with_events) {
  telemetry::Execution e;
  e.id = text_or(d, field::kId);
  if (e.id.empty()) throw std::invalid_argument("document without an execution_id");
  e.trace_id = text_or(d, field::kTraceId, e.id);
  e.parent_id = text_or(d, field::kParentId);
  e.agent_name = text_or(d, field::kAgent);
  e.started_at = number_or(d, field::kStartedAt, 0.0);
  if (integer_or(d, field::kHasDuration, 0) != 0) {
    e.duration = number_or(d, field::kDuration, 0.0);
    e.ended_at = e.started_at + *e.duration;
  }
  e.status = telemetry::parse_execution_status(text_or(d, field::kStatus, "running"));
  e.error = text_or(d, "error");
  e.error_type = text_or(d, "error_type");
  auto& m = e.metrics;
  m.llm_calls = integer_or(d, "llm_calls", 0);
  m.tool_calls = integer_or(d, "tool_calls", 0);
  m.memory_operations = integer_or(d, "memory_operations", 0);
  m.prompt_tokens = integer_or(d, "prompt_tokens", 0);
  m.completion_tokens = integer_or(d, "completion_tokens", 0);
  m.cached_tokens = integer_or(d, "cached_tokens", 0);
  m.reasoning_tokens = integer_or(d, "reasoning_tokens", 0);
  m.unpriced_llm_calls = integer_or(d, "unpriced_llm_calls", 0);
  m.cost_nanos = integer_or(d, "cost_nanos", 0);
  e.kwargs = nlohmann::json::parse(text_or(d, "kwargs", "{}"));
  if (const auto custom = text_or(d, "custom_metrics"); !custom.empty()) {
    const auto metrics = nlohmann::json::parse(custom);
    for (const auto& [name, value] : metrics.items()) m.custom.emplace(name, value);
  }
  if (const auto tags = text_or(d, "tags"); !tags.empty()) {
    e.tags = telemetry::detail::parse_tags_json(tags);
  }
  if (with_events) e.events = telemetry::detail::parse_events_storage(text_or(d, "events", "[]"));
  return e;
}

}  // namespace kagura::storage::mongo_detail
