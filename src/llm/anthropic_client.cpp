#include "kagura/llm/anthropic_client.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "llm/anthropic_wire.hpp"
#include "llm/http_client.hpp"
#include "llm/provider_registry.hpp"
#include "llm/sse_parser.hpp"
#include "llm/wire_json.hpp"
#include "telemetry/elapsed.hpp"

namespace kagura::llm {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

using telemetry::detail::seconds_since;

// tool_use input must be an object. Arguments that are not one can only come from a
// conversation another model wrote; the call's result already tells what went wrong.
json tool_input(const std::string& arguments) {
  json input = json::parse(arguments, nullptr, false);
  return input.is_object() ? input : json::object();
}

json messages_to_wire(const std::vector<Message>& messages) {
  json wire = json::array();
  bool last_holds_tool_results = false;
  for (const auto& message : messages) {
    if (message.role == "system") continue;  // goes to the top-level "system"
    if (message.role == "tool") {
      json result = {{"type", "tool_result"},
                     {"tool_use_id", message.tool_call_id},
                     {"content", message.content}};
      // The results of one turn's calls must all come in the one user message that follows.
      if (last_holds_tool_results) {
        wire.back()["content"].push_back(std::move(result));
      } else {
        wire.push_back({{"role", "user"}, {"content", json::array({std::move(result)})}});
        last_holds_tool_results = true;
      }
      continue;
    }
    last_holds_tool_results = false;
    if (message.role == "assistant" && !message.tool_calls.empty()) {
      json blocks = json::array();
      if (!message.content.empty()) blocks.push_back({{"type", "text"}, {"text", message.content}});
      for (const auto& call : message.tool_calls) {
        blocks.push_back({{"type", "tool_use"},
                          {"id", call.id},
                          {"name", call.name},
                          {"input", tool_input(call.arguments)}});
      }
      wire.push_back({{"role", "assistant"}, {"content", std::move(blocks)}});
      continue;
    }
    wire.push_back({{"role", message.role}, {"content", message.content}});
  }
  return wire;
}

json request_body(const ChatRequest& request) {
  json body = {{"model", request.model},
               {"max_tokens", request.max_tokens.value_or(AnthropicClient::kDefaultMaxTokens)},
               {"messages", messages_to_wire(request.messages)}};
  std::string system;
  for (const auto& message : request.messages) {
    if (message.role != "system") continue;
    if (!system.empty()) system += "\n\n";
    system += message.content;
  }
  if (!system.empty()) body["system"] = std::move(system);
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const auto& tool : request.tools) {
      // The API rejects a tool without a schema; an empty one means "no parameters".
      json schema = tool.parameters.is_object() && !tool.parameters.empty()
                        ? tool.parameters
                        : json{{"type", "object"}, {"properties", json::object()}};
      tools.push_back(
          {{"name", tool.name}, {"description", tool.description}, {"input_schema", schema}});
    }
    body["tools"] = std::move(tools);
  }
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  if (request.stream) body["stream"] = true;
  if (request.extra.is_object()) body.merge_patch(request.extra);
  return body;
}

std::string normalised_stop_reason(const std::string& reason) {
  if (reason == "end_turn" || reason == "stop_sequence") return "stop";
  if (reason == "max_tokens") return "length";
  if (reason == "tool_use") return "tool_calls";
  if (reason == "refusal") return "content_filter";
  return reason;
}

// Anthropic counts cached prompt tokens apart from input_tokens; Usage counts them in.
struct PromptCounts {
  std::int64_t input = 0;
  std::int64_t cache_read = 0;
  std::int64_t cache_write = 0;

  void update_from(const json& usage) {
    if (detail::field(usage, "input_tokens")) input = detail::count_field(usage, "input_tokens");
    if (detail::field(usage, "cache_read_input_tokens")) {
      cache_read = detail::count_field(usage, "cache_read_input_tokens");
    }
    if (detail::field(usage, "cache_creation_input_tokens")) {
      cache_write = detail::count_field(usage, "cache_creation_input_tokens");
    }
  }
  void apply_to(Usage& usage) const {
    // Saturating: counts near the int64 limits are nonsense, but adding them must not overflow
    // (caught by fuzz/anthropic_response_fuzzer.cpp, seed usage_overflow.json).
    __extension__ typedef __int128 Wide;
    const Wide total = Wide{input} + cache_read + cache_write;
    usage.prompt_tokens = static_cast<std::int64_t>(std::clamp<Wide>(
        total, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()));
    usage.cached_tokens = cache_read;
    usage.cache_write_tokens = cache_write;
  }
};

