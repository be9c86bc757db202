#pragma once

// The toy model behind examples/toy_llm_server and bench/agent_overhead_bench: it answers an
// OpenAI Chat Completions request deterministically and instantly, so that examples run without
// an API key and benchmarks measure Kagura rather than a model.
//
// It is no model. When the request offers tools and none has answered yet, it asks for the
// first tool with every required string parameter set to the last user message; otherwise it
// answers with a sentence built from the last user message and any tool results. Token counts
// are words times 4/3, like a tokenizer would roughly give. It answers as the model requested.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace kagura::examples {

using nlohmann::json;

// With a charset, cpp-httplib leaves the body uncompressed: brotli-compressing each tiny answer
// cost the toy server more CPU than everything else in a call.
inline constexpr const char* kJsonContentType = "application/json; charset=utf-8";

inline std::int64_t tokens_of(const std::string& text) {
  std::istringstream words(text);
  std::int64_t count = 0;
  for (std::string word; words >> word;) ++count;
  return count * 4 / 3 + 1;
}

inline json reply(const json& request) {
  const auto& messages = request.at("messages");
  std::string last_user;
  std::string tool_results;
  std::int64_t prompt_tokens = 0;
  for (const auto& m : messages) {
    const std::string content =
        m.value("content", json("")).is_string() ? m.value("content", "") : "";
    prompt_tokens += tokens_of(content);
    if (m.at("role") == "user") {
      last_user = content;
      tool_results.clear();
    }
    if (m.at("role") == "tool") tool_results += (tool_results.empty() ? "" : "; ") + content;
  }
  json message = {{"role", "assistant"}};
  std::string finish_reason = "stop";
  const bool tools_offered = request.contains("tools") && !request.at("tools").empty();
  if (tools_offered && tool_results.empty()) {
    const auto& function = request.at("tools").at(0).at("function");
    json arguments = json::object();
    const auto parameters = function.value("parameters", json::object());
    for (const auto& name : parameters.value("required", json::array())) {
      arguments[name.get<std::string>()] = last_user;
    }
    message["content"] = nullptr;
    message["tool_calls"] = {
        {{"id", "call_toy_1"},
         {"type", "function"},
         {"function", {{"name", function.at("name")}, {"arguments", arguments.dump()}}}}};
    finish_reason = "tool_calls";
  } else {
    std::string answer = "Here is my answer to \"" + last_user.substr(0, 80) + "\"";
    if (!tool_results.empty()) answer += ", based on: " + tool_results.substr(0, 120);
    message["content"] = answer + ".";
  }
  const std::int64_t completion_tokens =
      tokens_of(message["content"].is_string() ? message["content"].get<std::string>() : "call");
  return {{"id", "chatcmpl-toy"},
          {"object", "chat.completion"},
          {"model", request.value("model", "toy")},
          {"choices", {{{"index", 0}, {"message", message}, {"finish_reason", finish_reason}}}},
          {"usage",
           {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}}}};
}

}  // namespace kagura::examples
