#include "storage/postgres/rows.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <cstdlib>

#include "telemetry/execution_json.hpp"

namespace kagura::storage::postgres_detail {

using telemetry::Execution;

// json, not jsonb, for the parameter: it is only unpacked, and json skips the normalisation
// jsonb would do to the whole batch before the columns cast their own parts.
const char* const kInsertSql =
    "INSERT INTO executions (id, trace_id, parent_id, agent_name, started_at, duration, status, "
    "error, error_type, model, llm_calls, tool_calls, memory_operations, prompt_tokens, "
    "completion_tokens, cached_tokens, reasoning_tokens, unpriced_llm_calls, cost_nanos, kwargs, "
    "events, custom_metrics, tags) "
    "SELECT r->>0, r->>1, nullif(r->>2, ''), r->>3, (r->>4)::float8, (r->>5)::float8, r->>6, "
    "nullif(r->>7, ''), nullif(r->>8, ''), nullif(r->>9, ''), (r->>10)::bigint, "
    "(r->>11)::bigint, (r->>12)::bigint, (r->>13)::bigint, (r->>14)::bigint, (r->>15)::bigint, "
    "(r->>16)::bigint, (r->>17)::bigint, (r->>18)::bigint, (r->19)::jsonb, (r->20)::jsonb, "
    "nullif((r->21)::jsonb, 'null'), nullif((r->22)::jsonb, 'null') "
    "FROM json_array_elements($1::json) AS r "
    "ON CONFLICT (id) DO NOTHING";

const char* const kRecordColumns =
    "id, trace_id, parent_id, agent_name, started_at, duration, status, error, error_type, "
    "llm_calls, tool_calls, memory_operations, prompt_tokens, completion_tokens, cached_tokens, "
    "reasoning_tokens, unpriced_llm_calls, cost_nanos, kwargs, custom_metrics, tags";
const char* const kRecordColumnsWithEvents =
    "id, trace_id, parent_id, agent_name, started_at, duration, status, error, error_type, "
    "llm_calls, tool_calls, memory_operations, prompt_tokens, completion_tokens, cached_tokens, "
    "reasoning_tokens, unpriced_llm_calls, cost_nanos, kwargs, custom_metrics, tags, events";

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// PostgreSQL text holds no NUL and the writer does not check UTF-8, so text is made safe first.
void put_text(Writer& w, const std::string& text) {
  if (telemetry::detail::is_valid_utf8(text) && text.find('\0') == std::string::npos) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return;
  }
  std::string clean = telemetry::detail::sanitize_utf8(text);
  std::erase(clean, '\0');
  w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
}

void put_raw(Writer& w, std::string_view json, rapidjson::Type type) {
  w.RawValue(json.data(), json.size(), type);
}

}  // namespace

void EncodedBatch::encode(std::span<const Execution* const> batch) {
  text_.clear();
  starts_.clear();
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  telemetry::detail::JsonArena arena;
  for (const Execution* execution : batch) {
    const Execution& e = *execution;
    arena.clear();
    const auto kwargs = arena.append_value(e.kwargs);
    const auto events = arena.append_events_storage(e.events);
    const auto custom = e.metrics.custom.empty() ? telemetry::detail::JsonArena::Slice{}
                                                 : arena.append_custom_metrics(e.metrics.custom);
    const auto tags =
        e.tags.empty() ? telemetry::detail::JsonArena::Slice{} : arena.append_tags(e.tags);

    buffer.Clear();
    w.Reset(buffer);
    w.StartArray();
    put_text(w, e.id);
    put_text(w, e.trace_id.empty() ? e.id : e.trace_id);
    put_text(w, e.parent_id);
    put_text(w, e.agent_name);
    w.Double(e.started_at);
    std::optional<double> duration = e.duration;
    if (!duration && e.ended_at) duration = *e.ended_at - e.started_at;
    if (duration) {
      w.Double(*duration);
    } else {
      w.Null();
    }
    const auto status = telemetry::to_string(e.status);
    w.String(status.data(), static_cast<rapidjson::SizeType>(status.size()));
    put_text(w, e.error);
    put_text(w, e.error_type);
    put_text(w, e.primary_model());
    const auto& m = e.metrics;
    for (const std::int64_t count :
         {m.llm_calls, m.tool_calls, m.memory_operations, m.prompt_tokens, m.completion_tokens,
          m.cached_tokens, m.reasoning_tokens, m.unpriced_llm_calls, m.cost_nanos}) {
      w.Int64(count);
    }
    put_raw(w, arena.view(kwargs), rapidjson::kObjectType);
    put_raw(w, arena.view(events), rapidjson::kArrayType);
    if (custom.size == 0) {
      w.Null();
    } else {
      put_raw(w, arena.view(custom), rapidjson::kObjectType);
    }
    if (tags.size == 0) {
      w.Null();
    } else {
      put_raw(w, arena.view(tags), rapidjson::kObjectType);
    }
    w.EndArray();

    if (!text_.empty()) text_ += ',';
    starts_.push_back(text_.size());
    text_.append(buffer.GetString(), buffer.GetSize());
  }
}

std::string EncodedBatch::parameter(std::size_t first) const {
  std::string json = "[";
  if (first < starts_.size()) json.append(text_, starts_[first]);
  json += ']';
  return json;
}

std::string double_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

double parse_double(const pqxx::field& field) {
  return std::strtod(field.c_str(), nullptr);
}

std::int64_t parse_int(const pqxx::field& field) {
  return field.is_null() ? 0 : std::strtoll(field.c_str(), nullptr, 10);
}

Execution read_execution(const pqxx::row& row, bool with_events) {
  const auto text = [&](int i) {
    return row[i].is_null() ? std::string() : std::string(row[i].c_str(), row[i].size());
  };
  Execution e;
  e.id = text(0);
  e.trace_id = text(1);
  e.parent_id = text(2);
  e.agent_name = text(3);
  e.started_at = parse_double(row[4]);
  if (!row[5].is_null()) {
    e.duration = parse_double(row[5]);
    e.ended_at = e.started_at + *e.duration;
  }
  e.status = telemetry::parse_execution_status(text(6));
  e.error = text(7);
  e.error_type = text(8);
  auto& m = e.metrics;
  m.llm_calls = parse_int(row[9]);
  m.tool_calls = parse_int(row[10]);
  m.memory_operations = parse_int(row[11]);
  m.prompt_tokens = parse_int(row[12]);
  m.completion_tokens = parse_int(row[13]);
  m.cached_tokens = parse_int(row[14]);
  m.reasoning_tokens = parse_int(row[15]);
  m.unpriced_llm_calls = parse_int(row[16]);
  m.cost_nanos = parse_int(row[17]);
  e.kwargs = nlohmann::json::parse(text(18));
  if (!row[19].is_null()) {
    // Named, not a temporary in the range-for: items() refers into the parsed object.
    const auto metrics = nlohmann::json::parse(text(19));
    for (const auto& [name, value] : metrics.items()) m.custom.emplace(name, value);
  }
  if (!row[20].is_null()) e.tags = telemetry::detail::parse_tags_json(text(20));
  if (with_events) e.events = telemetry::detail::parse_events_storage(text(21));
  return e;
}

}  // namespace kagura::storage::postgres_detail
