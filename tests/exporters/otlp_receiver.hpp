#pragma once

// A local OTLP/HTTP trace receiver for the exporter tests: real HTTP on 127.0.0.1, POST
// /v1/traces. It checks every request against the OTLP/JSON encoding rules (the field names of
// opentelemetry-proto's trace and common messages in lowerCamelCase, ids as lowercase hex of
// the right length, 64-bit integers and times as decimal strings, enums as integers, AnyValue
// with exactly one member) and keeps the spans of the requests it accepted. It can answer with
// a failure status for the next N requests, as a collector that is overloaded or restarting.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback_server.hpp"

namespace kagura::test {

class OtlpReceiver {
 public:
  // On a port the OS picks, or on `port` (to bring back an endpoint that was down).
  explicit OtlpReceiver(int port = 0) : http_("OtlpReceiver", port) {
    http_.server().Post("/v1/traces",
                        [this](const httplib::Request& request, httplib::Response& response) {
                          handle(request, response);
                        });
    http_.start();
  }
  ~OtlpReceiver() { http_.stop(); }
  OtlpReceiver(const OtlpReceiver&) = delete;
  OtlpReceiver& operator=(const OtlpReceiver&) = delete;

  int port() const { return http_.port(); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(http_.port()); }
  std::string traces_url() const { return base_url() + "/v1/traces"; }

  // The next `count` requests get `status` (with Retry-After when given) and are not kept.
  void fail_next(int count, int status, std::string retry_after = {},
                 std::string body = "collector overloaded\nsecond line") {
    std::lock_guard lock(mutex_);
    failures_left_ = count;
    failure_status_ = status;
    retry_after_ = std::move(retry_after);
    failure_body_ = std::move(body);
  }
  // The body of a 200 answer (an OTLP partial success, say).
  void set_success_body(std::string body) {
    std::lock_guard lock(mutex_);
    success_body_ = std::move(body);
  }

  struct Attempt {
    std::chrono::steady_clock::time_point at;
    int status = 0;
    std::map<std::string, std::string> headers;
  };

  std::vector<Attempt> attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  // Spans of accepted requests, in arrival order, each with "resource" (the resource's
  // attributes) added.
  std::vector<nlohmann::json> spans() const {
    std::lock_guard lock(mutex_);
    return spans_;
  }
  std::vector<nlohmann::json> accepted_bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  // Every rule a request broke, with where; empty when all were well-formed.
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }

