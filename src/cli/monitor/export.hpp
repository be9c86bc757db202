#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli::monitor {

// `kagura monitor export`: executions to CSV (RFC-030's columns), JSON or JSON Lines.
void add_export_command(CLI::App& monitor);

}  // namespace kagura::cli::monitor
