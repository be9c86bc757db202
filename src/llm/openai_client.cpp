#include "kagura/llm/openai_client.hpp"

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "llm/http_client.hpp"
#include "llm/openai_wire.hpp"
#include "llm/provider_registry.hpp"
#include "llm/sse_parser.hpp"
#include "llm/wire_json.hpp"
#include "telemetry/elapsed.hpp"

namespace kagura::llm {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

using telemetry::detail::seconds_since;

json message_to_wire(const Message& message) {
  json wire = {{"role", message.role}};
  if (message.role == "assistant" && !message.tool_calls.empty()) {
    // An assistant turn that only calls tools has no text, which the API wants as null.
    wire["content"] = message.content.empty() ? json(nullptr) : json(message.content);
    json calls = json::array();
    for (const auto& call : message.tool_calls) {
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    wire["tool_calls"] = std::move(calls);
    return wire;
  }
  wire["content"] = message.content;
  if (message.role == "tool") wire["tool_call_id"] = message.tool_call_id;
  return wire;
}

json request_body(const ChatRequest& request) {
  json body = {{"model", request.model}, {"messages", json::array()}};
  for (const auto& message : request.messages) body["messages"].push_back(message_to_wire(message));
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const auto& tool : request.tools) {
      tools.push_back({{"type", "function"},
                       {"function",
                        {{"name", tool.name},
                         {"description", tool.description},
                         {"parameters", tool.parameters}}}});
    }
    body["tools"] = std::move(tools);
  }
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  if (request.stream) {
    body["stream"] = true;
    // Without it a stream carries no token counts at all.
    body["stream_options"] = {{"include_usage", true}};
  }
  if (request.extra.is_object()) body.merge_patch(request.extra);
  return body;
}

Usage parse_usage(const json& usage) {
  Usage out;
  out.prompt_tokens = detail::count_field(usage, "prompt_tokens");
  out.completion_tokens = detail::count_field(usage, "completion_tokens");
  if (const auto* details = detail::field(usage, "prompt_tokens_details")) {
    out.cached_tokens = detail::count_field(*details, "cached_tokens");
  }
  if (const auto* details = detail::field(usage, "completion_tokens_details")) {
    out.reasoning_tokens = detail::count_field(*details, "reasoning_tokens");
  }
  return out;
}

// Some servers answer with a list of content parts instead of a string.
std::string content_text(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (content.is_array()) {
    for (const auto& part : content) text += detail::string_field(part, "text");
  }
  return text;
}

// Arguments are JSON text; a few servers send the object itself.
std::string arguments_text(const json& function) {
  const auto* arguments = detail::field(function, "arguments");
  if (arguments == nullptr) return {};
  return arguments->is_string() ? arguments->get<std::string>() : detail::dump_body(*arguments);
}

// An error reported inside a 200 answer or a stream (OpenRouter, LiteLLM do this).
[[noreturn]] void throw_embedded_error(const detail::HttpClient& http, const json& error,
                                       const std::string& url, int retries) {
  const int status = static_cast<int>(detail::int_field(error, "code"));
  const std::string text =
      error.is_string() ? error.get<std::string>() : detail::string_field(error, "message");
  throw LlmError(LlmErrorKind::http_status,
                 http.message("error reported by " + url + ": " +
                              (text.empty() ? detail::quote_prefix(error.dump()) : text)),
                 status, retries);
}

[[noreturn]] void throw_malformed(const detail::HttpClient& http, const std::string& what,
                                  std::string_view body, int retries) {
  detail::throw_malformed(http, what, body, retries, "an OpenAI-compatible API");
}

ChatResponse parse_answer(const detail::HttpClient& http, const std::string& url,
                          const detail::HttpReply& reply) {
  const json body = json::parse(reply.body, nullptr, false);
  if (body.is_discarded()) {
    throw_malformed(http, "the answer from " + url + " is not JSON", reply.body, reply.retries);
  }
  const auto* choices = detail::field(body, "choices");
  if (choices == nullptr || !choices->is_array()) {
    if (const auto* error = detail::field(body, "error")) {
      throw_embedded_error(http, *error, url, reply.retries);
    }
    throw_malformed(http, "the answer from " + url + " has no \"choices\"", reply.body,
                    reply.retries);
  }
  if (choices->empty() || !(*choices)[0].is_object()) {
    throw_malformed(http, "the answer from " + url + " has no choice in \"choices\"", reply.body,
                    reply.retries);
  }
  const json& choice = (*choices)[0];
  const auto* message = detail::field(choice, "message");
  if (message == nullptr || !message->is_object()) {
    throw_malformed(http, "the first choice from " + url + " has no \"message\"", reply.body,
                    reply.retries);
  }

  ChatResponse response;
  if (const auto* content = detail::field(*message, "content")) {
    response.content = content_text(*content);
  }
  if (const auto* calls = detail::field(*message, "tool_calls"); calls && calls->is_array()) {
    for (const auto& call : *calls) {
      const json function = call.is_object() ? call.value("function", json::object()) : json();
      response.tool_calls.push_back({detail::string_field(call, "id"),
                                     detail::string_field(function, "name"),
                                     arguments_text(function)});
    }
  }
  response.finish_reason = detail::string_field(choice, "finish_reason");
  response.model = detail::string_field(body, "model");
  if (const auto* usage = detail::field(body, "usage")) response.usage = parse_usage(*usage);
  response.retries = reply.retries;
  return response;
}

// The pieces of a streamed answer, put back together as they arrive.
class StreamAssembler {
 public:
  StreamAssembler(const detail::HttpClient& http, std::string url, const ChatRequest& request,
                  Clock::time_point started)
      : http_(http), url_(std::move(url)), on_text_(request.on_text), started_(started) {}

