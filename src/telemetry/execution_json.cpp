#include "telemetry/execution_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace kagura::telemetry::detail {
namespace {

using Buffer = rapidjson::StringBuffer;
using Writer = rapidjson::Writer<Buffer>;

void put_string(Writer& writer, std::string_view text) {
  if (is_valid_utf8(text)) {
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  } else {
    const std::string clean = sanitize_utf8(text);
    writer.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
  }
}

void put_key(Writer& writer, std::string_view key) {
  put_string(writer, key);
}

void put_double(Writer& writer, double value) {
  if (std::isfinite(value)) {
    writer.Double(value);
  } else {
    writer.Null();  // JSON has no NaN or infinity
  }
}

void put_value(Writer& writer, const nlohmann::json& value) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::null:
    case Type::discarded:
      writer.Null();
      break;
    case Type::boolean:
      writer.Bool(value.get<bool>());
      break;
    case Type::number_integer:
      writer.Int64(value.get<std::int64_t>());
      break;
    case Type::number_unsigned:
      writer.Uint64(value.get<std::uint64_t>());
      break;
    case Type::number_float:
      put_double(writer, value.get<double>());
      break;
    case Type::string:
      put_string(writer, value.get_ref<const std::string&>());
      break;
    case Type::binary:
      writer.Null();
      break;
    case Type::array:
      writer.StartArray();
      for (const auto& item : value) put_value(writer, item);
      writer.EndArray();
      break;
    case Type::object:
      writer.StartObject();
      // The underlying map, not items(): the iteration proxy costs more than the writing.
      for (const auto& [key, item] : value.get_ref<const nlohmann::json::object_t&>()) {
        put_key(writer, key);
        put_value(writer, item);
      }
      writer.EndObject();
      break;
  }
}

void put_llm_call(Writer& w, const LlmCall& call) {
  w.StartObject();
  put_key(w, "model");
  put_string(w, call.model);
  if (!call.provider.empty()) {
    put_key(w, "provider");
    put_string(w, call.provider);
  }
  put_key(w, "prompt_tokens");
  w.Int64(call.prompt_tokens);
  put_key(w, "completion_tokens");
  w.Int64(call.completion_tokens);
  put_key(w, "total_tokens");
  w.Int64(call.total_tokens());
  put_key(w, "cached_tokens");
  w.Int64(call.cached_tokens);
  if (call.cache_write_tokens != 0) {
    put_key(w, "cache_write_tokens");
    w.Int64(call.cache_write_tokens);
  }
  put_key(w, "reasoning_tokens");
  w.Int64(call.reasoning_tokens);
  put_key(w, "duration");
  put_double(w, call.duration);
  if (call.time_to_first_token) {
    put_key(w, "time_to_first_token");
    put_double(w, *call.time_to_first_token);
  }
  if (!call.finish_reason.empty()) {
    put_key(w, "finish_reason");
    put_string(w, call.finish_reason);
  }
  put_key(w, "retries");
  w.Int(call.retries);
  put_key(w, "cost");
  put_double(w, nano_usd_to_usd(call.cost_nanos));
  put_key(w, "priced");
  w.Bool(call.priced);
  w.EndObject();
}

void put_tool_call(Writer& w, const ToolCall& call) {
  w.StartObject();
  put_key(w, "tool_name");
  put_string(w, call.tool_name);
  put_key(w, "kwargs");
  put_value(w, call.kwargs);
  put_key(w, "duration");
  put_double(w, call.duration);
  put_key(w, "success");
  w.Bool(call.success);
  if (!call.error.empty()) {
    put_key(w, "error");
    put_string(w, call.error);
  }
  w.EndObject();
}

void put_memory_operation(Writer& w, const MemoryOperation& op) {
  w.StartObject();
  put_key(w, "operation");
  put_string(w, op.operation);
  if (!op.memory_type.empty()) {
    put_key(w, "memory_type");
    put_string(w, op.memory_type);
  }
  put_key(w, "duration");
  put_double(w, op.duration);
  put_key(w, "items");
  w.Int64(op.items);
  if (!op.details.is_null()) {
    put_key(w, "details");
    put_value(w, op.details);
  }
  w.EndObject();
}

