#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli::monitor {

// `kagura monitor cost` (alias cost-analysis): cost by model, agent or day, the total, and a
// monthly projection from the cost per day of the period shown.
void add_cost_command(CLI::App& monitor);

}  // namespace kagura::cli::monitor
