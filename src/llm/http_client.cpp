#include "llm/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "net/curl_handles.hpp"

namespace kagura::llm::detail {
namespace {

using std::chrono::milliseconds;

using net::CurlEasy;
using net::CurlHeaderList;
using net::hosts_bypassing_proxy;

void ensure_curl_initialised() {
  if (const CURLcode result = net::curl_global_status(); result != CURLE_OK) {
    throw LlmError(LlmErrorKind::network,
                   std::string("could not initialise libcurl: ") + curl_easy_strerror(result));
  }
}

// The body goes to the chunk handler only once the status says it is the answer; error bodies
// are kept, for the message they carry.
struct TransferState {
  CURL* handle = nullptr;
  const ChunkHandler* on_chunk = nullptr;
  std::string buffered;
  bool delivered = false;
  std::exception_ptr callback_error;
};

// A whole answer larger than this is no answer of a real API; without a bound a hostile or
// broken server could make the agent's process buffer until memory runs out.
constexpr std::size_t kMaxResponseBytes = 32 * 1024 * 1024;

std::size_t receive_body(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto& state = *static_cast<TransferState*>(user);
  const std::size_t length = size * count;
  // Exceptions must not unwind through libcurl's C frames: keep it and abort the transfer.
  try {
    long status = 0;
    curl_easy_getinfo(state.handle, CURLINFO_RESPONSE_CODE, &status);
    if (state.on_chunk != nullptr && *state.on_chunk && status >= 200 && status < 300) {
      state.delivered = true;
      (*state.on_chunk)(std::string_view(data, length));
    } else {
      if (state.buffered.size() + length > kMaxResponseBytes) {
        throw LlmError(LlmErrorKind::malformed,
                       "the server's answer is larger than 32 MiB; this is not an answer of the "
                       "API: check the base URL points at an LLM server");
      }
      state.buffered.append(data, length);
    }
  } catch (...) {
    state.callback_error = std::current_exception();
    return 0;
  }
  return length;
}

struct Attempt {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string curl_detail;  // libcurl's error buffer, more specific than curl_easy_strerror
  milliseconds retry_after{0};
  bool delivered = false;     // part of the answer already reached the chunk handler
  bool request_sent = false;  // the server may have seen (and acted on) the request
  std::exception_ptr callback_error;
};

milliseconds retry_after_of(CURL* handle) {
  // OpenAI sends the more precise retry-after-ms next to Retry-After.
  curl_header* precise = nullptr;
  if (curl_easy_header(handle, "retry-after-ms", 0, CURLH_HEADER, -1, &precise) == CURLHE_OK &&
      precise != nullptr) {
    try {
      const double value = std::stod(precise->value);
      if (value > 0 && std::isfinite(value)) return milliseconds(static_cast<long long>(value));
    } catch (const std::exception&) {
      // Unparsable: fall back to Retry-After.
    }
  }
  curl_off_t seconds = 0;
  if (curl_easy_getinfo(handle, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0) {
    return milliseconds(static_cast<long long>(seconds) * 1000);
  }
  return milliseconds(0);
}

}  // namespace

class ConnectionPool {
 public:
  // A handle whose options are reset but whose connections and caches are kept.
  CurlEasy take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        CurlEasy handle = std::move(idle_.back());
        idle_.pop_back();
        curl_easy_reset(handle.get());
        return handle;
      }
    }
    return net::make_curl_easy();
  }
  void give_back(CurlEasy handle) {
    std::lock_guard lock(mutex_);
    // About one per agent thread; more would only hold sockets open.
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(handle));
  }

 private:
  static constexpr std::size_t kMaxIdle = 16;
  std::mutex mutex_;
  std::vector<CurlEasy> idle_;
};

namespace {

Attempt perform_once(const HttpPost& post, const HttpOptions& options, const ChunkHandler& on_chunk,
                     ConnectionPool& connections) {
  // Everything the handle points to is declared first, so that it outlives the handle.
  CurlHeaderList headers;
  for (const auto& header : post.headers) headers.append(header);
  // libcurl would otherwise wait for a "100 Continue" before sending a large body.
  headers.append("Expect:");
  const std::string no_proxy = hosts_bypassing_proxy();
  char error_buffer[CURL_ERROR_SIZE] = {};
  TransferState state;

  CurlEasy handle = connections.take();
  CURL* h = handle.get();
  state.handle = h;
  state.on_chunk = on_chunk ? &on_chunk : nullptr;

  net::set_post_options(h, {.url = post.url,
                            .body = post.body,
                            .headers = headers,
                            .user_agent = "kagura-cpp/0.1",
                            .no_proxy = no_proxy,
                            .connect_timeout = options.connect_timeout,
                            .timeout = options.timeout});
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  // A compressing server may hold back a stream's events until its buffer fills, so only
  // whole answers are asked for compressed.
  if (!on_chunk) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &receive_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);

