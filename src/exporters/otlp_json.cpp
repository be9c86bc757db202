#include "exporters/otlp_json.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

namespace kagura::exporters {
namespace {

using nlohmann::json;
using telemetry::Execution;

// Kept in step with project() in CMakeLists.txt.
constexpr const char* kKaguraVersion = "0.1.0";

// OTLP's span kinds and status codes are sent as their enum numbers (the OTLP/JSON rule).
constexpr int kSpanKindInternal = 1;
constexpr int kSpanKindClient = 3;
constexpr int kStatusError = 2;

// FNV-1a with a final avalanche (splitmix64's), so that ids differing in one character give
// unrelated span ids; the same in every process and build, unlike std::hash.
std::uint64_t hash64(std::string_view text, std::uint64_t seed) {
  std::uint64_t hash = 0xcbf29ce484222325ULL ^ seed;
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

std::string hex64(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// An id that is already a valid trace id (Kagura's execution ids are 32 hex digits) is kept, so
// that the trace id seen in Jaeger is the root execution's id seen in `kagura monitor`.
bool is_trace_id(std::string_view id) {
  if (id.size() != 32) return false;
  bool nonzero = false;
  for (const char c : id) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) return false;
    nonzero = nonzero || c != '0';
  }
  return nonzero;
}

std::string nonzero_span_id(std::uint64_t value) {
  return hex64(value == 0 ? 1 : value);
}

std::string unix_nanos(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0) return "0";
  return std::to_string(std::llround(seconds * 1e9));
}

json attribute(std::string_view key, json value) {
  return {{"key", key}, {"value", std::move(value)}};
}
json string_value(std::string_view text) {
  return {{"stringValue", text}};
}
json int_value(std::int64_t number) {
  // int64 travels as a decimal string in OTLP/JSON (JavaScript numbers lose precision past 2^53).
  return {{"intValue", std::to_string(number)}};
}
json double_value(double number) {
  return {{"doubleValue", std::isfinite(number) ? number : 0.0}};
}

class Attributes {
 public:
  void add(std::string_view key, std::string_view text) {
    list_.push_back(attribute(key, string_value(text)));
  }
  void add_nonempty(std::string_view key, std::string_view text) {
    if (!text.empty()) add(key, text);
  }
  void add_int(std::string_view key, std::int64_t number) {
    list_.push_back(attribute(key, int_value(number)));
  }
  void add_double(std::string_view key, double number) {
    list_.push_back(attribute(key, double_value(number)));
  }
  void add_bool(std::string_view key, bool value) {
    list_.push_back(attribute(key, {{"boolValue", value}}));
  }
  void add_strings(std::string_view key, const std::vector<std::string>& values) {
    json array = json::array();
    for (const auto& value : values) array.push_back(string_value(value));
    list_.push_back(attribute(key, {{"arrayValue", {{"values", std::move(array)}}}}));
  }
  // The cost in USD. Not (yet) in the GenAI conventions: gen_ai.usage.cost is the name OpenLIT
  // sends and Langfuse reads as the observation's cost, so it is the one tools already show.
  void add_cost(telemetry::NanoUsd nanos) {
    add_double("gen_ai.usage.cost", telemetry::nano_usd_to_usd(nanos));
  }
  json take() { return std::move(list_); }

