#pragma once

#include <atomic>

namespace kagura::telemetry::detail {
// Read on every track_execution(); set by set_telemetry_enabled().
extern std::atomic<bool> g_telemetry_enabled;
}  // namespace kagura::telemetry::detail
