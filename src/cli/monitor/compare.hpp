#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli::monitor {

// `kagura monitor compare AGENT...`: agents side by side.
void add_compare_command(CLI::App& monitor);

}  // namespace kagura::cli::monitor