 private:
  json list_ = json::array();
};

struct ModelName {
  std::string provider;
  std::string model;
};

// The collector API takes "provider/model" as well as a bare model with the provider apart.
ModelName split_model(const std::string& model, const std::string& provider) {
  ModelName name{provider, model};
  const auto slash = model.find('/');
  if (slash == std::string::npos) return name;
  const std::string prefix = model.substr(0, slash);
  if (provider.empty() || provider == prefix) {
    name.provider = prefix;
    name.model = model.substr(slash + 1);
  }
  return name;
}

json span(const std::string& trace_id, std::string span_id, std::string parent_id, std::string name,
          int kind, double start, double end, json attributes) {
  json out = {{"traceId", trace_id},
              {"spanId", std::move(span_id)},
              {"name", std::move(name)},
              {"kind", kind},
              {"startTimeUnixNano", unix_nanos(start)},
              {"endTimeUnixNano", unix_nanos(std::max(start, end))},
              {"attributes", std::move(attributes)}};
  if (!parent_id.empty()) out["parentSpanId"] = std::move(parent_id);
  return out;
}

void set_error(json& span_json, const std::string& message) {
  span_json["status"] = {{"code", kStatusError}, {"message", message}};
}

// An event's span ends when the event was recorded (its timestamp) and started `duration`
// before, never before its execution.
std::pair<double, double> event_times(const Execution& execution, double timestamp,
                                      double duration) {
  const double end = timestamp;
  const double start = std::max(execution.started_at, end - std::max(0.0, duration));
  return {start, end};
}

std::string memory_operation_name(const std::string& operation) {
  if (operation == "add") return "create_memory";
  if (operation == "read" || operation == "search") return "search_memory";
  if (operation == "trim" || operation == "clear" || operation == "delete") return "delete_memory";
  if (operation == "update") return "update_memory";
  return operation;
}

void append_spans(const Execution& e, json& spans) {
  const std::string trace_id = otlp_trace_id(e);
  const std::string self = otlp_span_id(e.id);
  const double end = e.ended_at ? *e.ended_at : e.started_at + (e.duration ? *e.duration : 0.0);

  std::string provider;
  std::string model;
  if (const auto& primary = e.primary_model(); !primary.empty()) {
    for (const auto& event : e.events) {
      if (const auto* call = std::get_if<telemetry::LlmCall>(&event.payload)) {
        const auto name = split_model(call->model, call->provider);
        provider = name.provider;
        model = name.model;
        break;
      }
    }
  }

  Attributes attributes;
  attributes.add("gen_ai.operation.name", "invoke_agent");
  attributes.add("gen_ai.agent.name", e.agent_name);
  attributes.add_nonempty("gen_ai.provider.name", otlp_provider_name(provider));
  attributes.add_nonempty("gen_ai.request.model", model);
  if (e.metrics.llm_calls > 0) {
    attributes.add_int("gen_ai.usage.input_tokens", e.metrics.prompt_tokens);
    attributes.add_int("gen_ai.usage.output_tokens", e.metrics.completion_tokens);
    attributes.add_int("gen_ai.usage.cache_read.input_tokens", e.metrics.cached_tokens);
    attributes.add_int("gen_ai.usage.reasoning.output_tokens", e.metrics.reasoning_tokens);
    attributes.add_cost(e.metrics.cost_nanos);
  }
  attributes.add("kagura.execution.id", e.id);
  attributes.add("kagura.status", telemetry::to_string(e.status));
  attributes.add_int("kagura.llm_calls", e.metrics.llm_calls);
  attributes.add_int("kagura.tool_calls", e.metrics.tool_calls);
  attributes.add_int("kagura.memory_operations", e.metrics.memory_operations);
  for (const auto& [key, value] : e.tags) attributes.add("kagura.tag." + key, value);
  if (e.status == telemetry::ExecutionStatus::failed) {
    attributes.add("error.type", e.error_type.empty() ? "_OTHER" : e.error_type);
  }
  json agent_span =
      span(trace_id, self, e.parent_id.empty() ? "" : otlp_span_id(e.parent_id),
           "invoke_agent " + e.agent_name, kSpanKindInternal, e.started_at, end, attributes.take());
  if (e.status == telemetry::ExecutionStatus::failed) set_error(agent_span, e.error);

  json span_events = json::array();
  std::vector<json> children;
  for (std::size_t i = 0; i < e.events.size(); ++i) {
    const auto& event = e.events[i];
    if (const auto* call = std::get_if<telemetry::LlmCall>(&event.payload)) {
      const auto name = split_model(call->model, call->provider);
      Attributes a;
      a.add("gen_ai.operation.name", "chat");
      a.add_nonempty("gen_ai.provider.name", otlp_provider_name(name.provider));
      a.add_nonempty("gen_ai.request.model", name.model);
      a.add_nonempty("gen_ai.response.model", name.model);
      a.add_int("gen_ai.usage.input_tokens", call->prompt_tokens);
      a.add_int("gen_ai.usage.output_tokens", call->completion_tokens);
      a.add_int("gen_ai.usage.cache_read.input_tokens", call->cached_tokens);
      if (call->cache_write_tokens > 0) {
        a.add_int("gen_ai.usage.cache_creation.input_tokens", call->cache_write_tokens);
      }
      a.add_int("gen_ai.usage.reasoning.output_tokens", call->reasoning_tokens);
      if (!call->finish_reason.empty()) {
        a.add_strings("gen_ai.response.finish_reasons", {call->finish_reason});
      }
      if (call->time_to_first_token) {
        a.add_double("gen_ai.response.time_to_first_chunk", *call->time_to_first_token);
      }
      a.add_cost(call->cost_nanos);
      if (!call->priced) a.add_bool("kagura.priced", false);
      if (call->retries > 0) a.add_int("kagura.retries", call->retries);
      // Prompt and answer text exist only when the agent captures content (an opt-in); the
      // agent records them right after their call.
      if (i + 1 < e.events.size()) {
        const auto* content = std::get_if<telemetry::CustomEvent>(&e.events[i + 1].payload);
        if (content != nullptr && content->type == "llm_content") {
          if (content->data.contains("input")) {
            a.add("gen_ai.input.messages", content->data["input"].dump());
          }
          if (content->data.contains("output")) {
            a.add("gen_ai.output.messages", content->data["output"].dump());
          }
        }
      }
      const auto [start, stop] = event_times(e, event.timestamp, call->duration);
      children.push_back(span(trace_id, otlp_event_span_id(e.id, i), self,
                              "chat " + (name.model.empty() ? std::string("unknown") : name.model),
                              kSpanKindClient, start, stop, a.take()));
    } else if (const auto* tool = std::get_if<telemetry::ToolCall>(&event.payload)) {
      Attributes a;
      a.add("gen_ai.operation.name", "execute_tool");
      a.add("gen_ai.tool.name", tool->tool_name);
      a.add("gen_ai.tool.type", "function");
      if (!tool->success) a.add("error.type", "_OTHER");
      const auto [start, stop] = event_times(e, event.timestamp, tool->duration);
      json tool_span =
          span(trace_id, otlp_event_span_id(e.id, i), self, "execute_tool " + tool->tool_name,
               kSpanKindInternal, start, stop, a.take());
      if (!tool->success) set_error(tool_span, tool->error);
      children.push_back(std::move(tool_span));
    } else if (const auto* memory = std::get_if<telemetry::MemoryOperation>(&event.payload)) {
      const std::string operation = memory_operation_name(memory->operation);
      Attributes a;
      a.add("gen_ai.operation.name", operation);
      a.add("kagura.memory.operation", memory->operation);
      a.add_nonempty("kagura.memory.type", memory->memory_type);
      a.add_int("kagura.memory.items", memory->items);
      const auto [start, stop] = event_times(e, event.timestamp, memory->duration);
      children.push_back(
          span(trace_id, otlp_event_span_id(e.id, i), self,
               memory->memory_type.empty() ? operation : operation + " " + memory->memory_type,
               kSpanKindInternal, start, stop, a.take()));
    } else if (const auto* custom = std::get_if<telemetry::CustomEvent>(&event.payload)) {
      if (custom->type == "llm_content") continue;  // on its chat span
      Attributes a;
      a.add("kagura.event.data", custom->data.dump());
      span_events.push_back({{"timeUnixNano", unix_nanos(event.timestamp)},
                             {"name", custom->type},
                             {"attributes", a.take()}});
    }
  }
  if (!span_events.empty()) agent_span["events"] = std::move(span_events);
  spans.push_back(std::move(agent_span));
  for (auto& child : children) spans.push_back(std::move(child));
}

}  // namespace

