// `kagura prune` as users run it: the real binary in a child process, deleting from SQLite
// stores and from the PostgreSQL server of the postgres_server fixture, which the test seeds
// and then reads back with the library.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kagura/storage/postgres_store.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/postgres_test_server.hpp"
#include "support/test_support.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;
using kagura::test::EnvChanges;
using kagura::test::ProcessResult;
using kagura::test::TempDir;

constexpr double kDay = 86400;
constexpr double kJan10_2025 = 1736467200;  // 2025-01-10T00:00:00Z

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

telemetry::Execution make_execution(const std::string& agent, double started_at,
                                    std::size_t padding = 0) {
  telemetry::Execution e;
  e.id = telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = started_at;
  e.duration = 0.25;
  e.ended_at = started_at + 0.25;
  e.status = telemetry::ExecutionStatus::completed;
  if (padding > 0) e.kwargs = {{"text", std::string(padding, 'x')}};
  telemetry::LlmCall call;
  call.model = "gpt-4o-mini";
  call.prompt_tokens = 10;
  call.completion_tokens = 5;
  call.cost_nanos = 1000;
  e.metrics.add(call);
  e.events.push_back({started_at, call});
  return e;
}

std::set<std::string> agents_in(storage::StorageAdapter& store) {
  storage::ExecutionQuery query;
  query.limit = 1000;
  query.include_events = false;
  std::set<std::string> agents;
  for (const auto& e : store.get_executions(query)) agents.insert(e.agent_name);
  return agents;
}

// The same executions in every store: three older than 30 days, three newer.
std::vector<telemetry::Execution> seed_executions() {
  const double now = telemetry::unix_now();
  return {make_execution("jan2025", kJan10_2025),    make_execution("old40d", now - 40 * kDay),
          make_execution("old31d", now - 31 * kDay), make_execution("new29d", now - 29 * kDay),
          make_execution("new2h", now - 2 * 3600),   make_execution("new1m", now - 60)};
}

const std::set<std::string> kAll = {"jan2025", "old40d", "old31d", "new29d", "new2h", "new1m"};
const std::set<std::string> kNewerThan30d = {"new29d", "new2h", "new1m"};

class PruneCliTest : public ::testing::Test {
 protected:
  PruneCliTest() {
    fs::create_directories(home());
    storage::SqliteStore store(db.string());
    for (const auto& e : seed_executions()) store.save_execution(e);
  }

  fs::path home() const { return dir.path() / "home"; }

  ProcessResult kagura(std::vector<std::string> args, EnvChanges env = {}) const {
    args.insert(args.begin(), kagura::test::kagura_bin());
    env.emplace("HOME", home().string());
    return kagura::test::run_process(args, env);
  }

  std::set<std::string> agents() const {
    storage::SqliteStore store(db.string());
    return agents_in(store);
  }

  TempDir dir{"kagura_prune_test"};
  fs::path db = dir.path() / "telemetry.db";
};

