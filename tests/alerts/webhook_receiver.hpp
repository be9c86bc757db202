#pragma once

// A local webhook receiver for the alert tests: real HTTP on 127.0.0.1 (a port the OS picks),
// keeping the JSON bodies POSTed to /hook and answering with a status the test chooses.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback_server.hpp"

namespace kagura::test {

class WebhookReceiver {
 public:
  WebhookReceiver() {
    http_.server().Post("/hook",
                        [this](const httplib::Request& request, httplib::Response& response) {
                          if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
                          {
                            std::lock_guard lock(mutex_);
                            bodies_.push_back(nlohmann::json::parse(request.body, nullptr, false));
                            headers_.push_back(request.get_header_value("Authorization"));
                            content_types_.push_back(request.get_header_value("Content-Type"));
                          }
                          arrived_.notify_all();
                          response.status = status_;
                          response.set_content("{}", "application/json");
                        });
    http_.start();
  }
  ~WebhookReceiver() { http_.stop(); }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_.port()) + "/hook"; }
  int port() const { return http_.port(); }
  void set_status(int status) { status_ = status; }
  void set_delay(std::chrono::milliseconds delay) { delay_ = delay; }

  // Waits until at least `count` bodies have arrived (or `timeout` passed) and returns them.
  std::vector<nlohmann::json> wait_for(
      std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return bodies_.size() >= count; });
    return bodies_;
  }
  std::vector<nlohmann::json> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  std::vector<std::string> authorization_headers() const {
    std::lock_guard lock(mutex_);
    return headers_;
  }
  std::vector<std::string> content_types() const {
    std::lock_guard lock(mutex_);
    return content_types_;
  }

 private:
  LoopbackServer http_{"WebhookReceiver"};
  std::atomic<int> status_{200};
  std::chrono::milliseconds delay_{0};
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::string> headers_;
  std::vector<std::string> content_types_;
};

}  // namespace kagura::test
