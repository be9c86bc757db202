#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "kagura/telemetry/execution.hpp"

namespace kagura::cli::monitor {

// `kagura monitor list`: recent executions, newest first.
void add_list_command(CLI::App& monitor);

// The listing's table (header first) for executions read with their events (for the models);
// the live view shows it too.
std::vector<std::string> execution_table(const std::vector<telemetry::Execution>& executions,
                                         double now);

}  // namespace kagura::cli::monitor
