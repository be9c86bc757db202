// `kagura monitor` on a PostgreSQL store (--backend postgresql --connection URL): the store is
// seeded through the library, in a schema of its own on the CTest fixture's server, and every
// subcommand is run as the real binary against it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/monitor_test_support.hpp"
#include "kagura/storage/postgres_store.hpp"
#include "support/postgres_test_server.hpp"

namespace kagura::cli::monitor_test {
namespace {

namespace fs = std::filesystem;
using kagura::test::ProcessResult;
using kagura::test::TempDir;

class MonitorPostgresTest : public ::testing::Test {
 protected:
  MonitorPostgresTest() : team(telemetry::unix_now()) {
    store = std::make_unique<storage::PostgresStore>(schema.url());
    team.save_to(*store);
  }

  ProcessResult kagura(std::vector<std::string> args) const {
    args.insert(args.end(), {"--backend", "postgresql", "--connection", schema.url()});
    return run_kagura(std::move(args), dir.path());
  }

  std::string ok(std::vector<std::string> args) const {
    const ProcessResult result = kagura(args);
    EXPECT_EQ(result.exit_code(), 0) << result.err;
    EXPECT_EQ(result.err, "");
    return result.out;
  }

  kagura::test::PostgresSchema schema;
  std::unique_ptr<storage::PostgresStore> store;
  TempDir dir{"kagura_monitor_pg"};
  TeamScenario team;
};

TEST_F(MonitorPostgresTest, StatsEqualTheStoresSummary) {
  const nlohmann::json json = parse_json(ok({"monitor", "stats", "--json"}));
  const auto stats = store->get_summary_stats({});
  EXPECT_EQ(json["total_executions"], 7);
  EXPECT_EQ(json["total_executions"], stats.total_executions);
  EXPECT_EQ(json["failed"], stats.failed);
  EXPECT_EQ(json["p50_duration"].get<double>(), stats.p50_duration);
  EXPECT_EQ(json["p99_duration"].get<double>(), stats.p99_duration);
  EXPECT_EQ(json["total_tokens"], stats.total_tokens);
  EXPECT_NEAR(json["total_cost"].get<double>(),
              telemetry::nano_usd_to_usd(TeamScenario::kTotalNanos), 1e-15);

  const std::string text = ok({"monitor", "stats", "--agent", "translator"});
  EXPECT_NE(text.find("Kagura telemetry: postgresql"), std::string::npos) << text;
  EXPECT_NE(text.find("Executions    2  (completed 2, failed 0, running 0)"), std::string::npos)
      << text;
}

TEST_F(MonitorPostgresTest, ListShowsTheNewestFirstWithModels) {
  const std::string out = ok({"monitor", "list", "--limit", "3"});
  const auto rows = lines_of(out);
  ASSERT_EQ(rows.size(), 4U) << out;
  EXPECT_NE(rows[1].find(team[5].id), std::string::npos) << rows[1];
  EXPECT_NE(rows[2].find(team[4].id), std::string::npos) << rows[2];
  EXPECT_NE(rows[2].find("local-llama,gpt-4o-mini"), std::string::npos) << rows[2];
  EXPECT_EQ(rows[2].rfind("30m ago", 0), 0U) << rows[2];
  EXPECT_NE(rows[3].find(team[3].id), std::string::npos) << rows[3];
  EXPECT_NE(rows[3].find("failed"), std::string::npos) << rows[3];
}

TEST_F(MonitorPostgresTest, TraceFindsAPrefixAndDrawsTheTree) {
  const std::string out = ok({"monitor", "trace", team[0].id.substr(0, 30)});
  EXPECT_NE(out.find("Execution " + team[0].id), std::string::npos) << out;
  EXPECT_NE(out.find("Timeline (5 events)"), std::string::npos) << out;
  EXPECT_NE(out.find("├─ researcher"), std::string::npos) << out;
  EXPECT_NE(out.find("│  └─ summarizer"), std::string::npos) << out;
  EXPECT_NE(out.find("└─ coder"), std::string::npos) << out;

  const ProcessResult ambiguous = kagura({"monitor", "trace", team[0].id.substr(0, 4)});
  EXPECT_EQ(ambiguous.exit_code(), 1);
  EXPECT_NE(ambiguous.err.find("is ambiguous"), std::string::npos) << ambiguous.err;
  const ProcessResult unknown = kagura({"monitor", "trace", "fffff"});
  EXPECT_EQ(unknown.exit_code(), 1);
  EXPECT_EQ(lines_of(unknown.err).size(), 1U) << unknown.err;
  EXPECT_NE(unknown.err.find("no execution with id 'fffff'"), std::string::npos) << unknown.err;
}

TEST_F(MonitorPostgresTest, CostAndCompareMatchTheStore) {
  const nlohmann::json cost = parse_json(ok({"monitor", "cost", "--json", "--since", "7d"}));
  const std::string text = ok({"monitor", "cost", "--since", "7d"});
  EXPECT_NE(line_with(text, "Monthly projection").find("$0.0465"), std::string::npos) << text;
  EXPECT_NE(line_with(text, "local-llama").find("unpriced"), std::string::npos) << text;
  EXPECT_NEAR(cost["total_cost"].get<double>(),
              telemetry::nano_usd_to_usd(TeamScenario::kLastWeekNanos), 1e-15);
  EXPECT_EQ(cost["unpriced_llm_calls"], 1);

  const nlohmann::json compare =
      parse_json(ok({"monitor", "compare", "planner", "coder", "--json"}));
  ASSERT_EQ(compare["agents"].size(), 2U);
  EXPECT_EQ(compare["agents"][0]["runs"], 1);
  EXPECT_EQ(compare["agents"][0]["success_rate"].get<double>(), 1.0);
  EXPECT_EQ(compare["agents"][1]["success_rate"].get<double>(), 0.0);
  storage::ExecutionFilter planner;
  planner.agent_name = "planner";
  EXPECT_EQ(compare["agents"][0]["p95_duration"].get<double>(),
            store->get_summary_stats(planner).p95_duration);
}

TEST_F(MonitorPostgresTest, ExportWritesEveryExecution) {
  const fs::path csv = dir.path() / "pg.csv";
  const fs::path jsonl = dir.path() / "pg.jsonl";
  ASSERT_EQ(kagura({"monitor", "export", "--output", csv.string()}).exit_code(), 0);
  ASSERT_EQ(kagura({"monitor", "export", "--output", jsonl.string()}).exit_code(), 0);
  std::ifstream csv_in(csv, std::ios::binary);
  std::stringstream csv_text;
  csv_text << csv_in.rdbuf();
  const auto records = parse_csv(csv_text.str());
  ASSERT_EQ(records.size(), 8U);
  std::set<std::string> ids;
  for (std::size_t i = 1; i < records.size(); ++i) ids.insert(records[i][0]);
  std::set<std::string> expected;
  for (const auto& e : team.executions) expected.insert(e.id);
  EXPECT_EQ(ids, expected);
  std::ifstream lines_in(jsonl);
  std::size_t n = 0;
  for (std::string line; std::getline(lines_in, line); ++n) {
    const auto record = parse_json(line);
    EXPECT_TRUE(expected.count(record["id"].get<std::string>())) << line;
  }
  EXPECT_EQ(n, 7U);
}

TEST_F(MonitorPostgresTest, LiveShowsTheTotals) {
  const std::string out = ok({"monitor", "live", "--once"});
  EXPECT_NE(out.find("Kagura live: postgresql"), std::string::npos) << out;
  EXPECT_NE(out.find("Executions    7  (completed 5, failed 1, running 1)"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace kagura::cli::monitor_test
