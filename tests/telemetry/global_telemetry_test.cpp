// The process-wide telemetry as a program meets it: configured from the environment on first
// use, flushed at exit and on SIGINT/SIGTERM, and never in the program's way. Each scenario runs
// tests/support/record_and_wait as a separate process with its own HOME.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/test_support.hpp"

namespace kagura::telemetry {
namespace {

namespace fs = std::filesystem;
using kagura::test::ChildProcess;
using kagura::test::EnvChanges;
using kagura::test::ProcessResult;
using kagura::test::TempDir;

std::string helper() {
  return kagura::test::record_helper();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class GlobalTelemetryProcessTest : public ::testing::Test {
 protected:
  TempDir dir{"kagura_global_test"};
  fs::path home() const { return dir.path() / "home"; }
  fs::path kagura_dir() const { return home() / ".kagura"; }
  fs::path default_db() const { return kagura_dir() / "telemetry.db"; }

  // A fresh HOME with no ~/.kagura, and no KAGURA_* variable but the given ones.
  EnvChanges environment(EnvChanges extra = {}) const {
    fs::create_directories(home());
    EnvChanges env = {{"HOME", home().string()}, {"KAGURA_HOME", std::nullopt}};
    for (auto& [name, value] : extra) env[name] = value;
    return env;
  }

  ProcessResult run_helper(int count, const std::string& mode, const EnvChanges& env) const {
    return kagura::test::run_process({helper(), std::to_string(count), mode}, env);
  }

  // Checks that `db` holds exactly the executions 0..count-1 the helper records.
  static void expect_all_recorded(const fs::path& db, int count) {
    ASSERT_TRUE(fs::exists(db)) << db;
    storage::SqliteStore store(db.string());
    EXPECT_EQ(store.count_executions({}), count);
    storage::ExecutionQuery query;
    query.limit = count + 10;
    const auto executions = store.get_executions(query);
    ASSERT_EQ(executions.size(), static_cast<std::size_t>(count));
    std::set<int> seen;
    for (const auto& e : executions) {
      EXPECT_EQ(e.agent_name, "helper");
      EXPECT_EQ(e.status, ExecutionStatus::completed);
      EXPECT_EQ(e.metrics.llm_calls, 1);
      EXPECT_EQ(e.metrics.total_tokens(), 15);
      EXPECT_EQ(e.metrics.cost_nanos, 4500);
      seen.insert(e.kwargs.at("i").get<int>());
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(count));
    EXPECT_EQ(*seen.begin(), 0);
    EXPECT_EQ(*seen.rbegin(), count - 1);
  }

  void expect_signal_flushes(int signal_number) {
    constexpr int kCount = 500;
    ChildProcess child({helper(), std::to_string(kCount), "wait"}, environment());
    ASSERT_TRUE(child.wait_for_stdout("recorded\n")) << "the helper ended early";
    ASSERT_EQ(::kill(child.pid(), signal_number), 0);
    // The flush of 500 executions takes well under a second; a child still running after a
    // minute is stuck, and what it is stuck in is the useful part of the failure.
    const auto finished = child.finish_within(std::chrono::minutes(1));
    ASSERT_TRUE(finished.has_value()) << "the helper outlived the signal by a minute; "
                                      << kagura::test::describe_process(child.pid());
    const ProcessResult& result = *finished;
    ASSERT_TRUE(result.signalled()) << "status " << result.status << ", stderr: " << result.err;
    EXPECT_EQ(result.signal(), signal_number) << "the process ends as the signal implies";
    expect_all_recorded(default_db(), kCount);
  }
};

TEST_F(GlobalTelemetryProcessTest, FirstUseCreatesHomeAnnouncesItOnceAndStoresEverything) {
  const ProcessResult first = run_helper(200, "exit", environment());
  ASSERT_EQ(first.exit_code(), 0) << first.err;
  EXPECT_EQ(first.out, "recorded\n");
  EXPECT_TRUE(fs::is_directory(kagura_dir()));
  const auto notice = lines_of(first.err);
  ASSERT_EQ(notice.size(), 1U) << "one line on first use: " << first.err;
  EXPECT_TRUE(notice[0].starts_with("kagura: ")) << notice[0];
  EXPECT_NE(notice[0].find("first use"), std::string::npos) << notice[0];
  EXPECT_NE(notice[0].find(kagura_dir().string()), std::string::npos) << notice[0];
  expect_all_recorded(default_db(), 200);

  const ProcessResult second = run_helper(200, "exit", environment());
  ASSERT_EQ(second.exit_code(), 0) << second.err;
  EXPECT_EQ(second.err, "") << "the first-run notice is not repeated";
  storage::SqliteStore store(default_db().string());
  EXPECT_EQ(store.count_executions({}), 400);
}

TEST_F(GlobalTelemetryProcessTest, ReturnFromMainFlushesEveryExecution) {
  const ProcessResult result = run_helper(500, "exit", environment());
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  expect_all_recorded(default_db(), 500);
}

TEST_F(GlobalTelemetryProcessTest, ConnectionVariableChoosesTheDatabase) {
  const fs::path db = dir.path() / "elsewhere" / "custom.db";
  const ProcessResult result =
      run_helper(500, "exit", environment({{"KAGURA_TELEMETRY_CONNECTION", db.string()}}));
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  expect_all_recorded(db, 500);
  EXPECT_FALSE(fs::exists(default_db()));
  EXPECT_NE(result.err.find(db.string()), std::string::npos)
      << "the first-run notice names the database in use: " << result.err;
}

TEST_F(GlobalTelemetryProcessTest, KaguraHomeVariableMovesTheDirectory) {
  const fs::path custom_home = dir.path() / "custom-kagura";
  const ProcessResult result =
      run_helper(50, "exit", environment({{"KAGURA_HOME", custom_home.string()}}));
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  expect_all_recorded(custom_home / "telemetry.db", 50);
  EXPECT_FALSE(fs::exists(kagura_dir()));
}

TEST_F(GlobalTelemetryProcessTest, SigtermFlushesAndEndsTheProcessBySigterm) {
  expect_signal_flushes(SIGTERM);
}

TEST_F(GlobalTelemetryProcessTest, SigintFlushesAndEndsTheProcessBySigint) {
  expect_signal_flushes(SIGINT);
}

TEST_F(GlobalTelemetryProcessTest, DisabledByEnvironmentCreatesNothing) {
  const ProcessResult result =
      run_helper(20, "exit", environment({{"KAGURA_TELEMETRY_ENABLED", "false"}}));
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.out, "recorded\n");
  EXPECT_EQ(result.err, "");
  EXPECT_FALSE(fs::exists(default_db()));
  EXPECT_FALSE(fs::exists(kagura_dir())) << "disabled telemetry leaves HOME alone";
}

TEST_F(GlobalTelemetryProcessTest, DisabledByDotenvCreatesNoDatabase) {
  const auto env = environment();
  fs::create_directories(kagura_dir());
  std::ofstream(kagura_dir() / ".env") << "KAGURA_TELEMETRY_ENABLED=false\n";
  const ProcessResult result = run_helper(20, "exit", env);
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_FALSE(fs::exists(default_db()));
}

TEST_F(GlobalTelemetryProcessTest, UnknownBackendNeverBreaksTheProgram) {
  const ProcessResult result =
      run_helper(20, "exit", environment({{"KAGURA_TELEMETRY_BACKEND", "cassandra"}}));
  ASSERT_TRUE(result.exited()) << "status " << result.status;
  EXPECT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.out, "recorded\n");
  const auto notices = lines_of(result.err);
  ASSERT_EQ(notices.size(), 1U) << result.err;
  EXPECT_TRUE(notices[0].starts_with("kagura: ")) << notices[0];
  EXPECT_NE(notices[0].find("cassandra"), std::string::npos) << notices[0];
  EXPECT_EQ(result.err.find("recorded to"), std::string::npos)
      << "nothing may claim telemetry is recorded when it is off: " << result.err;
  EXPECT_FALSE(fs::exists(default_db()));
}

TEST_F(GlobalTelemetryProcessTest, BadSettingNeverBreaksTheProgram) {
  const ProcessResult result =
      run_helper(20, "exit", environment({{"KAGURA_TELEMETRY_QUEUE_CAPACITY", "0"}}));
  EXPECT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.out, "recorded\n");
  EXPECT_NE(result.err.find("KAGURA_TELEMETRY_QUEUE_CAPACITY"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(default_db()));
}

TEST_F(GlobalTelemetryProcessTest, UnusableDatabaseNeverBreaksTheProgram) {
  const fs::path not_a_db = dir.path() / "not-a-db.txt";
  std::ofstream(not_a_db) << "this is a text file, not a SQLite database; it is long enough\n";
  const ProcessResult result =
      run_helper(20, "exit", environment({{"KAGURA_TELEMETRY_CONNECTION", not_a_db.string()}}));
  EXPECT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(result.out, "recorded\n");
  EXPECT_NE(result.err.find(not_a_db.string()), std::string::npos) << result.err;
}

TEST(GlobalTelemetryTest, SetGlobalTelemetryIsWhatGetReturns) {
  TelemetryOptions options;
  options.flush_on_signals = false;
  auto first = std::make_shared<Telemetry>(
      std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory), options);
  set_global_telemetry(first);
  EXPECT_EQ(get_global_telemetry(), first);
  EXPECT_EQ(get_global_telemetry(), first);

