#pragma once

// The HTTP transport of the LLM clients: a JSON POST over libcurl with timeouts, retries with
// exponential backoff, and errors (LlmError) that say what failed, where, and how to fix it.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/llm/http_options.hpp"
#include "kagura/llm/llm_client.hpp"

namespace kagura::llm::detail {

struct HttpPost {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
};

struct HttpReply {
  long status = 0;
  std::string body;  // empty when a 2xx body was streamed to the chunk handler
  int retries = 0;   // attempts beyond the first
};

// What an error message needs beyond the request itself.
struct ErrorContext {
  std::string provider;           // "openai", prefixes every message
  std::string key_variable;       // e.g. "OPENAI_API_KEY": the hint of a 401/403; may be empty
  std::string base_url_variable;  // e.g. "OPENAI_BASE_URL": the hint of a connection failure
  std::string secret;             // the API key, blanked out of any message that would contain it
};

// Receives a 2xx body piece by piece as it arrives. It may throw (an LlmError for a stream
// that makes no sense, or whatever the caller's on_text throws): the transfer is then
// aborted, nothing is retried, and the exception reaches the caller of post().
using ChunkHandler = std::function<void(std::string_view chunk)>;

// Idle libcurl handles kept between requests: a handle keeps its connection open, so the next
// request to the same server skips the TCP (and TLS) handshake.
class ConnectionPool;

class HttpClient {
 public:
  HttpClient(HttpOptions options, ErrorContext context);

  // POSTs `post` and returns the final 2xx reply. With `on_chunk`, a 2xx body is streamed to
  // it instead of being buffered; error bodies are always buffered, for their message.
  // Throws LlmError (network, timeout, http_status, configuration).
  HttpReply post(const HttpPost& post, const ChunkHandler& on_chunk = {}) const;

  // "<provider>: <text>" with the secret blanked out; for the callers' own errors.
  std::string message(std::string_view text) const;

 private:
  HttpOptions options_;
  ErrorContext context_;
  std::shared_ptr<ConnectionPool> connections_;  // shared by copies of this client
};

// The error text a provider put into an error body ({"error": {"message": ...}} for OpenAI
// and Anthropic alike), or else a short prefix of the body.
std::string error_text_from_body(std::string_view body);

// An answer that is not what the API promises: LlmError(malformed) quoting the body's start,
// with `api` ("an OpenAI-compatible API") in the hint about the base URL.
[[noreturn]] void throw_malformed(const HttpClient& http, const std::string& what,
                                  std::string_view body, int retries, std::string_view api);

// At most `limit` characters of `text`, for quoting a body in a message.
std::string quote_prefix(std::string_view text, std::size_t limit = 200);

}  // namespace kagura::llm::detail
