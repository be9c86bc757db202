#pragma once

// Model strings in the "provider/model" form LiteLLM users know ("openai/gpt-4o-mini",
// "anthropic/claude-sonnet-4-5", "ollama/llama3.2", "openrouter/meta-llama/llama-3.1-8b"), and
// the client each provider needs, configured from the usual environment variables.

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "kagura/llm/http_options.hpp"
#include "kagura/llm/llm_client.hpp"

namespace kagura::llm {

struct ModelRef {
  std::string provider;  // lower-case; inferred when the string has no known prefix
  std::string model;     // what the provider's API is sent
};

// "openai/gpt-4o" -> {openai, gpt-4o}; "claude-3-5-haiku" -> {anthropic, ...}; a name without
// a known provider prefix is an OpenAI-compatible model ("gpt-4o-mini" -> {openai, ...}).
ModelRef parse_model(std::string_view model_string);

// Where a provider is reached: the API style, base URL and key.
struct ProviderSettings {
  enum class Api { openai_chat, anthropic_messages } api = Api::openai_chat;
  std::string base_url;  // e.g. "https://api.openai.com/v1"
  std::string api_key;   // may be empty for local servers
  HttpOptions http;
};

// The settings of `provider` from the environment (OPENAI_API_KEY, OPENAI_BASE_URL,
// ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, OLLAMA_API_BASE, OPENROUTER_API_KEY, ...). Throws
// LlmError(configuration) for an unknown provider, naming the known ones.
ProviderSettings provider_settings_from_env(std::string_view provider);

// A client for the provider, thread-safe and meant to be shared.
std::shared_ptr<LlmClient> make_client(std::string_view provider, const ProviderSettings& settings);

}  // namespace kagura::llm