  Attempt attempt;
  attempt.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &attempt.status);
  curl_off_t pretransfer_us = 0;
  curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
  attempt.request_sent = pretransfer_us > 0 || attempt.status != 0;
  attempt.retry_after = retry_after_of(h);
  attempt.body = std::move(state.buffered);
  attempt.delivered = state.delivered;
  attempt.callback_error = state.callback_error;
  attempt.curl_detail = error_buffer;
  // The handle points at this frame's buffers; they are forgotten by the next take()'s reset.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  connections.give_back(std::move(handle));
  return attempt;
}

// Connections that could not be made, or broke before an answer came: worth another attempt,
// as the providers' own SDKs make one.
bool is_connection_failure(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool is_retryable_status(long status) {
  return status == 429 || (status >= 500 && status < 600);
}

milliseconds backoff_delay(const HttpOptions& options, int retry_index, milliseconds retry_after) {
  const double max_ms =
      static_cast<double>(std::max<milliseconds::rep>(0, options.max_backoff.count()));
  const double exponential = static_cast<double>(options.initial_backoff.count()) *
                             std::pow(2.0, static_cast<double>(retry_index));
  const double base = std::clamp(exponential, 0.0, max_ms);
  // Jitter spreads out clients that failed together, so they do not retry in lockstep.
  thread_local std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<double> fraction(0.5, 1.0);
  double delay = base * fraction(random);
  delay = std::max(delay, static_cast<double>(retry_after.count()));
  return milliseconds(static_cast<long long>(std::min(delay, max_ms)));
}

// Credentials in a URL (http://user:secret@host) must not reach a message.
std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const auto authority_start = scheme_end + 3;
  const auto authority_end = url.find_first_of("/?#", authority_start);
  const auto at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < authority_start) return std::string(url);
  return std::string(url.substr(0, authority_start)) + "***@" + std::string(url.substr(at + 1));
}

// "gave up after 2 retries" followed by `separator`, or nothing when there were none.
std::string retries_phrase(int retries, std::string_view separator) {
  if (retries == 0) return "";
  return "gave up after " + std::to_string(retries) + (retries == 1 ? " retry" : " retries") +
         std::string(separator);
}

std::string status_hint(long status, const ErrorContext& context, int retries) {
  const std::string key = context.key_variable.empty() ? "the API key" : context.key_variable;
  if (status == 401) {
    if (context.secret.empty()) return " (no API key was sent: set " + key + ")";
    return " (check " + key + ")";
  }
  if (status == 403) {
    const std::string where = context.key_variable.empty() ? "" : " in " + context.key_variable;
    return " (check that the key" + where + " may use this model)";
  }
  if (status == 404) return " (check the model name and the base URL)";
  if (status == 429) {
    return " (" + retries_phrase(retries, "; ") +
           "rate limited: lower the request rate or raise HttpOptions::max_retries)";
  }
  if (status >= 500) {
    return " (" + retries_phrase(retries, "; ") + "the server failed: try again later)";
  }
  if (status >= 300 && status < 400) return " (redirected: check the base URL)";
  return "";
}

std::string ms_text(milliseconds value) {
  return std::to_string(value.count()) + " ms";
}

}  // namespace

