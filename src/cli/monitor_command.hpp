#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli {

// `kagura monitor ...`: reads a telemetry store and prints what it holds.
void add_monitor_command(CLI::App& app);

}  // namespace kagura::cli
