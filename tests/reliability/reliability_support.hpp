#pragma once

// What the reliability tests share: running reliability_agent (tests/support/) as a child
// process, reading what it acknowledged, and checking a store against it: every acknowledged
// execution stored exactly once, with its own content (support/reliability_keys.hpp).

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kagura/storage/storage_adapter.hpp"
#include "support/reliability_keys.hpp"
#include "support/test_support.hpp"

namespace kagura::test {

inline std::string reliability_agent() {
  return program_path("KAGURA_RELIABILITY_AGENT", "reliability_agent");
}

inline std::vector<std::string> agent_argv(int process, int threads,
                                           const std::vector<std::string>& more) {
  std::vector<std::string> argv = {reliability_agent(), "--process", std::to_string(process),
                                   "--threads", std::to_string(threads)};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

// The ids a child acknowledged ("ack <id>" lines), and its final "stats" line, if it got there.
struct AgentOutput {
  std::vector<std::string> acked;
  std::optional<nlohmann::json> stats;
  // The highest count of executions the pipeline refused ("dropped <n>" lines): it covers
  // every acknowledged execution.
  std::uint64_t dropped = 0;
};

inline AgentOutput parse_agent_output(const std::string& out) {
  AgentOutput result;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    // A line cut short by a kill has no newline after it and may be a partial id: it was
    // never acknowledged in full, so it does not count.
    if (lines.eof()) break;
    if (line.starts_with("ack ") && line.size() == 4 + 32) {
      result.acked.push_back(line.substr(4));
    } else if (line.starts_with("dropped ")) {
      result.dropped = std::max<std::uint64_t>(result.dropped, std::stoull(line.substr(8)));
    } else if (line.starts_with("stats ")) {
      result.stats = nlohmann::json::parse(line.substr(6));
    }
  }
  return result;
}

inline std::size_t count_lines_starting(const std::string& text, std::string_view prefix) {
  std::size_t n = 0;
  std::size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') ++n;
    at += prefix.size();
  }
  return n;
}

// What a check of a store found.
struct StoreCheck {
  std::size_t stored = 0;      // rows read back
  std::size_t distinct = 0;    // distinct ids among them
  std::size_t missing = 0;     // acknowledged, not stored
  std::size_t unexpected = 0;  // stored, never acknowledged (recorded but killed before ack)
  std::size_t mixed_up = 0;    // content not matching its own key
  std::string first_problem;
};

inline StoreCheck check_store(storage::StorageAdapter& store,
                              const std::vector<std::string>& acked) {
  StoreCheck check;
  storage::ExecutionQuery query;
  query.limit = 10'000'000;
  const auto executions = store.get_executions(query);
  check.stored = executions.size();
  std::set<std::string> ids;
  for (const auto& e : executions) {
    ids.insert(e.id);
    if (const auto problem = check_key_content(e); !problem.empty()) {
      if (check.mixed_up++ == 0) check.first_problem = problem;
    }
  }
  check.distinct = ids.size();
  const std::set<std::string> acked_set(acked.begin(), acked.end());
  for (const auto& id : acked_set) {
    if (!ids.contains(id)) {
      if (check.missing++ == 0 && check.first_problem.empty()) {
        check.first_problem = "acknowledged execution " + id + " is not stored";
      }
    }
  }
  for (const auto& id : ids) {
    if (!acked_set.contains(id)) ++check.unexpected;
  }
  return check;
}

// Prints one line of figures, recognisable in the test log: "[figures] name: k=v, ...".
inline void print_figures(const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& figures) {
  std::string line = "[figures] " + name + ":";
  bool first = true;
  for (const auto& [k, v] : figures) {
    line += (first ? " " : ", ") + k + "=" + v;
    first = false;
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace kagura::test
