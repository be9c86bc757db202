#pragma once

// Anthropic's Messages API (POST {base_url}/v1/messages, base URL https://api.anthropic.com).

#include <cstdint>
#include <string>

#include "kagura/llm/llm_client.hpp"
#include "kagura/llm/providers.hpp"

namespace kagura::llm {

class AnthropicClient : public LlmClient {
 public:
  // The Messages API requires max_tokens; this is sent when a request leaves it unset.
  static constexpr std::int64_t kDefaultMaxTokens = 4096;
  static constexpr const char* kApiVersion = "2023-06-01";

  // `provider` is the name recorded with each call and used in error messages.
  explicit AnthropicClient(ProviderSettings settings, std::string provider = "anthropic");

  std::string provider() const override { return provider_; }
  // Thread-safe: the client holds only its settings; each call has its own connection.
  ChatResponse complete(const ChatRequest& request) override;

 private:
  ProviderSettings settings_;
  std::string provider_;
  std::string endpoint_;
};

}  // namespace kagura::llm
