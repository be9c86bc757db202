#pragma once

#include <CLI/CLI.hpp>

namespace kagura::cli {

// `kagura init`: chooses the telemetry store, checks that it answers and saves the choice in
// ~/.kagura/.env.
void add_init_command(CLI::App& app);

}  // namespace kagura::cli
