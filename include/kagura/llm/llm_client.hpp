#pragma once

// One interface for every model provider; implementations in this directory speak the
// OpenAI-compatible Chat Completions API and Anthropic's Messages API over HTTP (libcurl).

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "kagura/llm/chat.hpp"

namespace kagura::llm {

// Why a call failed, for callers that react differently (and for the recorded error type).
enum class LlmErrorKind {
  network,        // could not connect, connection reset, TLS, ...
  timeout,        // no complete answer within the timeout
  http_status,    // the server answered with an error status (after retries, if retried)
  malformed,      // the answer is not what the API promises (bad JSON, missing fields)
  configuration,  // unknown provider, missing API key, bad base URL
};

std::string_view to_string(LlmErrorKind kind) noexcept;

class LlmError : public std::runtime_error {
 public:
  LlmError(LlmErrorKind kind, const std::string& message, int http_status = 0, int retries = 0)
      : std::runtime_error(message), kind_(kind), http_status_(http_status), retries_(retries) {}
  LlmErrorKind kind() const noexcept { return kind_; }
  int http_status() const noexcept { return http_status_; }  // 0 when there was no answer
  int retries() const noexcept { return retries_; }

 private:
  LlmErrorKind kind_;
  int http_status_;
  int retries_;
};

class LlmClient {
 public:
  virtual ~LlmClient() = default;
  // The provider name recorded with each call ("openai", "anthropic", "ollama", ...).
  virtual std::string provider() const = 0;
  // One completion. Throws LlmError. Safe to call from several threads at once.
  virtual ChatResponse complete(const ChatRequest& request) = 0;
};

}  // namespace kagura::llm
