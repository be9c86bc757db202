#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kagura/storage/query.hpp"

namespace kagura::cli::monitor {

// `kagura monitor stats`: totals, success rate, latency percentiles, calls, tokens, cost.
void add_stats_command(CLI::App& monitor);

nlohmann::json stats_json(const storage::SummaryStats& stats);
// The body of the stats view, one line each, indented; the live view shows it too.
std::vector<std::string> stats_lines(const storage::SummaryStats& stats);

}  // namespace kagura::cli::monitor
