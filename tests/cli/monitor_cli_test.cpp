// `kagura monitor stats|list` as users run it: the real binary in a child process, reading a
// SQLite store the test seeds.

#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;
using kagura::test::EnvChanges;
using kagura::test::ProcessResult;
using kagura::test::TempDir;
using telemetry::Execution;
using telemetry::ExecutionStatus;

constexpr double kJan10_2025 = 1736467200;  // 2025-01-10T00:00:00Z
constexpr double kNov14_2023 = 1700000000;  // 2023-11-14T22:13:20Z

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Execution make_execution(const std::string& agent, double started_at, ExecutionStatus status,
                         double duration, telemetry::NanoUsd cost_nanos, std::int64_t prompt,
                         std::int64_t completion) {
  Execution e;
  e.id = telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = started_at;
  e.duration = duration;
  e.ended_at = started_at + duration;
  e.status = status;
  if (status == ExecutionStatus::failed) {
    e.error = "API Error";
    e.error_type = "std::exception";
  }
  telemetry::LlmCall call;
  call.model = "gpt-4o-mini";
  call.prompt_tokens = prompt;
  call.completion_tokens = completion;
  call.cost_nanos = cost_nanos;
  e.metrics.add(call);
  e.events.push_back({started_at, call});
  return e;
}

class MonitorCliTest : public ::testing::Test {
 protected:
  MonitorCliTest() {
    const double now = telemetry::unix_now();
    // Newest first: gamma (10 min ago), alpha (1 h), beta (2 h, failed), alpha (Jan 2025),
    // alpha (Nov 2023). Costs add up to $1.2345.
    seeded = {
        make_execution("gamma", now - 600, ExecutionStatus::completed, 0.2, 0, 10, 5),
        make_execution("alpha", now - 3600, ExecutionStatus::completed, 1.5, 1'000'000'000, 1000,
                       500),
        make_execution("beta", now - 7200, ExecutionStatus::failed, 0.5, 234'500'000, 100, 0),
        make_execution("alpha", kJan10_2025, ExecutionStatus::completed, 2.0, 0, 20, 20),
        make_execution("alpha", kNov14_2023, ExecutionStatus::completed, 3.0, 0, 30, 30),
    };
    storage::SqliteStore store(db.string());
    for (const auto& e : seeded) store.save_execution(e);
  }

  ProcessResult kagura(std::vector<std::string> args, EnvChanges env = {}) const {
    args.insert(args.begin(), kagura::test::kagura_bin());
    // A HOME of its own, so a misdirected read can never touch the developer's store.
    env.emplace("HOME", dir.path().string());
    return kagura::test::run_process(args, env);
  }

  nlohmann::json stats_json(std::vector<std::string> filters) const {
    std::vector<std::string> args = {"monitor", "stats", "--db", db.string(), "--json"};
    args.insert(args.end(), filters.begin(), filters.end());
    const ProcessResult result = kagura(args);
    EXPECT_EQ(result.exit_code(), 0) << result.err;
    try {
      return nlohmann::json::parse(result.out);
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << result.out;
      return {};
    }
  }

  TempDir dir{"kagura_cli_test"};
  fs::path db = dir.path() / "telemetry.db";
  std::vector<Execution> seeded;
};

