#include "kagura/pipeline/exit_flush.hpp"

#include <pthread.h>
#include <semaphore.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "kagura/pipeline/async_writer.hpp"
#include "pipeline/background_thread.hpp"

namespace kagura::pipeline {
namespace {

constexpr auto kExitFlushTimeout = std::chrono::seconds(10);

// Never destroyed: writers may unregister during static destruction in any order.
struct Registry {
  std::mutex mutex;
  std::vector<AsyncWriter*> writers;
};

Registry& registry() {
  static auto* instance = new Registry;
  return *instance;
}

sem_t g_signal_semaphore;
std::atomic<int> g_pending_signal{0};

void on_signal(int signal_number) {
  // Only async-signal-safe calls here.
  int expected = 0;
  if (g_pending_signal.compare_exchange_strong(expected, signal_number)) {
    sem_post(&g_signal_semaphore);
  }
}

void flush_at_exit() {
  flush_all_writers(kExitFlushTimeout);
}

void register_exit_handler_once() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(flush_at_exit); });
}

}  // namespace

void register_for_exit_flush(AsyncWriter* writer) {
  register_exit_handler_once();
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.writers.push_back(writer);
}

void unregister_for_exit_flush(AsyncWriter* writer) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.writers.erase(std::remove(r.writers.begin(), r.writers.end(), writer), r.writers.end());
}

void flush_all_writers(std::chrono::milliseconds timeout_each) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto* writer : r.writers) writer->flush(timeout_each);
}

void install_signal_flush() {
  static std::once_flag once;
  std::call_once(once, [] {
    sem_init(&g_signal_semaphore, 0, 0);
    std::vector<int> installed;
    for (int signal_number : {SIGINT, SIGTERM}) {
      struct sigaction current {};
      sigaction(signal_number, nullptr, &current);
      if (current.sa_handler != SIG_DFL) continue;
      struct sigaction action {};
      action.sa_handler = on_signal;
      sigemptyset(&action.sa_mask);
      sigaction(signal_number, &action, nullptr);
      installed.push_back(signal_number);
    }
    if (installed.empty()) return;
    start_background_thread("kagura-sigflush", [] {
      while (sem_wait(&g_signal_semaphore) != 0) {
      }
      const int signal_number = g_pending_signal.load();
      flush_all_writers(kExitFlushTimeout);
      // The process ends as the signal implies: raised again at its default action, in this
      // thread, which must therefore take it now.
      std::signal(signal_number, SIG_DFL);
      sigset_t just_this;
      sigemptyset(&just_this);
      sigaddset(&just_this, signal_number);
      pthread_sigmask(SIG_UNBLOCK, &just_this, nullptr);
      std::raise(signal_number);
    }).detach();
  });
}

}  // namespace kagura::pipeline