void put_event(Writer& w, const Event& event) {
  w.StartObject();
  put_key(w, "type");
  put_string(w, event.type());
  put_key(w, "timestamp");
  put_double(w, event.timestamp);
  put_key(w, "data");
  std::visit(
      [&w](const auto& payload) {
        using T = std::decay_t<decltype(payload)>;
        if constexpr (std::is_same_v<T, LlmCall>) {
          put_llm_call(w, payload);
        } else if constexpr (std::is_same_v<T, ToolCall>) {
          put_tool_call(w, payload);
        } else if constexpr (std::is_same_v<T, MemoryOperation>) {
          put_memory_operation(w, payload);
        } else {
          put_value(w, payload.data);
        }
      },
      event.payload);
  w.EndObject();
}

void put_metrics(Writer& w, const Metrics& m) {
  w.StartObject();
  put_key(w, "llm_calls");
  w.Int64(m.llm_calls);
  put_key(w, "tool_calls");
  w.Int64(m.tool_calls);
  put_key(w, "memory_operations");
  w.Int64(m.memory_operations);
  put_key(w, "prompt_tokens");
  w.Int64(m.prompt_tokens);
  put_key(w, "completion_tokens");
  w.Int64(m.completion_tokens);
  put_key(w, "total_tokens");
  w.Int64(m.total_tokens());
  put_key(w, "cached_tokens");
  w.Int64(m.cached_tokens);
  put_key(w, "reasoning_tokens");
  w.Int64(m.reasoning_tokens);
  put_key(w, "unpriced_llm_calls");
  w.Int64(m.unpriced_llm_calls);
  put_key(w, "total_cost");
  put_double(w, m.total_cost());
  for (const auto& [name, value] : m.custom) {
    put_key(w, name);
    put_value(w, value);
  }
  w.EndObject();
}

void put_tags(Writer& w, const std::map<std::string, std::string, std::less<>>& tags) {
  w.StartObject();
  for (const auto& [key, value] : tags) {
    put_key(w, key);
    put_string(w, value);
  }
  w.EndObject();
}

void put_event_storage(Writer& w, const Event& event) {
  w.StartArray();
  std::visit(
      [&](const auto& payload) {
        using T = std::decay_t<decltype(payload)>;
        if constexpr (std::is_same_v<T, LlmCall>) {
          w.String("l", 1);
          put_double(w, event.timestamp);
          put_string(w, payload.model);
          put_string(w, payload.provider);
          w.Int64(payload.prompt_tokens);
          w.Int64(payload.completion_tokens);
          w.Int64(payload.cached_tokens);
          w.Int64(payload.cache_write_tokens);
          w.Int64(payload.reasoning_tokens);
          put_double(w, payload.duration);
          if (payload.time_to_first_token) {
            put_double(w, *payload.time_to_first_token);
          } else {
            w.Null();
          }
          put_string(w, payload.finish_reason);
          w.Int(payload.retries);
          w.Int64(payload.cost_nanos);
          w.Bool(payload.priced);
        } else if constexpr (std::is_same_v<T, ToolCall>) {
          w.String("t", 1);
          put_double(w, event.timestamp);
          put_string(w, payload.tool_name);
          put_value(w, payload.kwargs);
          put_double(w, payload.duration);
          w.Bool(payload.success);
          put_string(w, payload.error);
        } else if constexpr (std::is_same_v<T, MemoryOperation>) {
          w.String("m", 1);
          put_double(w, event.timestamp);
          put_string(w, payload.operation);
          put_string(w, payload.memory_type);
          put_double(w, payload.duration);
          w.Int64(payload.items);
          put_value(w, payload.details);
        } else {
          w.String("c", 1);
          put_double(w, event.timestamp);
          put_string(w, payload.type);
          put_value(w, payload.data);
        }
      },
      event.payload);
  w.EndArray();
}

