#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "kagura/storage/query.hpp"

namespace kagura::cli::monitor {

// `kagura monitor compare AGENT...`: agents side by side.
void add_compare_command(CLI::App& monitor);

// One agent's row of a comparison, as `compare --json` and the dashboard's /api/agents give it;
// the per-run figures are null for an agent without runs.
nlohmann::json comparison_json(const std::string& agent, const storage::SummaryStats& stats);

}  // namespace kagura::cli::monitor
