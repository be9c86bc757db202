#include "exporters/otlp_http.hpp"

#include <curl/curl.h>

#include <memory>
#include <new>
#include <stdexcept>

namespace kagura::exporters::detail {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

void append(std::unique_ptr<curl_slist, CurlSlistDeleter>& list, const std::string& header) {
  curl_slist* head = curl_slist_append(list.get(), header.c_str());
  if (head == nullptr) throw std::bad_alloc();
  (void)list.release();  // the first append creates the list; later ones return the same head
  list.reset(head);
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& body = *static_cast<std::string*>(user);
  // An error body is quoted by its first line only; no need to hold a huge one.
  if (body.size() < 64 * 1024) body.append(data, size * count);
  return size * count;
}

// curl_global_init is not thread-safe; a function-local static runs it exactly once.
bool curl_ready() {
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  return result == CURLE_OK;
}

}  // namespace

OtlpReply post_otlp_json(const std::string& url,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body, std::chrono::milliseconds timeout) {
  OtlpReply reply;
  if (!curl_ready()) {
    reply.error = "libcurl could not be initialised";
    return reply;
  }
  std::unique_ptr<curl_slist, CurlSlistDeleter> header_list;
  append(header_list, "Content-Type: application/json");
  // libcurl would otherwise wait for a "100 Continue" before sending a large body.
  append(header_list, "Expect:");
  for (const auto& [name, value] : headers) append(header_list, name + ": " + value);
  char error_buffer[CURL_ERROR_SIZE] = {};

  std::unique_ptr<CURL, CurlEasyDeleter> handle(curl_easy_init());
  if (!handle) throw std::bad_alloc();
  CURL* h = handle.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_USERAGENT, "kagura-cpp/0.1");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  // Signals (the default resolver's timeout mechanism) are unsafe with several threads.
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);

  const CURLcode code = curl_easy_perform(h);
  if (code != CURLE_OK) {
    reply.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return reply;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_off_t seconds = 0;
  if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0) {
    reply.retry_after = std::chrono::milliseconds(static_cast<long long>(seconds) * 1000);
  }
  return reply;
}

}  // namespace kagura::exporters::detail