template <typename Fn>
void write_with(std::string& out, Fn&& fn) {
  // Kept per thread: a new Writer allocates its nesting stack on first use.
  thread_local Buffer buffer;
  thread_local Writer writer(buffer);
  buffer.Clear();
  writer.Reset(buffer);
  fn(writer);
  out.assign(buffer.GetString(), buffer.GetSize());
}

void put_optional_string(Writer& w, std::string_view text) {
  if (text.empty()) {
    w.Null();
  } else {
    put_string(w, text);
  }
}

[[noreturn]] void malformed(std::string_view what) {
  throw std::invalid_argument("malformed telemetry record: " + std::string(what));
}

std::int64_t int_field(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  if (!it->is_number()) malformed(std::string("field '") + name + "' is not a number");
  return it->get<std::int64_t>();
}

double double_field(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0.0;
  if (!it->is_number()) malformed(std::string("field '") + name + "' is not a number");
  return it->get<double>();
}

std::string string_field(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) malformed(std::string("field '") + name + "' is not a string");
  return it->get<std::string>();
}

// Like the other field readers: a wrong type must surface as the std::invalid_argument callers
// are promised, not as nlohmann's type_error from json::value().
bool bool_field(const nlohmann::json& object, const char* name, bool fallback) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) malformed(std::string("field '") + name + "' is not a boolean");
  return it->get<bool>();
}

// A built-in metric's value: a number, or null for 0.
double metric_number(const std::string& name, const nlohmann::json& value) {
  if (value.is_null()) return 0.0;
  if (!value.is_number()) malformed("metrics field '" + name + "' is not a number");
  return value.get<double>();
}

std::int64_t metric_count(const std::string& name, const nlohmann::json& value) {
  if (value.is_null()) return 0;
  if (!value.is_number()) malformed("metrics field '" + name + "' is not a number");
  return value.get<std::int64_t>();
}

NanoUsd usd_to_nanos(double usd) {
  return std::llround(usd * 1e9);
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  // Nearly every string is ASCII: test eight bytes at a time until the first that is not.
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if ((word & 0x8080808080808080ULL) != 0) break;
    p += 8;
  }
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra = 0;
    std::uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      code = (code << 6) | (p[i] & 0x3F);
    }
    static constexpr std::uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;  // overlong, out of range or a surrogate
    }
    p += extra + 1;
  }
  return true;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    // Find the longest valid prefix of the remainder one code point at a time.
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = c < 0x80             ? 1
                               : (c & 0xE0) == 0xC0 ? 2
                               : (c & 0xF0) == 0xE0 ? 3
                               : (c & 0xF8) == 0xF0 ? 4
                                                    : 0;
    if (length != 0 && i + length <= text.size() && is_valid_utf8(text.substr(i, length))) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

void write_events_json(const std::vector<Event>& events, std::string& out) {
  write_with(out, [&](Writer& w) {
    w.StartArray();
    for (const auto& event : events) put_event(w, event);
    w.EndArray();
  });
}

void write_value_json(const nlohmann::json& value, std::string& out) {
  write_with(out, [&](Writer& w) { put_value(w, value); });
}

void write_metrics_json(const Metrics& metrics, std::string& out) {
  write_with(out, [&](Writer& w) { put_metrics(w, metrics); });
}

void write_tags_json(const std::map<std::string, std::string, std::less<>>& tags,
                     std::string& out) {
  write_with(out, [&](Writer& w) { put_tags(w, tags); });
}