  auto second = std::make_shared<Telemetry>(
      std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory), options);
  set_global_telemetry(second);
  EXPECT_EQ(get_global_telemetry(), second);

  { auto scope = get_global_telemetry()->collector().track_execution("global"); }
  EXPECT_TRUE(second->flush());
  EXPECT_EQ(second->store()->count_executions({}), 1);
  EXPECT_EQ(first->store()->count_executions({}), 0);

  auto disabled = Telemetry::disabled();
  set_global_telemetry(disabled);
  EXPECT_EQ(get_global_telemetry(), disabled);
}

TEST(GlobalTelemetryTest, DisabledTelemetryRecordsNothing) {
  auto telemetry = Telemetry::disabled();
  EXPECT_FALSE(telemetry->enabled());
  EXPECT_EQ(telemetry->store(), nullptr);
  EXPECT_FALSE(telemetry->collector().enabled());
  {
    auto scope = telemetry->collector().track_execution("nothing");
    EXPECT_FALSE(scope.active());
  }
  EXPECT_TRUE(telemetry->flush());
  EXPECT_EQ(telemetry->stats().queued, 0U);
  telemetry->shutdown();
}

TEST(GlobalTelemetryTest, TelemetryNeedsAStore) {
  EXPECT_THROW(Telemetry(nullptr), std::invalid_argument);
}

TEST(GlobalTelemetryTest, TelemetryWritesThroughItsPipeline) {
  auto store = std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  TelemetryOptions options;
  options.flush_on_signals = false;
  options.pipeline.flush_interval = std::chrono::hours(1);
  {
    Telemetry telemetry(store, options);
    EXPECT_TRUE(telemetry.enabled());
    EXPECT_EQ(telemetry.store(), store.get());
    for (int i = 0; i < 10; ++i) {
      auto scope = telemetry.collector().track_execution("piped", {{"i", i}});
    }
    ASSERT_TRUE(telemetry.flush());
    EXPECT_EQ(telemetry.stats().written, 10U);
    { auto scope = telemetry.collector().track_execution("at-destruction"); }
  }
  EXPECT_EQ(store->count_executions({}), 11) << "destroying the Telemetry writes what is queued";
}

}  // namespace
}  // namespace kagura::telemetry
