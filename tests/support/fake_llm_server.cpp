#include "support/fake_llm_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "support/loopback_server.hpp"

namespace kagura::test {
namespace {

using nlohmann::json;

enum class Api { openai, anthropic };

// Long enough that a stream's first token comes measurably before its end, short enough to
// keep the tests fast.
constexpr std::chrono::milliseconds kGapBetweenEvents{5};
// Enough workers for the agent tests' concurrent callers, each of which may be held by a delay.
constexpr std::size_t kWorkerThreads = 16;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Up to `parts` pieces of `text`, never splitting a UTF-8 sequence (the JSON encoder rejects
// half a character).
std::vector<std::string> split_text(const std::string& text, std::size_t parts) {
  std::vector<std::string> pieces;
  if (text.empty()) return pieces;
  const std::size_t target = std::max<std::size_t>(1, (text.size() + parts - 1) / parts);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + target);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    pieces.push_back(text.substr(start, end - start));
    start = end;
  }
  return pieces;
}

json tool_input(const std::string& arguments) {
  json input = json::parse(arguments, nullptr, false);
  return input.is_object() ? input : json::object();
}

std::string anthropic_stop_reason(const std::string& finish_reason) {
  if (finish_reason == "stop") return "end_turn";
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls") return "tool_use";
  return finish_reason;
}

json openai_usage(const llm::Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}}};
}

// Anthropic's input_tokens exclude the cached tokens that Usage::prompt_tokens includes.
json anthropic_usage(const llm::Usage& usage) {
  return {{"input_tokens", std::max<std::int64_t>(0, usage.prompt_tokens - usage.cached_tokens -
                                                         usage.cache_write_tokens)},
          {"cache_read_input_tokens", usage.cached_tokens},
          {"cache_creation_input_tokens", usage.cache_write_tokens},
          {"output_tokens", usage.completion_tokens}};
}

std::string error_body(Api api, int status, const std::string& message) {
  if (api == Api::openai) {
    return json{{"error",
                 {{"message", message},
                  {"type", status >= 500 ? "server_error" : "invalid_request_error"},
                  {"param", nullptr},
                  {"code", nullptr}}}}
        .dump();
  }
  const std::string type = status == 429   ? "rate_limit_error"
                           : status == 401 ? "authentication_error"
                           : status >= 500 ? "api_error"
                                           : "invalid_request_error";
  return json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump();
}

// What one reply says, whatever the API.
struct Answer {
  const ScriptedReply& reply;
  std::string model;
  std::string finish_reason;
  std::string id;
};