void write_execution_json(const Execution& e, std::string& out) {
  write_with(out, [&](Writer& w) {
    w.StartObject();
    put_key(w, "id");
    put_string(w, e.id);
    put_key(w, "trace_id");
    put_string(w, e.trace_id);
    put_key(w, "parent_id");
    put_optional_string(w, e.parent_id);
    put_key(w, "agent_name");
    put_string(w, e.agent_name);
    put_key(w, "started_at");
    put_double(w, e.started_at);
    put_key(w, "ended_at");
    if (e.ended_at) {
      put_double(w, *e.ended_at);
    } else {
      w.Null();
    }
    put_key(w, "duration");
    if (e.duration) {
      put_double(w, *e.duration);
    } else {
      w.Null();
    }
    put_key(w, "status");
    put_string(w, to_string(e.status));
    put_key(w, "error");
    put_optional_string(w, e.error);
    if (!e.error_type.empty()) {
      put_key(w, "error_type");
      put_string(w, e.error_type);
    }
    put_key(w, "kwargs");
    put_value(w, e.kwargs);
    put_key(w, "events");
    w.StartArray();
    for (const auto& event : e.events) put_event(w, event);
    w.EndArray();
    put_key(w, "metrics");
    put_metrics(w, e.metrics);
    put_key(w, "tags");
    put_tags(w, e.tags);
    w.EndObject();
  });
}

void write_events_storage(const std::vector<Event>& events, std::string& out) {
  write_with(out, [&](Writer& w) {
    w.StartArray();
    for (const auto& event : events) put_event_storage(w, event);
    w.EndArray();
  });
}

JsonArena::JsonArena() : writer_(buffer_) {}

void JsonArena::clear() {
  buffer_.Clear();
}

template <typename Fn>
JsonArena::Slice JsonArena::append(Fn&& fn) {
  const auto offset = buffer_.GetSize();
  writer_.Reset(buffer_);
  fn(writer_);
  return {offset, buffer_.GetSize() - offset};
}

JsonArena::Slice JsonArena::append_text(std::string_view text) {
  const auto offset = buffer_.GetSize();
  if (!text.empty()) std::memcpy(buffer_.Push(text.size()), text.data(), text.size());
  return {offset, text.size()};
}

JsonArena::Slice JsonArena::append_value(const nlohmann::json& value) {
  return append([&](Writer& w) { put_value(w, value); });
}

JsonArena::Slice JsonArena::append_events_storage(const std::vector<Event>& events) {
  return append([&](Writer& w) {
    w.StartArray();
    for (const auto& event : events) put_event_storage(w, event);
    w.EndArray();
  });
}

JsonArena::Slice JsonArena::append_custom_metrics(
    const std::map<std::string, nlohmann::json, std::less<>>& custom) {
  return append([&](Writer& w) {
    w.StartObject();
    for (const auto& [name, value] : custom) {
      put_key(w, name);
      put_value(w, value);
    }
    w.EndObject();
  });
}

JsonArena::Slice JsonArena::append_tags(
    const std::map<std::string, std::string, std::less<>>& tags) {
  return append([&](Writer& w) { put_tags(w, tags); });
}

