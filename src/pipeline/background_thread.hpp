#pragma once

#include <csignal>
#include <thread>
#include <utility>

namespace kagura::pipeline {

// Blocks the asynchronous signals (SIGINT, SIGTERM, SIGHUP, SIGUSR1, ...) in the calling thread
// until the end of the scope; faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS)
// stay deliverable.
class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked();
  ~AsyncSignalsBlocked();
  AsyncSignalsBlocked(const AsyncSignalsBlocked&) = delete;
  AsyncSignalsBlocked& operator=(const AsyncSignalsBlocked&) = delete;

 private:
  sigset_t saved_mask_;
};

// Starts a thread of the library's own (a writer, a checkpointer, an alert sender) with the
// asynchronous signals blocked, as the thread inherits its creator's mask. The program's
// SIGINT or SIGTERM then always reaches one of the program's threads, never a library thread
// parked in a wait: a thread that may not take the signal cannot delay or swallow it (under
// ThreadSanitizer, which defers a signal until its thread next enters an intercepted call, a
// signal taken by a thread waiting on a condition variable was never handled).
template <class Function>
std::thread start_background_thread(Function&& function) {
  const AsyncSignalsBlocked blocked;
  return std::thread(std::forward<Function>(function));
}

}  // namespace kagura::pipeline
