#pragma once

// The libcurl pieces every HTTP client of Kagura uses (the LLM transport, the OTLP exporter,
// the alert webhooks): RAII owners of libcurl's handles, its one-time global initialisation,
// and the hosts that a proxy from the environment must never handle.

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace kagura::net {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

// A new easy handle; throws std::bad_alloc when libcurl cannot make one.
CurlEasy make_curl_easy();

// A request's header list ("Name: value" lines).
class CurlHeaderList {
 public:
  // Throws std::bad_alloc when libcurl cannot grow the list.
  void append(const std::string& header);
  curl_slist* get() const noexcept { return list_.get(); }

 private:
  struct Deleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
  };
  std::unique_ptr<curl_slist, Deleter> list_;
};

// The options every POST of Kagura sets alike. What they point to must outlive the transfer.
struct PostOptions {
  const std::string& url;
  std::string_view body;
  const CurlHeaderList& headers;
  const char* user_agent;
  const std::string& no_proxy;  // from hosts_bypassing_proxy()
  std::chrono::milliseconds connect_timeout;
  std::chrono::milliseconds timeout;  // for the whole exchange
};

// Sets them, with http and https the only protocols and no signals, which the default
// resolver's timeout would otherwise use and which are unsafe with several threads.
void set_post_options(CURL* handle, const PostOptions& options);

// What curl_global_init answered. It is not thread-safe, and a function-local static runs it
// exactly once even when several threads make their first request together. There is
// deliberately no curl_global_cleanup: other threads may still use libcurl while the process
// exits.
CURLcode curl_global_status();

// For CURLOPT_NOPROXY: the user's no_proxy list (setting the option replaces it) plus the
// loopback hosts, since a local server is not reachable through a remote proxy.
std::string hosts_bypassing_proxy();

}  // namespace kagura::net
