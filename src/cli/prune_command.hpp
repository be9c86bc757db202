#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli {

// `kagura prune --older-than 30d`: deletes old executions from a telemetry store (retention).
void add_prune_command(CLI::App& app);

}  // namespace kagura::cli
