#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli::monitor {

// `kagura monitor trace ID`: one execution (a unique id prefix is enough) with its events as a
// timeline and its child executions as a tree.
void add_trace_command(CLI::App& monitor);

}  // namespace kagura::cli::monitor