std::vector<Event> parse_events_storage(std::string_view text) {
  const auto json = nlohmann::json::parse(text);
  if (!json.is_array()) malformed("stored events are not an array");
  std::vector<Event> events;
  events.reserve(json.size());
  const auto number = [](const nlohmann::json& value) {
    return value.is_number() ? value.get<double>() : 0.0;
  };
  const auto integer = [](const nlohmann::json& value) -> std::int64_t {
    return value.is_number() ? value.get<std::int64_t>() : 0;
  };
  const auto text_of = [](const nlohmann::json& value) {
    return value.is_string() ? value.get<std::string>() : std::string();
  };
  for (const auto& item : json) {
    if (!item.is_array() || item.size() < 2 || !item[0].is_string()) {
      malformed("a stored event is not an array starting with its kind");
    }
    const std::string kind = item[0].get<std::string>();
    const std::size_t expected = kind == "l" ? 15 : kind == "c" ? 4 : 7;
    if (item.size() != expected || (kind != "l" && kind != "t" && kind != "m" && kind != "c")) {
      malformed("a stored event of kind '" + kind + "' has " + std::to_string(item.size()) +
                " fields");
    }
    Event event;
    event.timestamp = number(item[1]);
    if (kind == "l") {
      LlmCall call;
      call.model = text_of(item[2]);
      call.provider = text_of(item[3]);
      call.prompt_tokens = integer(item[4]);
      call.completion_tokens = integer(item[5]);
      call.cached_tokens = integer(item[6]);
      call.cache_write_tokens = integer(item[7]);
      call.reasoning_tokens = integer(item[8]);
      call.duration = number(item[9]);
      if (item[10].is_number()) call.time_to_first_token = item[10].get<double>();
      call.finish_reason = text_of(item[11]);
      call.retries = static_cast<int>(integer(item[12]));
      call.cost_nanos = integer(item[13]);
      call.priced = item[14].is_boolean() ? item[14].get<bool>() : true;
      event.payload = std::move(call);
    } else if (kind == "t") {
      event.payload = ToolCall{text_of(item[2]), item[3], number(item[4]),
                               item[5].is_boolean() ? item[5].get<bool>() : true, text_of(item[6])};
    } else if (kind == "m") {
      event.payload = MemoryOperation{text_of(item[2]), text_of(item[3]), number(item[4]),
                                      integer(item[5]), item[6]};
    } else {
      event.payload = CustomEvent{text_of(item[2]), item[3]};
    }
    events.push_back(std::move(event));
  }
  return events;
}

Event event_from_json(const nlohmann::json& json) {
  if (!json.is_object()) malformed("an event is not an object");
  Event event;
  event.timestamp = double_field(json, "timestamp");
  const std::string type = string_field(json, "type");
  const auto data_it = json.find("data");
  const nlohmann::json data =
      data_it == json.end() ? nlohmann::json::object() : nlohmann::json(*data_it);
  const bool built_in = type == "llm_call" || type == "tool_call" || type == "memory_operation";
  if (built_in && !data.is_object()) {
    malformed("field 'data' of a " + type + " event is not an object");
  }
  if (type == "llm_call") {
    LlmCall call;
    call.model = string_field(data, "model");
    call.provider = string_field(data, "provider");
    call.prompt_tokens = int_field(data, "prompt_tokens");
    call.completion_tokens = int_field(data, "completion_tokens");
    call.cached_tokens = int_field(data, "cached_tokens");
    call.cache_write_tokens = int_field(data, "cache_write_tokens");
    call.reasoning_tokens = int_field(data, "reasoning_tokens");
    call.duration = double_field(data, "duration");
    if (data.contains("time_to_first_token") && !data["time_to_first_token"].is_null()) {
      call.time_to_first_token = double_field(data, "time_to_first_token");
    }
    call.finish_reason = string_field(data, "finish_reason");
    call.retries = static_cast<int>(int_field(data, "retries"));
    call.cost_nanos = usd_to_nanos(double_field(data, "cost"));
    call.priced = bool_field(data, "priced", true);
    event.payload = std::move(call);
  } else if (type == "tool_call") {
    ToolCall call;
    call.tool_name = string_field(data, "tool_name");
    call.kwargs = data.value("kwargs", nlohmann::json::object());
    call.duration = double_field(data, "duration");
    call.success = bool_field(data, "success", true);
    call.error = string_field(data, "error");
    event.payload = std::move(call);
  } else if (type == "memory_operation") {
    MemoryOperation op;
    op.operation = string_field(data, "operation");
    op.memory_type = string_field(data, "memory_type");
    op.duration = double_field(data, "duration");
    op.items = int_field(data, "items");
    op.details = data.value("details", nlohmann::json());
    event.payload = std::move(op);
  } else {
    if (type.empty()) malformed("an event has no type");
    event.payload = CustomEvent{type, data};
  }
  return event;
}

