#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli {

// `kagura alerts watch|check|test`: the alert rules of ~/.kagura/alerts.json checked against a
// store (watch), validated and listed (check), or fired once by hand (test).
void add_alerts_command(CLI::App& app);

}  // namespace kagura::cli
