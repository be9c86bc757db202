#pragma once

#include <chrono>

namespace kagura::llm {

// Timeouts and retries of the HTTP clients.
struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // The whole request, streaming included.
  std::chrono::milliseconds timeout{120'000};
  // Retries after 429 and 5xx answers and after connection failures (not after timeouts of a
  // request the server may have acted on, nor after other 4xx).
  int max_retries = 2;
  // Doubles after each retry, up to max_backoff, with jitter; a Retry-After header that asks
  // for longer (up to max_backoff) is honoured.
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{20'000};
};

}  // namespace kagura::llm
