#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli {

// `kagura dashboard [--web] [--prometheus]`: the web dashboard and its JSON API, and the
// Prometheus endpoint, both reading a telemetry store, until Ctrl-C.
void add_dashboard_command(CLI::App& app);

}  // namespace kagura::cli
