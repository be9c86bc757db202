#pragma once

// One JSON POST over libcurl, answered or not: what the OTLP exporter and the alert webhooks
// send. (The LLM transport, which streams and retries, is llm/http_client.)

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kagura::net {

struct JsonPost {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // besides the Content-Type
  std::string_view body;
  std::chrono::milliseconds timeout{10000};  // to connect, and for the whole exchange
  const char* user_agent = "kagura-cpp/0.1";
  // The reply body is read to its end but only this much of it kept: callers quote it in a
  // message or read a small JSON answer, and a hostile server must not fill the memory.
  std::size_t kept_reply_bytes = 64 * 1024;
};

struct JsonPostReply {
  long status = 0;  // 0: no answer (see error)
  std::string body;
  std::chrono::milliseconds retry_after{0};  // from Retry-After, when sent
  bool timed_out = false;                    // no answer within the timeout
  std::string error;                         // why there was no answer
};

// Posts on `handle`, which is reset first: a handle kept between posts keeps its connection to
// the server open. Never throws for network failures (status 0, and `error` says why); throws
// std::bad_alloc.
JsonPostReply post_json(CURL* handle, const JsonPost& post);

}  // namespace kagura::net
