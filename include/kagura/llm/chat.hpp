#pragma once

// The provider-neutral shape of one chat completion: what an agent sends and what comes back.
// Clients translate it to and from each provider's wire format.

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kagura::llm {

// Every member has a default initializer so that designated initializers that name only some
// members ({.model = ..., .messages = ...}) stay free of -Wmissing-field-initializers.

// A function call the model asks for.
struct ToolCallRequest {
  std::string id{};  // the provider's id, echoed back with the result
  std::string name{};
  std::string arguments{};  // JSON text, as the model wrote it (it may be malformed)
};

struct Message {
  std::string role{};  // "system", "user", "assistant" or "tool"
  std::string content{};
  std::vector<ToolCallRequest> tool_calls{};  // assistant messages that call tools
  std::string tool_call_id{};                 // tool messages: the call they answer
  std::string name{};                         // tool messages: the tool's name

  static Message system(std::string text) { return {"system", std::move(text), {}, {}, {}}; }
  static Message user(std::string text) { return {"user", std::move(text), {}, {}, {}}; }
  static Message assistant(std::string text, std::vector<ToolCallRequest> calls = {}) {
    return {"assistant", std::move(text), std::move(calls), {}, {}};
  }
  static Message tool_result(std::string call_id, std::string tool_name, std::string text) {
    return {"tool", std::move(text), {}, std::move(call_id), std::move(tool_name)};
  }
};

// A tool as the model sees it: a name, what it does, and a JSON schema of its parameters.
struct ToolSpec {
  std::string name{};
  std::string description{};
  nlohmann::json parameters = nlohmann::json::object();  // JSON Schema, type "object"
};

struct ChatRequest {
  std::string model{};  // the provider's model name, without the "provider/" prefix
  std::vector<Message> messages{};
  std::vector<ToolSpec> tools{};
  std::optional<double> temperature{};
  std::optional<double> top_p{};
  std::optional<std::int64_t> max_tokens{};
  // Server-sent events; on_text receives each piece of the answer as it arrives.
  bool stream = false;
  std::function<void(std::string_view text)> on_text{};
  // Merged into the request body last, for provider options this struct does not name.
  nlohmann::json extra = nlohmann::json::object();
};

struct Usage {
  std::int64_t prompt_tokens = 0;       // includes cached_tokens
  std::int64_t completion_tokens = 0;   // includes reasoning_tokens
  std::int64_t cached_tokens = 0;       // prompt tokens read from the provider's cache
  std::int64_t cache_write_tokens = 0;  // prompt tokens written to it (Anthropic)
  std::int64_t reasoning_tokens = 0;
};

struct ChatResponse {
  std::string content{};
  std::vector<ToolCallRequest> tool_calls{};
  std::string finish_reason{};  // normalised: "stop", "length", "tool_calls", "content_filter", ...
  std::string model{};          // as the response reports it (may differ from the request)
  std::string provider{};       // "openai", "anthropic", "ollama", ...
  Usage usage{};
  double duration = 0.0;                        // seconds, including retries
  std::optional<double> time_to_first_token{};  // seconds, streaming only
  int retries = 0;                              // attempts beyond the first
};

}  // namespace kagura::llm
