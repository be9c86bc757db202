// Crashes: a recording process killed with SIGKILL at a random moment leaves a SQLite database
// that opens and passes PRAGMA integrity_check, and that the next process writes on. In the
// default (asynchronous) mode the executions lost are at most those still in memory: the queue
// and the batch being written (docs/reliability.md). In the durable mode
// (KAGURA_TELEMETRY_DURABLE=1) not one execution whose call returned is lost.

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include "kagura/storage/sqlite_store.hpp"
#include "reliability/reliability_support.hpp"

namespace kagura::test {
namespace {

using namespace std::chrono_literals;

// The pipeline's defaults (async_writer.hpp): what may wait in memory at the moment of a kill.
constexpr std::size_t kQueueCapacity = 8192;
constexpr std::size_t kMaxBatch = 4096;

struct KillRun {
  AgentOutput output;
  double seconds = 0;
};

// Starts an agent that records until killed, lets it run for `run_for`, and SIGKILLs it.
KillRun record_then_kill(int process, const EnvChanges& env, std::chrono::milliseconds run_for) {
  ChildProcess child(agent_argv(process, 4, {"--forever", "--ack", "--pace-us", "100"}), env);
  ProcessResult result;
  const auto start = std::chrono::steady_clock::now();
  std::thread reader([&] { result = child.finish(); });
  std::this_thread::sleep_for(run_for);
  ::kill(child.pid(), SIGKILL);
  reader.join();
  KillRun run;
  run.seconds = seconds_since(start);
  EXPECT_TRUE(result.signalled() && result.signal() == SIGKILL)
      << "the agent ended before the kill: " << result.err;
  run.output = parse_agent_output(result.out);
  return run;
}

std::string integrity_check(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  return db.execAndGet("PRAGMA integrity_check").getString();
}

std::chrono::milliseconds random_moment(std::mt19937& random) {
  return std::chrono::milliseconds(std::uniform_int_distribution<int>(400, 1500)(random));
}

TEST(Crash, AKilledAsynchronousRecorderLosesAtMostWhatWaitedInMemory) {
  TempDir dir{"kagura_crash_async"};
  const auto db = (dir.path() / "crash.db").string();
  const EnvChanges env = {{"KAGURA_HOME", (dir.path() / "home").string()},
                          {"KAGURA_TELEMETRY_CONNECTION", db}};
  std::mt19937 random(std::random_device{}());
  std::vector<std::string> acked;
  std::size_t lost_before = 0;
  for (int kill = 0; kill < 3; ++kill) {
    const auto run = record_then_kill(kill, env, random_moment(random));
    ASSERT_FALSE(run.output.acked.empty()) << "the agent recorded nothing before the kill";
    acked.insert(acked.end(), run.output.acked.begin(), run.output.acked.end());
    ASSERT_EQ(integrity_check(db), "ok") << "after kill " << kill + 1;
    storage::SqliteStore store(db);
    const StoreCheck check = check_store(store, acked);
    const std::size_t lost_now = check.missing;
    print_figures("crash async kill " + std::to_string(kill + 1),
                  {{"ran_seconds", fmt::format("{:.2f}", run.seconds)},
                   {"acknowledged_total", std::to_string(acked.size())},
                   {"acknowledged_this_run", std::to_string(run.output.acked.size())},
                   {"stored_total", std::to_string(check.stored)},
                   {"lost_this_kill", std::to_string(lost_now - lost_before)},
                   {"dropped_this_run", std::to_string(run.output.dropped)},
                   {"lost_total", std::to_string(lost_now)},
                   {"recorded_not_acknowledged", std::to_string(check.unexpected)},
                   {"window", std::to_string(kQueueCapacity + kMaxBatch)},
                   {"integrity_check", "ok"}});
    EXPECT_EQ(check.distinct, check.stored) << "an execution is stored twice";
    EXPECT_EQ(check.mixed_up, 0u) << check.first_problem;
    // Whatever each kill lost was in memory (the queue plus the batch being written), or was
    // refused by a full queue and counted as dropped (the overflow policy's default: a machine
    // too loaded for the pipeline to keep up, e.g. under a sanitizer with other tests).
    EXPECT_LE(lost_now - lost_before, kQueueCapacity + kMaxBatch + run.output.dropped);
    lost_before = lost_now;
  }
  // The next process writes on the database that survived three kills.
  const auto after = run_process(agent_argv(9, 2, {"--count", "50", "--ack"}), env);
  ASSERT_EQ(after.exit_code(), 0) << after.err;
  const auto last = parse_agent_output(after.out);
  ASSERT_EQ(last.acked.size(), 100u);
  storage::SqliteStore store(db);
  const StoreCheck check = check_store(store, last.acked);
  EXPECT_EQ(check.missing, 0u) << check.first_problem;
  EXPECT_EQ(integrity_check(db), "ok");
}

TEST(Crash, AKilledDurableRecorderLosesNoAcknowledgedExecution) {
  TempDir dir{"kagura_crash_durable"};
  const auto db = (dir.path() / "durable.db").string();
  const EnvChanges env = {{"KAGURA_HOME", (dir.path() / "home").string()},
                          {"KAGURA_TELEMETRY_CONNECTION", db},
                          {"KAGURA_TELEMETRY_DURABLE", "1"}};
  std::mt19937 random(std::random_device{}());
  std::vector<std::string> acked;
  for (int kill = 0; kill < 5; ++kill) {
    const auto run = record_then_kill(kill, env, random_moment(random));
    ASSERT_FALSE(run.output.acked.empty()) << "the agent recorded nothing before the kill";
    acked.insert(acked.end(), run.output.acked.begin(), run.output.acked.end());
    ASSERT_EQ(integrity_check(db), "ok") << "after kill " << kill + 1;
    storage::SqliteStore store(db);
    const StoreCheck check = check_store(store, acked);
    print_figures("crash durable kill " + std::to_string(kill + 1),
                  {{"ran_seconds", fmt::format("{:.2f}", run.seconds)},
                   {"acknowledged_total", std::to_string(acked.size())},
                   {"acknowledged_this_run", std::to_string(run.output.acked.size())},
                   {"stored_total", std::to_string(check.stored)},
                   {"lost_total", std::to_string(check.missing)},
                   {"recorded_not_acknowledged", std::to_string(check.unexpected)},
                   {"integrity_check", "ok"}});
    EXPECT_EQ(check.missing, 0u) << check.first_problem;
    EXPECT_EQ(check.distinct, check.stored) << "an execution is stored twice";
    EXPECT_EQ(check.mixed_up, 0u) << check.first_problem;
    // A kill between the commit and the ack line loses only the ack: at most one per thread.
    EXPECT_LE(check.unexpected, (kill + 1) * 4u);
  }
}

}  // namespace
}  // namespace kagura::test