TEST_F(PruneCliTest, DeletesExactlyTheExecutionsOlderThanTheSpan) {
  const ProcessResult result = kagura({"prune", "--older-than", "30d", "--db", db.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_TRUE(contains(result.out, "Deleted 3 executions started before")) << result.out;
  EXPECT_TRUE(contains(result.out, "sqlite " + db.string())) << "says from where: " << result.out;
  EXPECT_TRUE(contains(result.out, "3 remain")) << result.out;
  EXPECT_EQ(agents(), kNewerThan30d);

  // Stats, which read hourly rollups, agree with the rows that are left.
  storage::SqliteStore store(db.string());
  const auto stats = store.get_summary_stats({});
  EXPECT_EQ(stats.total_executions, 3);
  EXPECT_EQ(stats.llm_calls, 3);
  EXPECT_EQ(stats.cost_nanos, 3000);

  const ProcessResult again = kagura({"prune", "--older-than", "30d", "--db", db.string()});
  ASSERT_EQ(again.exit_code(), 0) << again.err;
  EXPECT_TRUE(contains(again.out, "Deleted 0 executions")) << again.out;
  EXPECT_EQ(agents(), kNewerThan30d);
}

TEST_F(PruneCliTest, DryRunCountsAndDeletesNothing) {
  const ProcessResult result =
      kagura({"prune", "--older-than", "30d", "--dry-run", "--db", db.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "Would delete 3 executions")) << result.out;
  EXPECT_TRUE(contains(result.out, "nothing was deleted")) << result.out;
  EXPECT_EQ(agents(), kAll);

  const ProcessResult hours =
      kagura({"prune", "--older-than", "1h", "--dry-run", "--db", db.string()});
  ASSERT_EQ(hours.exit_code(), 0) << hours.err;
  EXPECT_TRUE(contains(hours.out, "Would delete 5 executions")) << hours.out;
  EXPECT_EQ(agents(), kAll);
}

TEST_F(PruneCliTest, AcceptsHoursWeeksAndDates) {
  ASSERT_EQ(kagura({"prune", "--older-than", "2025-01-11", "--db", db.string()}).exit_code(), 0);
  EXPECT_EQ(agents(), (std::set<std::string>{"old40d", "old31d", "new29d", "new2h", "new1m"}));

  const ProcessResult weeks = kagura({"prune", "--older-than", "5w", "--db", db.string()});
  ASSERT_EQ(weeks.exit_code(), 0) << weeks.err;
  EXPECT_TRUE(contains(weeks.out, "Deleted 1 execution started")) << weeks.out;
  EXPECT_EQ(agents(), (std::set<std::string>{"old31d", "new29d", "new2h", "new1m"}));

  ASSERT_EQ(kagura({"prune", "--older-than", "12h", "--db", db.string()}).exit_code(), 0);
  EXPECT_EQ(agents(), (std::set<std::string>{"new2h", "new1m"}));
}

TEST_F(PruneCliTest, BadValueIsAOneLineErrorAndDeletesNothing) {
  for (const char* bad : {"30", "30x", "yesterday", "-5d", "2099-01-01", "2025-13-45", ""}) {
    const ProcessResult result = kagura({"prune", "--older-than", bad, "--db", db.string()});
    EXPECT_NE(result.exit_code(), 0) << bad;
    EXPECT_TRUE(result.exited()) << bad;
    EXPECT_EQ(result.out, "") << bad;
    const auto lines = lines_of(result.err);
    ASSERT_EQ(lines.size(), 1U) << bad << ": " << result.err;
    EXPECT_TRUE(contains(lines[0], "--older-than")) << lines[0];
    if (*bad != '\0') {
      EXPECT_TRUE(contains(lines[0], std::string("'") + bad + "'")) << lines[0];
    }
    EXPECT_EQ(agents(), kAll) << bad;
  }
}

TEST_F(PruneCliTest, OlderThanIsRequired) {
  const ProcessResult result = kagura({"prune", "--db", db.string()});
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_TRUE(contains(result.err, "--older-than")) << result.err;
  EXPECT_TRUE(contains(result.err, "required")) << result.err;
  EXPECT_EQ(agents(), kAll);
}

TEST_F(PruneCliTest, MissingStoreIsAnErrorAndNotCreated) {
  const fs::path missing = dir.path() / "nowhere" / "missing.db";
  const ProcessResult result = kagura({"prune", "--older-than", "30d", "--db", missing.string()});
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_TRUE(contains(result.err, missing.string())) << result.err;
  EXPECT_EQ(lines_of(result.err).size(), 1U) << result.err;
  EXPECT_FALSE(fs::exists(missing.parent_path()));
}

TEST_F(PruneCliTest, UsesTheConfiguredStoreWithoutOptions) {
  const fs::path kagura_dir = home() / ".kagura";
  fs::create_directories(kagura_dir);
  { std::ofstream(kagura_dir / ".env") << "KAGURA_TELEMETRY_CONNECTION=" << db.string() << "\n"; }
  const ProcessResult result = kagura({"prune", "--older-than", "30d"});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, db.string())) << result.out;
  EXPECT_EQ(agents(), kNewerThan30d);
}

