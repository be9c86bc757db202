#pragma once

// A scripted LLM server for tests: real HTTP on 127.0.0.1 (a free port chosen by the OS),
// speaking OpenAI's Chat Completions API (POST /v1/chat/completions) and Anthropic's Messages
// API (POST /v1/messages), streamed or not, with the answers the test enqueues.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kagura/llm/chat.hpp"

namespace kagura::test {

struct ScriptedReply {
  int status = 200;
  std::string content{};                           // the answer text
  std::vector<llm::ToolCallRequest> tool_calls{};  // the model asks for these
  // Default "stop", or "tool_calls" when tool_calls is not empty (mapped to Anthropic's
  // stop_reason).
  std::string finish_reason{};
  std::string model{};  // reported model; default: the request's model
  llm::Usage usage{.prompt_tokens = 10, .completion_tokens = 5};
  std::string raw_body{};                        // when set, sent verbatim instead
  std::chrono::milliseconds delay{0};            // wait before answering (timeout tests)
  std::map<std::string, std::string> headers{};  // extra response headers, e.g. Retry-After
};

class FakeLlmServer {
 public:
  // Listening when the constructor returns; throws std::runtime_error if it cannot bind.
  FakeLlmServer();
  // Stops the server; replies still waiting out their delay are cut short.
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  std::string openai_base_url() const;     // "http://127.0.0.1:PORT/v1"
  std::string anthropic_base_url() const;  // "http://127.0.0.1:PORT"
  int port() const;

  // Served in order, one per request, on either API.
  void enqueue(ScriptedReply reply);
  // Served when the queue is empty. Without one, such a request gets a 400 whose message
  // says that the test scripted too few replies.
  void set_default_reply(ScriptedReply reply);

  std::vector<nlohmann::json> requests() const;  // bodies received, in order
  std::vector<std::map<std::string, std::string>> request_headers() const;  // lower-case names
  std::size_t request_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kagura::test
