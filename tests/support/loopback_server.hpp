#pragma once

// An HTTP server on 127.0.0.1 for the tests' local receivers: bound at construction (a port the
// OS picks, or a given one), listening on a thread of its own from start(), so that routes are
// all registered before the first request can arrive.

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace kagura::test {

class LoopbackServer {
 public:
  // Throws std::runtime_error naming `owner` when the port cannot be bound.
  explicit LoopbackServer(const std::string& owner, int port = 0) {
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ <= 0) throw std::runtime_error(owner + ": cannot bind to 127.0.0.1");
  }
  ~LoopbackServer() { stop(); }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  httplib::Server& server() { return server_; }
  int port() const { return port_; }

  // Returns once the server accepts connections.
  void start() {
    listener_ = std::thread([this] {
      // A client that hangs up mid-answer must not kill the test process.
      sigset_t pipe_signal;
      sigemptyset(&pipe_signal);
      sigaddset(&pipe_signal, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
      server_.listen_after_bind();
      finished_ = true;
    });
    while (!server_.is_running() && !finished_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Stops serving; the owner calls it before the state its handlers use goes away.
  void stop() {
    server_.stop();
    if (listener_.joinable()) listener_.join();
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread listener_;
  std::atomic<bool> finished_{false};
};

}  // namespace kagura::test
