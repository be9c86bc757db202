#include "net/json_post.hpp"

#include <algorithm>
#include <cstdint>

#include "net/curl_handles.hpp"

namespace kagura::net {
namespace {

struct ReplySink {
  std::string* body;
  std::size_t limit;
};

std::size_t keep_prefix(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& sink = *static_cast<ReplySink*>(user);
  const std::size_t length = size * count;
  if (sink.body->size() < sink.limit) {
    sink.body->append(data, std::min(length, sink.limit - sink.body->size()));
  }
  return length;
}

}  // namespace

JsonPostReply post_json(CURL* handle, const JsonPost& post) {
  JsonPostReply reply;
  if (const CURLcode started = curl_global_status(); started != CURLE_OK) {
    reply.error = std::string("libcurl could not be initialised: ") + curl_easy_strerror(started);
    return reply;
  }
  // Everything the handle points to is declared first, so that it outlives the transfer.
  CurlHeaderList headers;
  headers.append("Content-Type: application/json");
  // libcurl would otherwise wait for a "100 Continue" before sending a large body.
  headers.append("Expect:");
  for (const auto& [name, value] : post.headers) headers.append(name + ": " + value);
  const std::string no_proxy = hosts_bypassing_proxy();
  ReplySink sink{&reply.body, post.kept_reply_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {};

  curl_easy_reset(handle);
  const std::chrono::milliseconds timeout(std::max<std::int64_t>(1, post.timeout.count()));
  set_post_options(handle, {.url = post.url,
                            .body = post.body,
                            .headers = headers,
                            .user_agent = post.user_agent,
                            .no_proxy = no_proxy,
                            .connect_timeout = timeout,
                            .timeout = timeout});
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &keep_prefix);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);

  const CURLcode code = curl_easy_perform(handle);
  if (code == CURLE_OK) {
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_off_t seconds = 0;
    if (curl_easy_getinfo(handle, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0) {
      reply.retry_after = std::chrono::milliseconds(static_cast<long long>(seconds) * 1000);
    }
  } else {
    reply.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    reply.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  }
  // The handle may be kept for the next post: it must not point at this frame's buffers.
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, nullptr);
  return reply;
}

}  // namespace kagura::net