  // Waits until `count` spans have been accepted (or `timeout` passed); returns the spans.
  std::vector<nlohmann::json> wait_for_spans(
      std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return spans_.size() >= count; });
    return spans_;
  }
  std::size_t wait_for_attempts(std::size_t count,
                                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return attempts_.size() >= count; });
    return attempts_.size();
  }

  // The checks, public so that a test can also apply them to bodies written to a file.
  static std::vector<std::string> check_request(const nlohmann::json& body) {
    std::vector<std::string> problems;
    Checker{problems}.request(body);
    return problems;
  }

 private:
  struct Checker {
    std::vector<std::string>& problems;

    void fail(const std::string& where, const std::string& what) {
      problems.push_back(where + ": " + what);
    }
    void only_keys(const nlohmann::json& object, const std::string& where,
                   std::initializer_list<const char*> allowed) {
      if (!object.is_object()) return fail(where, "not an object");
      const std::set<std::string> names(allowed.begin(), allowed.end());
      for (const auto& [key, value] : object.items()) {
        if (names.count(key) == 0) fail(where, "unknown field '" + key + "'");
      }
    }
    static bool is_hex(const std::string& text, std::size_t length) {
      if (text.size() != length) return false;
      bool nonzero = false;
      for (const char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        nonzero = nonzero || c != '0';
      }
      return nonzero;
    }
    static bool is_decimal(const nlohmann::json& value, bool allow_sign) {
      if (!value.is_string()) return false;
      std::string text = value.get<std::string>();
      if (allow_sign && !text.empty() && text[0] == '-') text.erase(0, 1);
      if (text.empty() || text.size() > 20) return false;
      for (const char c : text) {
        if (c < '0' || c > '9') return false;
      }
      return true;
    }
    void nanos(const nlohmann::json& value, const std::string& where) {
      if (!is_decimal(value, false)) return fail(where, "not a decimal string of Unix nanoseconds");
      // After 2001 and before 2286: seconds or milliseconds sent by mistake fail this.
      const auto text = value.get<std::string>();
      if (text.size() != 19) fail(where, "'" + text + "' is not a time in Unix nanoseconds");
    }
    void any_value(const nlohmann::json& value, const std::string& where) {
      if (!value.is_object() || value.size() != 1) {
        return fail(where, "an AnyValue must have exactly one member");
      }
      // Through the object's own iterator: items() would make a temporary that dies here.
      const std::string kind = value.begin().key();
      const nlohmann::json& inner = value.begin().value();
      if (kind == "stringValue") {
        if (!inner.is_string()) fail(where, "stringValue is not a string");
      } else if (kind == "intValue") {
        if (!is_decimal(inner, true)) fail(where, "intValue is not a decimal string");
      } else if (kind == "doubleValue") {
        if (!inner.is_number()) fail(where, "doubleValue is not a number");
      } else if (kind == "boolValue") {
        if (!inner.is_boolean()) fail(where, "boolValue is not a boolean");
      } else if (kind == "arrayValue") {
        only_keys(inner, where + ".arrayValue", {"values"});
        if (!inner.contains("values") || !inner["values"].is_array()) {
          return fail(where, "arrayValue without values");
        }
        for (std::size_t i = 0; i < inner["values"].size(); ++i) {
          any_value(inner["values"][i], where + ".arrayValue.values[" + std::to_string(i) + "]");
        }
      } else if (kind != "kvlistValue" && kind != "bytesValue") {
        fail(where, "unknown AnyValue member '" + kind + "'");
      }
    }
    void attributes(const nlohmann::json& list, const std::string& where) {
      if (!list.is_array()) return fail(where, "attributes is not an array");
      std::set<std::string> keys;
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string at = where + "[" + std::to_string(i) + "]";
        only_keys(list[i], at, {"key", "value"});
        if (!list[i].contains("key") || !list[i]["key"].is_string() ||
            list[i]["key"].get<std::string>().empty()) {
          fail(at, "no key");
          continue;
        }
        const auto key = list[i]["key"].get<std::string>();
        if (!keys.insert(key).second) fail(at, "attribute '" + key + "' given twice");
        if (!list[i].contains("value")) {
          fail(at, "no value");
          continue;
        }
        any_value(list[i]["value"], at + " (" + key + ")");
      }
    }
    void span(const nlohmann::json& s, const std::string& where) {
      only_keys(s, where,
                {"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind",
                 "startTimeUnixNano", "endTimeUnixNano", "attributes", "droppedAttributesCount",
                 "events", "droppedEventsCount", "links", "droppedLinksCount", "status"});
      if (!is_hex(s.value("traceId", ""), 32))
        fail(where, "traceId is not 32 lowercase hex, non-zero");
      if (!is_hex(s.value("spanId", ""), 16))
        fail(where, "spanId is not 16 lowercase hex, non-zero");
      if (s.contains("parentSpanId") && !s["parentSpanId"].get<std::string>().empty() &&
          !is_hex(s["parentSpanId"].get<std::string>(), 16)) {
        fail(where, "parentSpanId is neither empty nor 16 lowercase hex");
      }
      if (!s.contains("name") || !s["name"].is_string() || s["name"].get<std::string>().empty()) {
        fail(where, "no name");
      }
      if (!s.contains("kind") || !s["kind"].is_number_integer() || s["kind"].get<int>() < 0 ||
          s["kind"].get<int>() > 5) {
        fail(where, "kind is not an integer SpanKind");
      }
      nanos(s.value("startTimeUnixNano", nlohmann::json()), where + ".startTimeUnixNano");
      nanos(s.value("endTimeUnixNano", nlohmann::json()), where + ".endTimeUnixNano");
      if (s.contains("startTimeUnixNano") && s.contains("endTimeUnixNano") &&
          std::stoull(s["startTimeUnixNano"].get<std::string>()) >
              std::stoull(s["endTimeUnixNano"].get<std::string>())) {
        fail(where, "ends before it starts");
      }
      if (s.contains("attributes")) attributes(s["attributes"], where + ".attributes");
      if (s.contains("status")) {
        only_keys(s["status"], where + ".status", {"code", "message"});
        const auto& code = s["status"].value("code", nlohmann::json());
        if (!code.is_number_integer() || code.get<int>() < 0 || code.get<int>() > 2) {
          fail(where + ".status", "code is not an integer StatusCode");
        }
      }
      if (s.contains("events")) {
        for (std::size_t i = 0; i < s["events"].size(); ++i) {
          const auto& e = s["events"][i];
          const std::string at = where + ".events[" + std::to_string(i) + "]";
          only_keys(e, at, {"timeUnixNano", "name", "attributes", "droppedAttributesCount"});
          nanos(e.value("timeUnixNano", nlohmann::json()), at + ".timeUnixNano");
          if (e.contains("attributes")) attributes(e["attributes"], at + ".attributes");
        }
      }
    }
    void request(const nlohmann::json& body) {
      only_keys(body, "request", {"resourceSpans"});
      if (!body.contains("resourceSpans") || !body["resourceSpans"].is_array()) {
        return fail("request", "no resourceSpans array");
      }
      for (std::size_t r = 0; r < body["resourceSpans"].size(); ++r) {
        const auto& rs = body["resourceSpans"][r];
        const std::string at = "resourceSpans[" + std::to_string(r) + "]";
        only_keys(rs, at, {"resource", "scopeSpans", "schemaUrl"});
        if (rs.contains("resource")) {
          only_keys(rs["resource"], at + ".resource", {"attributes", "droppedAttributesCount"});
          attributes(rs["resource"].value("attributes", nlohmann::json::array()),
                     at + ".resource.attributes");
        }
        for (std::size_t s = 0; s < rs.value("scopeSpans", nlohmann::json::array()).size(); ++s) {
          const auto& ss = rs["scopeSpans"][s];
          const std::string sat = at + ".scopeSpans[" + std::to_string(s) + "]";
          only_keys(ss, sat, {"scope", "spans", "schemaUrl"});
          if (ss.contains("scope")) {
            only_keys(ss["scope"], sat + ".scope",
                      {"name", "version", "attributes", "droppedAttributesCount"});
          }
          for (std::size_t i = 0; i < ss.value("spans", nlohmann::json::array()).size(); ++i) {
            span(ss["spans"][i], sat + ".spans[" + std::to_string(i) + "]");
          }
        }
      }
    }
  };

  void handle(const httplib::Request& request, httplib::Response& response) {
    Attempt attempt{std::chrono::steady_clock::now(), 200, {}};
    for (const auto& [name, value] : request.headers) {
      std::string lower = name;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      attempt.headers[lower] = value;
    }
    std::lock_guard lock(mutex_);
    if (failures_left_ > 0) {
      --failures_left_;
      attempt.status = failure_status_;
      attempts_.push_back(std::move(attempt));
      arrived_.notify_all();
      response.status = failure_status_;
      if (!retry_after_.empty()) response.set_header("Retry-After", retry_after_);
      response.set_content(failure_body_, "text/plain");
      return;
    }
    attempts_.push_back(attempt);
    if (request.get_header_value("Content-Type") != "application/json") {
      violations_.push_back("Content-Type is '" + request.get_header_value("Content-Type") +
                            "', not application/json");
    }
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded()) {
      violations_.push_back("the body is not JSON");
    } else {
      for (auto& problem : check_request(body)) violations_.push_back(std::move(problem));
      bodies_.push_back(body);
      for (const auto& rs : body.value("resourceSpans", nlohmann::json::array())) {
        const auto resource = rs.value("resource", nlohmann::json::object())
                                  .value("attributes", nlohmann::json::array());
        for (const auto& ss : rs.value("scopeSpans", nlohmann::json::array())) {
          for (auto span : ss.value("spans", nlohmann::json::array())) {
            span["resource"] = resource;
            spans_.push_back(std::move(span));
          }
        }
      }
    }
    arrived_.notify_all();
    response.status = 200;
    response.set_content(success_body_, "application/json");
  }

  LoopbackServer http_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  int failures_left_ = 0;
  int failure_status_ = 503;
  std::string retry_after_;
  std::string failure_body_;
  std::string success_body_ = "{}";
  std::vector<Attempt> attempts_;
  std::vector<nlohmann::json> bodies_;
  std::vector<nlohmann::json> spans_;
  std::vector<std::string> violations_;
};

// The value of attribute `key` of a span (or of a resource's attribute list), or null.
inline nlohmann::json otlp_attribute(const nlohmann::json& span_or_list, const std::string& key) {
  const auto& list = span_or_list.is_array()
                         ? span_or_list
                         : span_or_list.value("attributes", nlohmann::json::array());
  for (const auto& attribute : list) {
    if (attribute.value("key", "") == key) return attribute["value"];
  }
  return nullptr;
}

}  // namespace kagura::test