Usage parse_usage(const json& usage) {
  Usage out;
  PromptCounts prompt;
  prompt.update_from(usage);
  prompt.apply_to(out);
  out.completion_tokens = detail::count_field(usage, "output_tokens");
  return out;
}

// Anthropic's error types, as the status codes it would have answered with.
int status_of_error_type(const std::string& type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "api_error") return 500;
  if (type == "overloaded_error") return 529;
  return 0;
}

[[noreturn]] void throw_embedded_error(const detail::HttpClient& http, const json& error,
                                       const std::string& url, int retries) {
  const std::string type = detail::string_field(error, "type");
  const std::string text = detail::string_field(error, "message");
  throw LlmError(
      LlmErrorKind::http_status,
      http.message("error reported by " + url + ": " + (type.empty() ? "" : type + ": ") +
                   (text.empty() ? detail::quote_prefix(error.dump()) : text)),
      status_of_error_type(type), retries);
}

[[noreturn]] void throw_malformed(const detail::HttpClient& http, const std::string& what,
                                  std::string_view body, int retries) {
  detail::throw_malformed(http, what, body, retries, "Anthropic's Messages API");
}

ChatResponse parse_answer(const detail::HttpClient& http, const std::string& url,
                          const detail::HttpReply& reply) {
  const json body = json::parse(reply.body, nullptr, false);
  if (body.is_discarded()) {
    throw_malformed(http, "the answer from " + url + " is not JSON", reply.body, reply.retries);
  }
  const auto* content = detail::field(body, "content");
  if (content == nullptr || !content->is_array()) {
    if (const auto* error = detail::field(body, "error")) {
      throw_embedded_error(http, *error, url, reply.retries);
    }
    throw_malformed(http, "the answer from " + url + " has no \"content\"", reply.body,
                    reply.retries);
  }
  ChatResponse response;
  for (const auto& block : *content) {
    const std::string type = detail::string_field(block, "type");
    if (type == "text") {
      response.content += detail::string_field(block, "text");
    } else if (type == "tool_use") {
      const auto* input = detail::field(block, "input");
      response.tool_calls.push_back({detail::string_field(block, "id"),
                                     detail::string_field(block, "name"),
                                     input ? detail::dump_body(*input) : std::string("{}")});
    }
    // Thinking blocks are not part of the answer.
  }
  response.finish_reason = normalised_stop_reason(detail::string_field(body, "stop_reason"));
  response.model = detail::string_field(body, "model");
  if (const auto* usage = detail::field(body, "usage")) response.usage = parse_usage(*usage);
  response.retries = reply.retries;
  return response;
}

// The events of a streamed message, put back together as they arrive.
class StreamAssembler {
 public:
  StreamAssembler(const detail::HttpClient& http, std::string url, const ChatRequest& request,
                  Clock::time_point started)
      : http_(http), url_(std::move(url)), on_text_(request.on_text), started_(started) {}

  void on_event(const detail::SseEvent& event) {
    ++events_;
    const json data = json::parse(event.data, nullptr, false);
    if (data.is_discarded() || !data.is_object()) {
      throw_malformed(http_,
                      "the stream from " + url_ + " carries an event that is not a JSON object",
                      event.data, 0);
    }
    std::string type = detail::string_field(data, "type");
    if (type.empty()) type = event.event;

    if (type == "message_start") {
      const json message = data.value("message", json::object());
      if (auto model = detail::string_field(message, "model"); !model.empty()) {
        response_.model = std::move(model);
      }
      if (const auto* usage = detail::field(message, "usage")) {
        prompt_.update_from(*usage);
        output_tokens_ = detail::count_field(*usage, "output_tokens");
      }
    } else if (type == "content_block_start") {
      const auto index = detail::int_field(data, "index");
      const json block = data.value("content_block", json::object());
      const std::string block_type = detail::string_field(block, "type");
      if (block_type == "text") {
        append_text(detail::string_field(block, "text"));
      } else if (block_type == "tool_use") {
        mark_first_token();
        auto& call = tool_calls_[index];
        call.request.id = detail::string_field(block, "id");
        call.request.name = detail::string_field(block, "name");
        const auto* input = detail::field(block, "input");
        if (input != nullptr && !input->empty()) call.initial_input = detail::dump_body(*input);
      }
    } else if (type == "content_block_delta") {
      const json delta = data.value("delta", json::object());
      const std::string delta_type = detail::string_field(delta, "type");
      if (delta_type == "text_delta") {
        append_text(detail::string_field(delta, "text"));
      } else if (delta_type == "input_json_delta") {
        mark_first_token();
        tool_calls_[detail::int_field(data, "index")].request.arguments +=
            detail::string_field(delta, "partial_json");
      }
    } else if (type == "message_delta") {
      if (const auto* delta = detail::field(data, "delta")) {
        if (auto reason = detail::string_field(*delta, "stop_reason"); !reason.empty()) {
          stop_reason_ = std::move(reason);
        }
      }
      if (const auto* usage = detail::field(data, "usage")) {
        // Its counts are totals so far, not increments.
        prompt_.update_from(*usage);
        if (detail::field(*usage, "output_tokens")) {
          output_tokens_ = detail::count_field(*usage, "output_tokens");
        }
      }
    } else if (type == "message_stop") {
      done_ = true;
    } else if (type == "error") {
      throw_embedded_error(http_, data.value("error", json::object()), url_, 0);
    }
    // ping and content_block_stop carry nothing to keep.
  }