Metrics metrics_from_json(const nlohmann::json& json) {
  if (!json.is_object()) malformed("metrics is not an object");
  Metrics m;
  for (const auto& [name, value] : json.items()) {
    if (name == "llm_calls") {
      m.llm_calls = metric_count(name, value);
    } else if (name == "tool_calls") {
      m.tool_calls = metric_count(name, value);
    } else if (name == "memory_operations") {
      m.memory_operations = metric_count(name, value);
    } else if (name == "prompt_tokens") {
      m.prompt_tokens = metric_count(name, value);
    } else if (name == "completion_tokens") {
      m.completion_tokens = metric_count(name, value);
    } else if (name == "cached_tokens") {
      m.cached_tokens = metric_count(name, value);
    } else if (name == "reasoning_tokens") {
      m.reasoning_tokens = metric_count(name, value);
    } else if (name == "unpriced_llm_calls") {
      m.unpriced_llm_calls = metric_count(name, value);
    } else if (name == "total_cost") {
      m.cost_nanos = usd_to_nanos(metric_number(name, value));
    } else if (name == "total_tokens") {
      // derived from prompt and completion tokens
    } else {
      m.custom.emplace(name, value);
    }
  }
  return m;
}

std::vector<Event> parse_events_json(std::string_view text) {
  const auto json = nlohmann::json::parse(text);
  if (!json.is_array()) malformed("events is not an array");
  std::vector<Event> events;
  events.reserve(json.size());
  for (const auto& item : json) events.push_back(event_from_json(item));
  return events;
}

Metrics parse_metrics_json(std::string_view text) {
  return metrics_from_json(nlohmann::json::parse(text));
}

std::map<std::string, std::string, std::less<>> parse_tags_json(std::string_view text) {
  const auto json = nlohmann::json::parse(text);
  if (!json.is_object()) malformed("tags is not an object");
  std::map<std::string, std::string, std::less<>> tags;
  for (const auto& [key, value] : json.items()) {
    tags.emplace(key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  return tags;
}

}  // namespace kagura::telemetry::detail

namespace kagura::telemetry {

nlohmann::json to_json(const Execution& execution) {
  std::string text;
  detail::write_execution_json(execution, text);
  return nlohmann::json::parse(text);
}

nlohmann::json to_json(const Event& event) {
  std::vector<Event> one{event};
  std::string text;
  detail::write_events_json(one, text);
  return nlohmann::json::parse(text).at(0);
}

Execution execution_from_json(const nlohmann::json& json) {
  using namespace detail;
  if (!json.is_object()) malformed("an execution is not an object");
  Execution e;
  e.id = string_field(json, "id");
  if (e.id.empty()) malformed("field 'id' is missing");
  e.trace_id = string_field(json, "trace_id");
  if (e.trace_id.empty()) e.trace_id = e.id;
  e.parent_id = string_field(json, "parent_id");
  e.agent_name = string_field(json, "agent_name");
  if (e.agent_name.empty()) malformed("field 'agent_name' is missing");
  e.started_at = double_field(json, "started_at");
  if (json.contains("ended_at") && !json["ended_at"].is_null()) {
    e.ended_at = double_field(json, "ended_at");
  }
  if (json.contains("duration") && !json["duration"].is_null()) {
    e.duration = double_field(json, "duration");
  }
  const std::string status = string_field(json, "status");
  e.status = status.empty() ? ExecutionStatus::running : parse_execution_status(status);
  e.error = string_field(json, "error");
  e.error_type = string_field(json, "error_type");
  e.kwargs = json.value("kwargs", nlohmann::json::object());
  if (const auto it = json.find("events"); it != json.end() && !it->is_null()) {
    if (!it->is_array()) malformed("field 'events' is not an array");
    for (const auto& item : *it) e.events.push_back(event_from_json(item));
  }
  if (const auto it = json.find("metrics"); it != json.end() && !it->is_null()) {
    e.metrics = metrics_from_json(*it);
  }
  if (const auto it = json.find("tags"); it != json.end() && it->is_object()) {
    for (const auto& [key, value] : it->items()) {
      e.tags.emplace(key, value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  return e;
}

}  // namespace kagura::telemetry