  void on_event(const detail::SseEvent& event) {
    ++events_;
    if (event.data == "[DONE]") {
      done_ = true;
      return;
    }
    const json chunk = json::parse(event.data, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object()) {
      throw_malformed(http_,
                      "the stream from " + url_ + " carries an event that is not a JSON object",
                      event.data, 0);
    }
    if (const auto* error = detail::field(chunk, "error")) {
      throw_embedded_error(http_, *error, url_, 0);
    }
    if (auto model = detail::string_field(chunk, "model"); !model.empty()) {
      response_.model = std::move(model);
    }
    if (const auto* usage = detail::field(chunk, "usage"); usage && usage->is_object()) {
      response_.usage = parse_usage(*usage);
    }
    const auto* choices = detail::field(chunk, "choices");
    if (choices == nullptr || !choices->is_array()) return;
    for (const auto& choice : *choices) {
      // Only the first choice is assembled, as in the non-streamed answer.
      if (detail::int_field(choice, "index") != 0) continue;
      if (auto reason = detail::string_field(choice, "finish_reason"); !reason.empty()) {
        response_.finish_reason = std::move(reason);
      }
      const auto* delta = detail::field(choice, "delta");
      if (delta == nullptr) continue;
      if (const auto* content = detail::field(*delta, "content")) {
        const std::string piece = content_text(*content);
        if (!piece.empty()) {
          mark_first_token();
          response_.content += piece;
          if (on_text_) on_text_(piece);
        }
      }
      if (const auto* calls = detail::field(*delta, "tool_calls"); calls && calls->is_array()) {
        for (std::size_t position = 0; position < calls->size(); ++position) {
          add_tool_call_fragment((*calls)[position], static_cast<std::int64_t>(position));
        }
      }
    }
  }

  ChatResponse finish(int retries) {
    if (events_ == 0) {
      throw LlmError(LlmErrorKind::malformed,
                     http_.message("the stream from " + url_ +
                                   " ended without any event: check that the server supports "
                                   "\"stream\": true"),
                     0, retries);
    }
    if (!done_ && response_.finish_reason.empty()) {
      throw LlmError(LlmErrorKind::malformed,
                     http_.message("the stream from " + url_ +
                                   " ended before the answer did (no finish_reason, no [DONE])"),
                     0, retries);
    }
    for (auto& [index, call] : tool_calls_) response_.tool_calls.push_back(std::move(call));
    response_.retries = retries;
    return std::move(response_);
  }

 private:
  void mark_first_token() {
    if (!response_.time_to_first_token) response_.time_to_first_token = seconds_since(started_);
  }

  // A call arrives in fragments keyed by its index: the id and name first, then the
  // arguments piece by piece.
  void add_tool_call_fragment(const json& fragment, std::int64_t position) {
    if (!fragment.is_object()) return;
    const auto* index_field = detail::field(fragment, "index");
    const std::int64_t index = index_field ? detail::int_field(fragment, "index") : position;
    auto& call = tool_calls_[index];
    mark_first_token();
    if (auto id = detail::string_field(fragment, "id"); !id.empty() && call.id.empty()) {
      call.id = std::move(id);
    }
    if (const auto* function = detail::field(fragment, "function")) {
      call.name += detail::string_field(*function, "name");
      call.arguments += arguments_text(*function);
    }
  }

  const detail::HttpClient& http_;
  std::string url_;
  const std::function<void(std::string_view)>& on_text_;
  Clock::time_point started_;
  ChatResponse response_;
  std::map<std::int64_t, ToolCallRequest> tool_calls_;
  std::size_t events_ = 0;
  bool done_ = false;
};

}  // namespace

namespace detail {

ChatResponse parse_openai_answer(const HttpClient& http, const std::string& url,
                                 const HttpReply& reply) {
  return parse_answer(http, url, reply);
}

ChatResponse assemble_openai_stream(const HttpClient& http, const std::string& url,
                                    const ChatRequest& request, Clock::time_point started,
                                    const StreamTransfer& transfer) {
  StreamAssembler assembler(http, url, request, started);
  SseParser parser([&](const SseEvent& event) { assembler.on_event(event); });
  const auto reply = transfer([&](std::string_view chunk) { parser.feed(chunk); });
  parser.finish();
  return assembler.finish(reply.retries);
}

}  // namespace detail

OpenAiClient::OpenAiClient(ProviderSettings settings, std::string provider)
    : settings_(std::move(settings)), provider_(std::move(provider)) {
  std::string base = settings_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  endpoint_ = base + "/chat/completions";
}

ChatResponse OpenAiClient::complete(const ChatRequest& request) {
  const auto started = Clock::now();
  const detail::HttpClient http(settings_.http, detail::error_context_for(provider_, settings_));
  detail::HttpPost post{endpoint_,
                        {"Content-Type: application/json",
                         request.stream ? "Accept: text/event-stream" : "Accept: application/json"},
                        detail::dump_body(request_body(request))};
  if (!settings_.api_key.empty())
    post.headers.push_back("Authorization: Bearer " + settings_.api_key);

  ChatResponse response;
  if (request.stream) {
    response = detail::assemble_openai_stream(
        http, endpoint_, request, started,
        [&](const detail::ChunkHandler& on_chunk) { return http.post(post, on_chunk); });
  } else {
    response = detail::parse_openai_answer(http, endpoint_, http.post(post));
  }
  if (response.model.empty()) response.model = request.model;
  response.provider = provider_;
  response.duration = seconds_since(started);
  return response;
}

}  // namespace kagura::llm