TEST_F(PruneCliTest, VacuumShrinksTheFile) {
  const fs::path big = dir.path() / "big.db";
  const double now = telemetry::unix_now();
  {
    storage::SqliteStore store(big.string());
    std::vector<telemetry::Execution> batch;
    for (int i = 0; i < 3000; ++i)
      batch.push_back(make_execution("old", now - 60 * kDay + i, 2000));
    batch.push_back(make_execution("new", now - 60));
    std::vector<const telemetry::Execution*> pointers;
    for (const auto& e : batch) pointers.push_back(&e);
    store.save_executions(pointers);
  }
  const auto before = fs::file_size(big);
  ASSERT_GT(before, 6'000'000U);

  const ProcessResult result =
      kagura({"prune", "--older-than", "30d", "--vacuum", "--db", big.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "Deleted 3,000 executions")) << result.out;
  EXPECT_TRUE(contains(result.out, "Vacuumed " + big.string())) << result.out;
  EXPECT_LT(fs::file_size(big), before / 10) << result.out;
  storage::SqliteStore store(big.string());
  EXPECT_EQ(agents_in(store), std::set<std::string>{"new"});
}

class PrunePostgresTest : public ::testing::Test {
 protected:
  PrunePostgresTest() {
    fs::create_directories(home);
    storage::PostgresStore store(schema.url());
    for (const auto& e : seed_executions()) store.save_execution(e);
  }

  ProcessResult kagura(std::vector<std::string> args) const {
    args.insert(args.begin(), kagura::test::kagura_bin());
    return kagura::test::run_process(args, {{"HOME", home.string()}});
  }

  std::set<std::string> agents() const {
    storage::PostgresStore store(schema.url());
    return agents_in(store);
  }

  TempDir dir{"kagura_prune_pg_test"};
  fs::path home = dir.path() / "home";
  kagura::test::PostgresSchema schema;
};

TEST_F(PrunePostgresTest, DeletesFromTheChosenServer) {
  const std::vector<std::string> store_options = {"--backend", "postgresql", "--connection",
                                                  schema.url()};
  std::vector<std::string> dry = {"prune", "--older-than", "30d", "--dry-run"};
  dry.insert(dry.end(), store_options.begin(), store_options.end());
  const ProcessResult counted = kagura(dry);
  ASSERT_EQ(counted.exit_code(), 0) << counted.out << counted.err;
  EXPECT_TRUE(contains(counted.out, "Would delete 3 executions")) << counted.out;
  EXPECT_EQ(agents(), kAll);

  std::vector<std::string> vacuum = {"prune", "--older-than", "30d", "--vacuum"};
  vacuum.insert(vacuum.end(), store_options.begin(), store_options.end());
  const ProcessResult refused = kagura(vacuum);
  EXPECT_EQ(refused.exit_code(), 1);
  EXPECT_TRUE(contains(refused.err, "--vacuum")) << refused.err;
  EXPECT_EQ(agents(), kAll) << "a refused option deletes nothing";

  const ProcessResult result = kagura(
      {"prune", "--older-than", "30d", "--backend", "postgres", "--connection", schema.url()});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "Deleted 3 executions")) << result.out;
  EXPECT_TRUE(contains(result.out, "postgresql")) << result.out;
  const std::string url = schema.url();
  const auto colon = url.find(':', url.find("://") + 3);
  const std::string password = url.substr(colon + 1, url.find('@') - colon - 1);
  EXPECT_FALSE(contains(result.out, password)) << "the password is masked: " << result.out;
  EXPECT_EQ(agents(), kNewerThan30d);
}

}  // namespace
}  // namespace kagura::cli
