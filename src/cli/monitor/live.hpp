#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli::monitor {

// `kagura monitor live`, which is also what `kagura monitor` without a subcommand runs: totals
// and recent executions, redrawn every --refresh seconds until Ctrl-C (or q).
void add_live_command(CLI::App& monitor);

}  // namespace kagura::cli::monitor