std::string otlp_trace_id(const Execution& execution) {
  const std::string& root = execution.trace_id.empty() ? execution.id : execution.trace_id;
  if (is_trace_id(root)) return root;
  std::string id =
      hex64(hash64(root, 0x6b61677572610001ULL)) + hex64(hash64(root, 0x6b61677572610002ULL));
  return is_trace_id(id) ? id : std::string(31, '0') + "1";
}

std::string otlp_span_id(std::string_view execution_id) {
  return nonzero_span_id(hash64(execution_id, 0));
}

std::string otlp_event_span_id(std::string_view execution_id, std::size_t event_index) {
  std::string key(execution_id);
  key += '#';
  key += std::to_string(event_index);
  return nonzero_span_id(hash64(key, 0));
}

std::string otlp_provider_name(std::string_view provider) {
  if (provider == "mistral") return "mistral_ai";
  if (provider == "gemini") return "gcp.gemini";
  if (provider == "bedrock") return "aws.bedrock";
  if (provider == "azure") return "azure.ai.openai";
  if (provider == "xai") return "x_ai";
  return std::string(provider);
}

std::size_t otlp_span_count(const Execution& execution) {
  std::size_t count = 1;
  for (const auto& event : execution.events) {
    if (!std::holds_alternative<telemetry::CustomEvent>(event.payload)) ++count;
  }
  return count;
}

std::string otlp_trace_request(std::span<const Execution* const> executions,
                               const OtlpResource& resource) {
  json spans = json::array();
  for (const Execution* execution : executions) append_spans(*execution, spans);
  Attributes resource_attributes;
  resource_attributes.add("service.name", resource.service_name);
  resource_attributes.add("telemetry.sdk.name", "kagura");
  resource_attributes.add("telemetry.sdk.language", "cpp");
  resource_attributes.add("telemetry.sdk.version", kKaguraVersion);
  const json request = {
      {"resourceSpans",
       json::array({{{"resource", {{"attributes", resource_attributes.take()}}},
                     {"scopeSpans",
                      json::array({{{"scope", {{"name", "kagura"}, {"version", kKaguraVersion}}},
                                    {"spans", std::move(spans)}}})}}})}};
  // Replacement rather than an exception for invalid UTF-8 (a tool's raw bytes, say): one bad
  // character must not cost the whole batch.
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace kagura::exporters
