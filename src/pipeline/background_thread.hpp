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

// Names the calling thread (at most 15 characters on Linux), so that top, perf and gdb show
// which threads are Kagura's.
void name_this_thread(const char* name) noexcept;

// Starts a thread of the library's own (a writer, a checkpointer, an alert sender) with the
// asynchronous signals blocked, as the thread inherits its creator's mask. The program's
// SIGINT or SIGTERM then always goes to one of the program's own threads, never to a library
// thread parked in a wait, which is what a program that handles its signals itself (in a
// chosen thread, or with sigwait) expects of a library. The thread takes `name` before it runs
// `function`: a thread with its name has its final signal mask.
template <class Function>
std::thread start_background_thread(const char* name, Function&& function) {
  const AsyncSignalsBlocked blocked;
  return std::thread([name, function = std::forward<Function>(function)]() mutable {
    name_this_thread(name);
    function();
  });
}

}  // namespace kagura::pipeline
