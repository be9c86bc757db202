#pragma once

#include <chrono>

namespace kagura::telemetry::detail {

// Seconds from `start` to now on the steady clock: the durations recorded in events.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace kagura::telemetry::detail