json openai_answer(const Answer& answer) {
  json message = {{"role", "assistant"}};
  const bool calls = !answer.reply.tool_calls.empty();
  message["content"] =
      calls && answer.reply.content.empty() ? json(nullptr) : json(answer.reply.content);
  if (calls) {
    json wire = json::array();
    for (const auto& call : answer.reply.tool_calls) {
      wire.push_back({{"id", call.id},
                      {"type", "function"},
                      {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    message["tool_calls"] = std::move(wire);
  }
  return {{"id", answer.id},
          {"object", "chat.completion"},
          {"created", 1700000000},
          {"model", answer.model},
          {"choices", json::array({{{"index", 0},
                                    {"message", std::move(message)},
                                    {"logprobs", nullptr},
                                    {"finish_reason", answer.finish_reason}}})},
          {"usage", openai_usage(answer.reply.usage)}};
}

json anthropic_answer(const Answer& answer) {
  json content = json::array();
  if (!answer.reply.content.empty()) {
    content.push_back({{"type", "text"}, {"text", answer.reply.content}});
  }
  for (const auto& call : answer.reply.tool_calls) {
    content.push_back({{"type", "tool_use"},
                       {"id", call.id},
                       {"name", call.name},
                       {"input", tool_input(call.arguments)}});
  }
  return {{"id", answer.id},
          {"type", "message"},
          {"role", "assistant"},
          {"model", answer.model},
          {"content", std::move(content)},
          {"stop_reason", anthropic_stop_reason(answer.finish_reason)},
          {"stop_sequence", nullptr},
          {"usage", anthropic_usage(answer.reply.usage)}};
}

std::vector<std::string> openai_events(const Answer& answer, bool include_usage) {
  std::vector<std::string> events;
  const auto chunk = [&](json choices) {
    json out = {{"id", answer.id},
                {"object", "chat.completion.chunk"},
                {"created", 1700000000},
                {"model", answer.model},
                {"choices", std::move(choices)}};
    // As OpenAI does: every chunk has the field, only the last one a value.
    if (include_usage) out["usage"] = nullptr;
    return out;
  };
  const auto emit = [&](const json& data) { events.push_back("data: " + data.dump() + "\n\n"); };
  const auto delta = [&](json delta_value) {
    return json::array(
        {{{"index", 0}, {"delta", std::move(delta_value)}, {"finish_reason", nullptr}}});
  };

  emit(chunk(delta({{"role", "assistant"}, {"content", ""}})));
  for (const auto& piece : split_text(answer.reply.content, 4)) {
    emit(chunk(delta({{"content", piece}})));
  }
  for (std::size_t index = 0; index < answer.reply.tool_calls.size(); ++index) {
    const auto& call = answer.reply.tool_calls[index];
    emit(chunk(delta({{"tool_calls",
                       json::array({{{"index", index},
                                     {"id", call.id},
                                     {"type", "function"},
                                     {"function", {{"name", call.name}, {"arguments", ""}}}}})}})));
    for (const auto& piece : split_text(call.arguments, 3)) {
      emit(chunk(delta({{"tool_calls", json::array({{{"index", index},
                                                     {"function", {{"arguments", piece}}}}})}})));
    }
  }
  emit(chunk(json::array(
      {{{"index", 0}, {"delta", json::object()}, {"finish_reason", answer.finish_reason}}})));
  if (include_usage) {
    json last = chunk(json::array());
    last["usage"] = openai_usage(answer.reply.usage);
    emit(last);
  }
  events.push_back("data: [DONE]\n\n");
  return events;
}

std::vector<std::string> anthropic_events(const Answer& answer) {
  std::vector<std::string> events;
  const auto emit = [&](const std::string& type, json data) {
    data["type"] = type;
    events.push_back("event: " + type + "\ndata: " + data.dump() + "\n\n");
  };
  json start_usage = anthropic_usage(answer.reply.usage);
  start_usage["output_tokens"] = 1;  // Anthropic reports a placeholder until message_delta
  emit("message_start", {{"message",
                          {{"id", answer.id},
                           {"type", "message"},
                           {"role", "assistant"},
                           {"model", answer.model},
                           {"content", json::array()},
                           {"stop_reason", nullptr},
                           {"stop_sequence", nullptr},
                           {"usage", std::move(start_usage)}}}});
  emit("ping", json::object());
  int index = 0;
  if (!answer.reply.content.empty()) {
    emit("content_block_start",
         {{"index", index}, {"content_block", {{"type", "text"}, {"text", ""}}}});
    for (const auto& piece : split_text(answer.reply.content, 4)) {
      emit("content_block_delta",
           {{"index", index}, {"delta", {{"type", "text_delta"}, {"text", piece}}}});
    }
    emit("content_block_stop", {{"index", index}});
    ++index;
  }
  for (const auto& call : answer.reply.tool_calls) {
    emit("content_block_start", {{"index", index},
                                 {"content_block",
                                  {{"type", "tool_use"},
                                   {"id", call.id},
                                   {"name", call.name},
                                   {"input", json::object()}}}});
    for (const auto& piece : split_text(tool_input(call.arguments).dump(), 3)) {
      emit("content_block_delta",
           {{"index", index}, {"delta", {{"type", "input_json_delta"}, {"partial_json", piece}}}});
    }
    emit("content_block_stop", {{"index", index}});
    ++index;
  }
  emit(
      "message_delta",
      {{"delta",
        {{"stop_reason", anthropic_stop_reason(answer.finish_reason)}, {"stop_sequence", nullptr}}},
       {"usage", {{"output_tokens", answer.reply.usage.completion_tokens}}}});
  emit("message_stop", json::object());
  return events;
}

}  // namespace

struct FakeLlmServer::State {
  LoopbackServer http{"FakeLlmServer"};

  mutable std::mutex mutex;
  std::condition_variable stopping_changed;
  bool stopping = false;
  std::deque<ScriptedReply> queue;
  std::optional<ScriptedReply> default_reply;
  std::vector<json> requests;
  std::vector<std::map<std::string, std::string>> headers;

  // Waits `duration`, or less when the server stops; false when it stops.
  bool pause(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex);
    return !stopping_changed.wait_for(lock, duration, [this] { return stopping; });
  }

  void handle(Api api, const httplib::Request& request, httplib::Response& response);
};

void FakeLlmServer::State::handle(Api api, const httplib::Request& request,
                                  httplib::Response& response) {
  const json body = json::parse(request.body, nullptr, false);
  std::map<std::string, std::string> lower_headers;
  for (const auto& [name, value] : request.headers) lower_headers[lower(name)] = value;

  ScriptedReply reply;
  std::size_t number = 0;
  {
    std::lock_guard lock(mutex);
    requests.push_back(body.is_discarded() ? json(request.body) : body);
    headers.push_back(std::move(lower_headers));
    number = requests.size();
    if (!queue.empty()) {
      reply = std::move(queue.front());
      queue.pop_front();
    } else if (default_reply) {
      reply = *default_reply;
    } else {
      reply.status = 400;  // not retried, so the test fails at once with this message
      reply.raw_body =
          error_body(api, 400,
                     "FakeLlmServer has no scripted reply for request #" + std::to_string(number) +
                         ": enqueue() one more reply or call set_default_reply()");
    }
  }
  if (reply.delay.count() > 0 && !pause(reply.delay)) return;

  const bool stream = body.is_object() && body.value("stream", false) == true;
  for (const auto& [name, value] : reply.headers) response.set_header(name, value);
  response.status = reply.status;
  if (!reply.raw_body.empty()) {
    const bool ok = reply.status >= 200 && reply.status < 300;
    response.set_content(reply.raw_body, stream && ok ? "text/event-stream" : "application/json");
    return;
  }
  if (!body.is_object()) {
    response.status = 400;
    response.set_content(
        error_body(api, 400, "FakeLlmServer: the request body is not a JSON object"),
        "application/json");
    return;
  }
  if (reply.status >= 300) {
    response.set_content(error_body(api, reply.status,
                                    "FakeLlmServer: scripted HTTP " + std::to_string(reply.status)),
                         "application/json");
    return;
  }

  std::string finish_reason = reply.finish_reason;
  if (finish_reason.empty()) finish_reason = reply.tool_calls.empty() ? "stop" : "tool_calls";
  const std::string model =
      reply.model.empty() && body.contains("model") && body["model"].is_string()
          ? body["model"].get<std::string>()
          : reply.model;
  const Answer answer{
      reply, model, finish_reason,
      (api == Api::openai ? "chatcmpl-fake-" : "msg_fake_") + std::to_string(number)};

  if (!stream) {
    const json out = api == Api::openai ? openai_answer(answer) : anthropic_answer(answer);
    response.set_content(out.dump(), "application/json");
    return;
  }
  bool include_usage = false;
  if (const auto options = body.find("stream_options");
      options != body.end() && options->is_object()) {
    include_usage = options->value("include_usage", false) == true;
  }
  auto events = std::make_shared<std::vector<std::string>>(
      api == Api::openai ? openai_events(answer, include_usage) : anthropic_events(answer));
  auto next = std::make_shared<std::size_t>(0);
  response.set_header("Cache-Control", "no-cache");
  response.set_chunked_content_provider("text/event-stream",
                                        [this, events, next](std::size_t, httplib::DataSink& sink) {
                                          if (*next == events->size()) {
                                            sink.done();
                                            return true;
                                          }
                                          if (*next > 0 && !pause(kGapBetweenEvents)) return false;
                                          const std::string& event = (*events)[(*next)++];
                                          return sink.write(event.data(), event.size());
                                        });
}

FakeLlmServer::FakeLlmServer() : state_(std::make_unique<State>()) {
  State& state = *state_;
  httplib::Server& server = state.http.server();
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // One request per connection: a stopping server then never waits on an idle keep-alive.
  server.set_keep_alive_max_count(1);
  server.Post("/v1/chat/completions",
              [&state](const httplib::Request& request, httplib::Response& response) {
                state.handle(Api::openai, request, response);
              });
  server.Post("/v1/messages",
              [&state](const httplib::Request& request, httplib::Response& response) {
                state.handle(Api::anthropic, request, response);
              });
  state.http.start();
}

FakeLlmServer::~FakeLlmServer() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->stopping_changed.notify_all();
  state_->http.stop();
}

std::string FakeLlmServer::openai_base_url() const {
  return anthropic_base_url() + "/v1";
}

std::string FakeLlmServer::anthropic_base_url() const {
  return "http://127.0.0.1:" + std::to_string(state_->http.port());
}

int FakeLlmServer::port() const {
  return state_->http.port();
}

void FakeLlmServer::enqueue(ScriptedReply reply) {
  std::lock_guard lock(state_->mutex);
  state_->queue.push_back(std::move(reply));
}

void FakeLlmServer::set_default_reply(ScriptedReply reply) {
  std::lock_guard lock(state_->mutex);
  state_->default_reply = std::move(reply);
}

std::vector<json> FakeLlmServer::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

std::vector<std::map<std::string, std::string>> FakeLlmServer::request_headers() const {
  std::lock_guard lock(state_->mutex);
  return state_->headers;
}

std::size_t FakeLlmServer::request_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests.size();
}

}  // namespace kagura::test
