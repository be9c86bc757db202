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
// SIGINT or SIGTERM then always goes to one of the program's own threads, never to a library
// thread parked in a wait, which is what a program that handles its signals itself (in a
// chosen thread, or with sigwait) expects of a library.
template <class Function>
std::thread start_background_thread(Function&& function) {
  const AsyncSignalsBlocked blocked;
  return std::thread(std::forward<Function>(function));
}

}  // namespace kagura::pipeline