std::string quote_prefix(std::string_view text, std::size_t limit) {
  std::size_t end = std::min(limit, text.size());
  // Never cut a UTF-8 sequence in half: back off over continuation bytes.
  while (end < text.size() && end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  std::string out(text.substr(0, end));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (end < text.size()) out += "...";
  return out;
}

std::string error_text_from_body(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object()) {
    if (const auto error = json.find("error"); error != json.end()) {
      if (error->is_object()) {
        if (const auto m = error->find("message"); m != error->end() && m->is_string()) {
          return m->get<std::string>();
        }
      } else if (error->is_string()) {
        return error->get<std::string>();  // Ollama's shape
      }
    }
    for (const char* field : {"message", "detail"}) {  // vLLM, FastAPI-based servers
      if (const auto m = json.find(field); m != json.end() && m->is_string()) {
        return m->get<std::string>();
      }
    }
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return "(empty body)";
  return "body starts with: " + quote_prefix(body);
}

void throw_malformed(const HttpClient& http, const std::string& what, std::string_view body,
                     int retries, std::string_view api) {
  throw LlmError(LlmErrorKind::malformed,
                 http.message(what + " (body starts with: " + quote_prefix(body) +
                              "): check that the base URL points to " + std::string(api)),
                 0, retries);
}

HttpClient::HttpClient(HttpOptions options, ErrorContext context)
    : options_(options),
      context_(std::move(context)),
      connections_(std::make_shared<ConnectionPool>()) {}

std::string HttpClient::message(std::string_view text) const {
  std::string out = context_.provider + ": " + std::string(text);
  // A secret this short is no real key, and blanking it would garble the message.
  if (context_.secret.size() >= 4) {
    for (auto at = out.find(context_.secret); at != std::string::npos;
         at = out.find(context_.secret, at)) {
      out.replace(at, context_.secret.size(), "***");
    }
  }
  return out;
}

HttpReply HttpClient::post(const HttpPost& post, const ChunkHandler& on_chunk) const {
  ensure_curl_initialised();
  const int max_retries = std::max(0, options_.max_retries);
  const std::string where = redact_url(post.url);
  const std::string base_url_hint =
      context_.base_url_variable.empty() ? "the base URL" : context_.base_url_variable;

  for (int retries = 0;; ++retries) {
    Attempt attempt = perform_once(post, options_, on_chunk, *connections_);
    if (attempt.callback_error) std::rethrow_exception(attempt.callback_error);
    const bool attempts_left = retries < max_retries;

    if (attempt.code == CURLE_OK) {
      if (attempt.status >= 200 && attempt.status < 300) {
        return HttpReply{attempt.status, std::move(attempt.body), retries};
      }
      if (is_retryable_status(attempt.status) && attempts_left) {
        std::this_thread::sleep_for(backoff_delay(options_, retries, attempt.retry_after));
        continue;
      }
      throw LlmError(LlmErrorKind::http_status,
                     message("HTTP " + std::to_string(attempt.status) + " from " + where + ": " +
                             error_text_from_body(attempt.body) +
                             status_hint(attempt.status, context_, retries)),
                     static_cast<int>(attempt.status), retries);
    }

    const std::string detail =
        attempt.curl_detail.empty() ? curl_easy_strerror(attempt.code) : attempt.curl_detail;
    if (attempt.code == CURLE_OPERATION_TIMEDOUT && attempt.request_sent) {
      // The server may be acting on the request (and billing it): never sent twice.
      throw LlmError(LlmErrorKind::timeout,
                     message("no complete answer from " + where + " within " +
                             ms_text(options_.timeout) + " (" + detail +
                             "): raise HttpOptions::timeout, or check that the server is not "
                             "overloaded"),
                     0, retries);
    }
    const bool unreachable =
        attempt.code == CURLE_OPERATION_TIMEDOUT || is_connection_failure(attempt.code);
    if (unreachable && !attempt.delivered) {
      if (attempts_left) {
        std::this_thread::sleep_for(backoff_delay(options_, retries, milliseconds(0)));
        continue;
      }
      std::string fix =
          "check that the server is running and that " + base_url_hint + " points to it";
      if (attempt.code == CURLE_OPERATION_TIMEDOUT) {
        fix = "check " + base_url_hint + ", or raise HttpOptions::connect_timeout (" +
              ms_text(options_.connect_timeout) + ")";
      } else if (attempt.code == CURLE_COULDNT_RESOLVE_HOST) {
        fix = "check the host name in " + base_url_hint + " and the network";
      }
      const bool never_connected =
          attempt.code == CURLE_COULDNT_CONNECT || attempt.code == CURLE_COULDNT_RESOLVE_HOST ||
          attempt.code == CURLE_COULDNT_RESOLVE_PROXY || attempt.code == CURLE_OPERATION_TIMEDOUT;
      throw LlmError(LlmErrorKind::network,
                     message((never_connected ? "could not reach " : "lost the connection to ") +
                             where + " (" + detail +
                             (retries > 0 ? "; " + retries_phrase(retries, "") : "") + "): " + fix),
                     0, retries);
    }
    if (attempt.code == CURLE_URL_MALFORMAT || attempt.code == CURLE_UNSUPPORTED_PROTOCOL) {
      throw LlmError(LlmErrorKind::configuration,
                     message("cannot use the URL " + where + " (" + detail + "): set " +
                             base_url_hint + " to an http:// or https:// URL"),
                     0, retries);
    }
    throw LlmError(
        LlmErrorKind::network,
        message("the request to " + where + " failed" +
                (attempt.delivered ? " in the middle of the answer" : "") + " (" + detail + ")" +
                (attempt.delivered ? ": the partial answer was dropped" : "")),
        0, retries);
  }
}

}  // namespace kagura::llm::detail
