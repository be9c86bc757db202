#pragma once

// Flushing of every live AsyncWriter when the process ends: at normal exit (std::exit or a
// return from main) and on SIGINT or SIGTERM. A signal handler may not take locks or touch a
// database, so the handler only posts a semaphore; a watcher thread flushes, then restores the
// default action and re-raises the signal so the process ends with the status the signal implies.

#include <chrono>

namespace kagura::pipeline {

class AsyncWriter;

void register_for_exit_flush(AsyncWriter* writer);
void unregister_for_exit_flush(AsyncWriter* writer);

// Installs the SIGINT/SIGTERM handlers, once. A signal whose action the program has already
// set (anything but SIG_DFL) is left alone.
void install_signal_flush();

// Flushes every registered writer; used by the exit and signal paths, and by tests.
void flush_all_writers(std::chrono::milliseconds timeout_each);

}  // namespace kagura::pipeline
