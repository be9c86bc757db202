#include "net/curl_handles.hpp"

#include <cstdlib>
#include <new>

namespace kagura::net {

CurlEasy make_curl_easy() {
  CurlEasy handle(curl_easy_init());
  if (!handle) throw std::bad_alloc();
  return handle;
}

void CurlHeaderList::append(const std::string& header) {
  curl_slist* head = curl_slist_append(list_.get(), header.c_str());
  if (head == nullptr) throw std::bad_alloc();
  // The first append creates the list; later ones return the same head.
  (void)list_.release();
  list_.reset(head);
}

void set_post_options(CURL* handle, const PostOptions& options) {
  curl_easy_setopt(handle, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_POST, 1L);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, options.body.data());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(options.body.size()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, options.headers.get());
  curl_easy_setopt(handle, CURLOPT_USERAGENT, options.user_agent);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_NOPROXY, options.no_proxy.c_str());
}

CURLcode curl_global_status() {
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  return result;
}

std::string hosts_bypassing_proxy() {
  std::string hosts;
  for (const char* variable : {"no_proxy", "NO_PROXY"}) {
    if (const char* value = std::getenv(variable); value != nullptr && *value != '\0') {
      hosts = value;
      break;
    }
  }
  if (hosts == "*") return hosts;
  if (!hosts.empty()) hosts += ",";
  return hosts + "localhost,127.0.0.1,::1";
}

}  // namespace kagura::net
