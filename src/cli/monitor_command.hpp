#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli {

// `kagura monitor ...`: reads a telemetry store and shows what it holds. Each subcommand lives
// in src/cli/monitor/; without one, `kagura monitor` is the live view.
void add_monitor_command(CLI::App& app);

}  // namespace kagura::cli
