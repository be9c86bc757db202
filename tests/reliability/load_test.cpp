// Load: 2 processes with 16 recording threads each put 100,000 executions in total (50,000 per
// process) into one store, SQLite (one file, two writing processes) and PostgreSQL (one
// schema). Every execution must be stored exactly once, with its own content.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "kagura/storage/postgres_store.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "reliability/reliability_support.hpp"
#include "support/postgres_test_server.hpp"

namespace kagura::test {
namespace {

constexpr int kProcesses = 2;
constexpr int kThreads = 16;
constexpr long kPerThread = 3125;  // 2 x 16 x 3,125 = 100,000
constexpr std::size_t kTotal = std::size_t{kProcesses} * kThreads * kPerThread;

void run_load(const std::string& name, const EnvChanges& env, storage::StorageAdapter& check_with) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(std::make_unique<ChildProcess>(
        agent_argv(p, kThreads, {"--count", std::to_string(kPerThread), "--ack"}), env));
  }
  // Each child's pipes are read on a thread of their own, so neither waits on a full pipe.
  std::vector<ProcessResult> results(kProcesses);
  std::vector<std::thread> readers;
  for (int p = 0; p < kProcesses; ++p) {
    readers.emplace_back([&, p] { results[p] = children[p]->finish(); });
  }
  for (auto& reader : readers) reader.join();
  const double elapsed = seconds_since(start);

  std::vector<std::string> acked;
  std::uint64_t written = 0, duplicates = 0, dropped = 0, failed = 0, spooled = 0;
  for (int p = 0; p < kProcesses; ++p) {
    ASSERT_EQ(results[p].exit_code(), 0) << results[p].err;
    const auto output = parse_agent_output(results[p].out);
    ASSERT_TRUE(output.stats) << "process " << p << " printed no stats: " << results[p].err;
    EXPECT_EQ(output.acked.size(), std::size_t{kThreads} * kPerThread) << "process " << p;
    acked.insert(acked.end(), output.acked.begin(), output.acked.end());
    const auto& s = *output.stats;
    written += s["written"].get<std::uint64_t>();
    duplicates += s["duplicates"].get<std::uint64_t>();
    dropped += s["dropped"].get<std::uint64_t>();
    failed += s["failed"].get<std::uint64_t>();
    spooled += s["spooled"].get<std::uint64_t>();
    EXPECT_EQ(s["last_error"], "") << "process " << p;
  }

  const auto check_start = std::chrono::steady_clock::now();
  const StoreCheck check = check_store(check_with, acked);
  print_figures(name, {{"processes", std::to_string(kProcesses)},
                       {"threads_each", std::to_string(kThreads)},
                       {"recorded", std::to_string(acked.size())},
                       {"stored", std::to_string(check.stored)},
                       {"distinct", std::to_string(check.distinct)},
                       {"missing", std::to_string(check.missing)},
                       {"mixed_up", std::to_string(check.mixed_up)},
                       {"written", std::to_string(written)},
                       {"duplicates", std::to_string(duplicates)},
                       {"dropped", std::to_string(dropped)},
                       {"failed", std::to_string(failed)},
                       {"spooled", std::to_string(spooled)},
                       {"seconds", fmt::format("{:.2f}", elapsed)},
                       {"executions_per_second", fmt::format("{:.0f}", kTotal / elapsed)},
                       {"check_seconds", fmt::format("{:.2f}", seconds_since(check_start))}});
  EXPECT_EQ(acked.size(), kTotal);
  EXPECT_EQ(check.stored, kTotal);
  EXPECT_EQ(check.distinct, check.stored) << "an execution is stored twice";
  EXPECT_EQ(check.missing, 0u) << check.first_problem;
  EXPECT_EQ(check.unexpected, 0u);
  EXPECT_EQ(check.mixed_up, 0u) << check.first_problem;
  EXPECT_EQ(written, kTotal);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(spooled, 0u) << "a writer gave up on the store (busy?) and spooled";
  EXPECT_EQ(check_with.count_executions({}), static_cast<std::int64_t>(kTotal));
  const auto summary = check_with.get_summary_stats({});
  EXPECT_EQ(summary.llm_calls, static_cast<std::int64_t>(kTotal)) << "rollups count each once";
  EXPECT_EQ(summary.tool_calls, static_cast<std::int64_t>(kTotal));
}

EnvChanges load_env(const TempDir& dir) {
  // block: a load test records faster than any agent, and no execution may be dropped.
  return {{"KAGURA_HOME", (dir.path() / "home").string()}, {"KAGURA_TELEMETRY_OVERFLOW", "block"}};
}

TEST(Load, TwoProcessesOfSixteenThreadsIntoOneSqliteFile) {
  TempDir dir{"kagura_load_sqlite"};
  const auto db = (dir.path() / "load.db").string();
  auto env = load_env(dir);
  env["KAGURA_TELEMETRY_CONNECTION"] = db;
  // The file exists before the writers start, as after `kagura init`.
  { storage::SqliteStore create(db); }
  storage::SqliteStore store(db);
  run_load("load sqlite", env, store);
}

TEST(Load, TwoProcessesOfSixteenThreadsIntoOnePostgresSchema) {
  PostgresSchema schema;
  TempDir dir{"kagura_load_pg"};
  auto env = load_env(dir);
  env["KAGURA_TELEMETRY_BACKEND"] = "postgresql";
  env["KAGURA_TELEMETRY_CONNECTION"] = schema.url();
  { storage::PostgresStore create(schema.url()); }
  storage::PostgresStore store(schema.url());
  run_load("load postgresql", env, store);
}

}  // namespace
}  // namespace kagura::test