  ChatResponse finish(int retries) {
    if (events_ == 0) {
      throw LlmError(LlmErrorKind::malformed,
                     http_.message("the stream from " + url_ +
                                   " ended without any event: check that the base URL points "
                                   "to Anthropic's Messages API"),
                     0, retries);
    }
    if (!done_ && stop_reason_.empty()) {
      throw LlmError(LlmErrorKind::malformed,
                     http_.message("the stream from " + url_ +
                                   " ended before the message did (no message_stop)"),
                     0, retries);
    }
    for (auto& [index, call] : tool_calls_) {
      if (call.request.arguments.empty()) call.request.arguments = call.initial_input;
      response_.tool_calls.push_back(std::move(call.request));
    }
    response_.finish_reason = normalised_stop_reason(stop_reason_);
    prompt_.apply_to(response_.usage);
    response_.usage.completion_tokens = output_tokens_;
    response_.retries = retries;
    return std::move(response_);
  }

 private:
  struct PendingToolCall {
    ToolCallRequest request;
    std::string initial_input = "{}";  // used when no input_json_delta follows
  };

  void mark_first_token() {
    if (!response_.time_to_first_token) response_.time_to_first_token = seconds_since(started_);
  }

  void append_text(const std::string& text) {
    if (text.empty()) return;
    mark_first_token();
    response_.content += text;
    if (on_text_) on_text_(text);
  }

  const detail::HttpClient& http_;
  std::string url_;
  const std::function<void(std::string_view)>& on_text_;
  Clock::time_point started_;
  ChatResponse response_;
  std::map<std::int64_t, PendingToolCall> tool_calls_;
  PromptCounts prompt_;
  std::int64_t output_tokens_ = 0;
  std::string stop_reason_;
  std::size_t events_ = 0;
  bool done_ = false;
};

}  // namespace

namespace detail {

ChatResponse parse_anthropic_answer(const HttpClient& http, const std::string& url,
                                    const HttpReply& reply) {
  return parse_answer(http, url, reply);
}

ChatResponse assemble_anthropic_stream(const HttpClient& http, const std::string& url,
                                       const ChatRequest& request, Clock::time_point started,
                                       const StreamTransfer& transfer) {
  StreamAssembler assembler(http, url, request, started);
  SseParser parser([&](const SseEvent& event) { assembler.on_event(event); });
  const auto reply = transfer([&](std::string_view chunk) { parser.feed(chunk); });
  parser.finish();
  return assembler.finish(reply.retries);
}

}  // namespace detail

AnthropicClient::AnthropicClient(ProviderSettings settings, std::string provider)
    : settings_(std::move(settings)), provider_(std::move(provider)) {
  std::string base = settings_.base_url.empty() ? "https://api.anthropic.com" : settings_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  // ANTHROPIC_BASE_URL names the server, but a URL ending in the version is meant the same.
  endpoint_ = base.ends_with("/v1") ? base + "/messages" : base + "/v1/messages";
}

ChatResponse AnthropicClient::complete(const ChatRequest& request) {
  const auto started = Clock::now();
  const detail::HttpClient http(settings_.http, detail::error_context_for(provider_, settings_));
  detail::HttpPost post{endpoint_,
                        {"Content-Type: application/json",
                         request.stream ? "Accept: text/event-stream" : "Accept: application/json",
                         std::string("anthropic-version: ") + kApiVersion},
                        detail::dump_body(request_body(request))};
  if (!settings_.api_key.empty()) post.headers.push_back("x-api-key: " + settings_.api_key);

  ChatResponse response;
  if (request.stream) {
    response = detail::assemble_anthropic_stream(
        http, endpoint_, request, started,
        [&](const detail::ChunkHandler& on_chunk) { return http.post(post, on_chunk); });
  } else {
    response = detail::parse_anthropic_answer(http, endpoint_, http.post(post));
  }
  if (response.model.empty()) response.model = request.model;
  response.provider = provider_;
  response.duration = seconds_since(started);
  return response;
}

}  // namespace kagura::llm
