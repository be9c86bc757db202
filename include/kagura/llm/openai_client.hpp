#pragma once

// The OpenAI Chat Completions API (POST {base_url}/chat/completions), which most other servers
// speak too: Ollama, vLLM, llama.cpp, LiteLLM, OpenRouter, Groq, DeepSeek, Mistral, Gemini.

#include <string>

#include "kagura/llm/llm_client.hpp"
#include "kagura/llm/providers.hpp"

namespace kagura::llm {

class OpenAiClient : public LlmClient {
 public:
  // `provider` is the name recorded with each call and used in error messages.
  explicit OpenAiClient(ProviderSettings settings, std::string provider = "openai");

  std::string provider() const override { return provider_; }
  // Thread-safe: the client holds only its settings; each call has its own connection.
  ChatResponse complete(const ChatRequest& request) override;

 private:
  ProviderSettings settings_;
  std::string provider_;
  std::string endpoint_;
};

}  // namespace kagura::llm
