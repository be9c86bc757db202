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
  explicit LoopbackServer(const std::string& owner, int port = 0) : owner_(owner) {
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ <= 0) throw std::runtime_error(owner + ": cannot bind to 127.0.0.1");
  }
  ~LoopbackServer() { stop(); }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  httplib::Server& server() { return server_; }
  int port() const { return port_; }

  // Returns once the server accepts connections; throws std::runtime_error if it never does.
  // stop() does nothing before the accept loop runs, so the caller must not go on earlier.
  void start() {
    listener_ = std::thread([this] {
      // A client that hangs up mid-answer must not kill the test process: httplib writes
      // without MSG_NOSIGNAL. The server's worker threads inherit this mask.
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
    if (!server_.is_running()) {
      listener_.join();
      throw std::runtime_error(owner_ + ": the server on 127.0.0.1:" + std::to_string(port_) +
                               " did not start");
    }
  }

  // Stops serving; the owner calls it before the state its handlers use goes away.
  void stop() {
    server_.stop();
    if (listener_.joinable()) listener_.join();
  }

 private:
  std::string owner_;
  httplib::Server server_;
  int port_ = 0;
  std::thread listener_;
  std::atomic<bool> finished_{false};
};

}  // namespace kagura::test
