#include "cli/monitor/interrupt.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>

namespace kagura::cli::monitor {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int) {
  g_interrupted = 1;
}

}  // namespace

void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a sleep ends at once
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
}

bool interrupted() noexcept {
  return g_interrupted != 0;
}

bool sleep_unless_interrupted(double seconds) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(seconds));
  // In slices: the signal may be delivered to another thread (a store's background thread),
  // which leaves this one's sleep running.
  while (!interrupted()) {
    const auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) return true;
    const auto slice = std::min<clock::duration>(left, std::chrono::milliseconds(50));
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count();
    timespec request{static_cast<std::time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    nanosleep(&request, nullptr);
  }
  return false;
}

}  // namespace kagura::cli::monitor
