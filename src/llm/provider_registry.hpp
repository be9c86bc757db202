#pragma once

// What Kagura knows about each provider: its API style, where its key and base URL come from,
// and its default base URL.

#include <array>
#include <string>
#include <string_view>

#include "kagura/llm/providers.hpp"
#include "llm/http_client.hpp"

namespace kagura::llm::detail {

struct ProviderInfo {
  std::string_view name;
  ProviderSettings::Api api = ProviderSettings::Api::openai_chat;
  std::array<std::string_view, 2> key_variables;       // the first one set wins; "" = none
  std::array<std::string_view, 2> base_url_variables;  // the first one set wins; "" = none
  std::string_view default_base_url;
  // Appended to a base URL from the environment that lacks it: Ollama's variables name the
  // server ("http://localhost:11434"), its OpenAI-compatible API lives under "/v1".
  std::string_view base_url_suffix;
  // A hosted API always needs a key; a local server (Ollama, vLLM, llama.cpp) usually not.
  bool needs_key = false;
};

// nullptr for an unknown provider; `name` must be lower-case.
const ProviderInfo* find_provider(std::string_view name);

// The names an error message of `provider` points the user to, and the key to keep out of it.
ErrorContext error_context_for(std::string_view provider, const ProviderSettings& settings);

// "openai, anthropic, ollama, ...", for messages.
std::string known_provider_names();

}  // namespace kagura::llm::detail