TEST_F(MonitorCliTest, StatsPrintsCountsSuccessRateAndCost) {
  const ProcessResult result = kagura({"monitor", "stats", "--db", db.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.err, "");
  const std::string& out = result.out;
  EXPECT_NE(out.find(db.string()), std::string::npos) << out;
  EXPECT_NE(out.find("Executions    5  (completed 4, failed 1, running 0)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("Success rate  80.0%"), std::string::npos) << out;
  EXPECT_NE(out.find("$1.2345"), std::string::npos) << out;
  EXPECT_NE(out.find("LLM 5"), std::string::npos) << out;
  EXPECT_NE(out.find("Tokens        1,715"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no colour when not on a terminal";
}

TEST_F(MonitorCliTest, StatsJsonEqualsTheStoresSummary) {
  storage::SqliteStore store(db.string());
  std::vector<std::pair<std::vector<std::string>, storage::ExecutionFilter>> cases(4);
  cases[1].first = {"--agent", "alpha"};
  cases[1].second.agent_name = "alpha";
  cases[2].first = {"--status", "failed"};
  cases[2].second.status = ExecutionStatus::failed;
  cases[3].first = {"--since", "1736467200"};
  cases[3].second.since = kJan10_2025;
  for (const auto& [filters, filter] : cases) {
    const nlohmann::json json = stats_json(filters);
    const storage::SummaryStats s = store.get_summary_stats(filter);
    ASSERT_TRUE(json.is_object()) << json;
    EXPECT_EQ(json["total_executions"], s.total_executions);
    EXPECT_EQ(json["completed"], s.completed);
    EXPECT_EQ(json["failed"], s.failed);
    EXPECT_EQ(json["running"], s.running);
    EXPECT_EQ(json["success_rate"].get<double>(), s.success_rate);
    EXPECT_EQ(json["avg_duration"].get<double>(), s.avg_duration);
    EXPECT_EQ(json["p50_duration"].get<double>(), s.p50_duration);
    EXPECT_EQ(json["p95_duration"].get<double>(), s.p95_duration);
    EXPECT_EQ(json["p99_duration"].get<double>(), s.p99_duration);
    EXPECT_EQ(json["max_duration"].get<double>(), s.max_duration);
    EXPECT_EQ(json["llm_calls"], s.llm_calls);
    EXPECT_EQ(json["tool_calls"], s.tool_calls);
    EXPECT_EQ(json["memory_operations"], s.memory_operations);
    EXPECT_EQ(json["prompt_tokens"], s.prompt_tokens);
    EXPECT_EQ(json["completion_tokens"], s.completion_tokens);
    EXPECT_EQ(json["total_tokens"], s.total_tokens);
    EXPECT_EQ(json["cached_tokens"], s.cached_tokens);
    EXPECT_EQ(json["reasoning_tokens"], s.reasoning_tokens);
    EXPECT_EQ(json["unpriced_llm_calls"], s.unpriced_llm_calls);
    EXPECT_EQ(json["total_cost"].get<double>(), s.total_cost());
  }
  const nlohmann::json all = stats_json({});
  EXPECT_EQ(all["total_executions"], 5);
  EXPECT_EQ(all["total_cost"].get<double>(), 1.2345);
}

TEST_F(MonitorCliTest, AgentFilter) {
  EXPECT_EQ(stats_json({"--agent", "alpha"})["total_executions"], 3);
  EXPECT_EQ(stats_json({"-a", "beta"})["failed"], 1);

  const ProcessResult text = kagura({"monitor", "stats", "--db", db.string(), "--agent", "alpha"});
  ASSERT_EQ(text.exit_code(), 0) << text.err;
  EXPECT_NE(text.out.find("Executions    3  (completed 3, failed 0"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("Success rate  100.0%"), std::string::npos) << text.out;

  const ProcessResult list = kagura({"monitor", "list", "--db", db.string(), "--agent", "alpha"});
  ASSERT_EQ(list.exit_code(), 0) << list.err;
  const auto rows = lines_of(list.out);
  ASSERT_EQ(rows.size(), 4U) << list.out;  // header and three executions
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_NE(rows[i].find("alpha"), std::string::npos) << rows[i];
  }
}

TEST_F(MonitorCliTest, ListShowsTheNewestFirstWithIds) {
  const ProcessResult result = kagura({"monitor", "list", "--db", db.string(), "-n", "3"});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const auto rows = lines_of(result.out);
  ASSERT_EQ(rows.size(), 4U) << result.out;
  EXPECT_NE(rows[0].find("agent"), std::string::npos) << "a header first: " << rows[0];
  EXPECT_NE(rows[0].find("id"), std::string::npos) << rows[0];
  const char* agents[] = {"gamma", "alpha", "beta"};
  for (int i = 0; i < 3; ++i) {
    const std::string& row = rows[static_cast<std::size_t>(i + 1)];
    EXPECT_NE(row.find(seeded[static_cast<std::size_t>(i)].id), std::string::npos)
        << "row " << i << ": " << row;
    EXPECT_NE(row.find(agents[i]), std::string::npos) << row;
  }
  EXPECT_NE(rows[3].find("failed"), std::string::npos) << rows[3];
  EXPECT_EQ(result.out.find(seeded[3].id), std::string::npos);
  EXPECT_EQ(result.out.find(seeded[4].id), std::string::npos);

  const ProcessResult all = kagura({"monitor", "list", "--db", db.string()});
  ASSERT_EQ(all.exit_code(), 0) << all.err;
  EXPECT_EQ(lines_of(all.out).size(), 6U) << all.out;
  EXPECT_NE(all.out.find("2025-01-10 00:00:00"), std::string::npos) << "UTC start times";
}

TEST_F(MonitorCliTest, ListJsonHasFullRecords) {
  const ProcessResult result =
      kagura({"monitor", "list", "--db", db.string(), "--json", "--limit", "2"});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2U);
  EXPECT_EQ(json[0]["id"], seeded[0].id);
  EXPECT_EQ(json[1]["id"], seeded[1].id);
  EXPECT_EQ(json[1]["agent_name"], "alpha");
  ASSERT_EQ(json[1]["events"].size(), 1U);
  EXPECT_EQ(json[1]["events"][0]["type"], "llm_call");
}

TEST_F(MonitorCliTest, SinceAcceptsSpansIsoDatesAndTimestamps) {
  EXPECT_EQ(stats_json({"--since", "24h"})["total_executions"], 3);
  EXPECT_EQ(stats_json({"--since", "90m"})["total_executions"], 2);
  EXPECT_EQ(stats_json({"-s", "1d"})["total_executions"], 3);
  EXPECT_EQ(stats_json({"--since", "2025-01-01"})["total_executions"], 4);
  EXPECT_EQ(stats_json({"--since", "2025-01-10T00:00:00Z"})["total_executions"], 4)
      << "since is inclusive";
  EXPECT_EQ(stats_json({"--since", "2025-01-10 00:00:01"})["total_executions"], 3);
  EXPECT_EQ(stats_json({"--since", "1736467200"})["total_executions"], 4);
  EXPECT_EQ(stats_json({"--since", "1736467201"})["total_executions"], 3);
  EXPECT_EQ(stats_json({"--until", "2025-01-01"})["total_executions"], 1);
  EXPECT_EQ(stats_json({"--since", "2020-01-01", "--until", "2025-01-11"})["total_executions"], 2);

  const ProcessResult list = kagura({"monitor", "list", "--db", db.string(), "--since", "24h"});
  ASSERT_EQ(list.exit_code(), 0) << list.err;
  const auto rows = lines_of(list.out);
  ASSERT_EQ(rows.size(), 4U) << list.out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(rows[static_cast<std::size_t>(i + 1)].find(seeded[static_cast<std::size_t>(i)].id),
              std::string::npos);
  }
}

TEST_F(MonitorCliTest, BadSinceIsAOneLineErrorNamingTheValue) {
  for (const char* bad : {"yesterday", "24x", "2025-13-45", "-5"}) {
    const ProcessResult result = kagura({"monitor", "stats", "--db", db.string(), "--since", bad});
    EXPECT_NE(result.exit_code(), 0) << bad;
    EXPECT_TRUE(result.exited()) << bad;
    EXPECT_EQ(result.out, "") << bad;
    const auto lines = lines_of(result.err);
    ASSERT_EQ(lines.size(), 1U) << bad << ": " << result.err;
    EXPECT_NE(lines[0].find(std::string("'") + bad + "'"), std::string::npos) << lines[0];
  }
  const ProcessResult list = kagura({"monitor", "list", "--db", db.string(), "--since", "soon"});
  EXPECT_NE(list.exit_code(), 0);
  EXPECT_NE(list.err.find("'soon'"), std::string::npos) << list.err;
}

TEST_F(MonitorCliTest, MissingDatabaseIsAnErrorNamingThePath) {
  const fs::path missing = dir.path() / "nowhere" / "missing.db";
  for (const char* command : {"stats", "list"}) {
    const ProcessResult result = kagura({"monitor", command, "--db", missing.string()});
    EXPECT_NE(result.exit_code(), 0) << command;
    EXPECT_NE(result.err.find(missing.string()), std::string::npos) << result.err;
    EXPECT_EQ(lines_of(result.err).size(), 1U) << result.err;
  }
  EXPECT_FALSE(fs::exists(missing)) << "reading must not create a store";
  EXPECT_FALSE(fs::exists(missing.parent_path()));
}

TEST_F(MonitorCliTest, EmptyStoreIsAnErrorWithAMessage) {
  const fs::path empty = dir.path() / "empty.db";
  { storage::SqliteStore store(empty.string()); }
  for (const char* command : {"stats", "list"}) {
    const ProcessResult result = kagura({"monitor", command, "--db", empty.string()});
    EXPECT_NE(result.exit_code(), 0) << command;
    EXPECT_EQ(result.out, "") << command;
    EXPECT_NE(result.err.find("no executions"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(empty.string()), std::string::npos) << result.err;
  }
  // Filters that match nothing in a full store are reported the same way.
  const ProcessResult none = kagura({"monitor", "stats", "--db", db.string(), "--agent", "nobody"});
  EXPECT_NE(none.exit_code(), 0);
  EXPECT_NE(none.err.find("no executions"), std::string::npos) << none.err;
}

TEST_F(MonitorCliTest, StatusFilter) {
  const ProcessResult result =
      kagura({"monitor", "list", "--db", db.string(), "--status", "failed"});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const auto rows = lines_of(result.out);
  ASSERT_EQ(rows.size(), 2U) << result.out;
  EXPECT_NE(rows[1].find(seeded[2].id), std::string::npos) << rows[1];

  const ProcessResult bad =
      kagura({"monitor", "list", "--db", db.string(), "--status", "exploded"});
  EXPECT_NE(bad.exit_code(), 0);
}

// Runs kagura on a pseudo-terminal, where it would use colour, and returns what it printed.
std::string run_on_terminal(const std::vector<std::string>& args, const EnvChanges& changes) {
  const auto env_strings = kagura::test::child_environment(changes);
  std::vector<char*> env_ptrs;
  for (const auto& s : env_strings) env_ptrs.push_back(const_cast<char*>(s.c_str()));
  env_ptrs.push_back(nullptr);
  std::vector<char*> arg_ptrs;
  for (const auto& s : args) arg_ptrs.push_back(const_cast<char*>(s.c_str()));
  arg_ptrs.push_back(nullptr);

  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty failed";
    return {};
  }
  if (pid == 0) {
    ::execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child has closed the terminal
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  return out;
}

TEST_F(MonitorCliTest, NoColorTurnsColourOffOnATerminal) {
  const std::vector<std::string> args = {kagura::test::kagura_bin(), "monitor", "stats", "--db",
                                         db.string()};
  const EnvChanges home = {{"HOME", dir.path().string()}, {"NO_COLOR", std::nullopt}};
  const std::string coloured = run_on_terminal(args, home);
  ASSERT_NE(coloured.find("Success rate"), std::string::npos) << coloured;
  EXPECT_NE(coloured.find("\x1b["), std::string::npos)
      << "colour on a terminal, or this test proves nothing";

  EnvChanges no_color = home;
  no_color["NO_COLOR"] = "1";
  const std::string plain = run_on_terminal(args, no_color);
  ASSERT_NE(plain.find("Success rate"), std::string::npos) << plain;
  EXPECT_EQ(plain.find('\x1b'), std::string::npos) << plain;

  std::vector<std::string> list_args = args;
  list_args[2] = "list";
  const std::string list = run_on_terminal(list_args, no_color);
  ASSERT_NE(list.find(seeded[2].id), std::string::npos) << list;
  EXPECT_EQ(list.find('\x1b'), std::string::npos) << "the failed status is not coloured: " << list;
}

}  // namespace
}  // namespace kagura::cli
