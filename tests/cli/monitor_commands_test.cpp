// `kagura monitor list|trace|cost|compare` and the errors every subcommand shares, run as the
// real binary on a SQLite store seeded with a team of agents calling agents.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/monitor_test_support.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::cli::monitor_test {
namespace {

namespace fs = std::filesystem;
using kagura::test::ProcessResult;
using kagura::test::TempDir;

class MonitorCommandsTest : public ::testing::Test {
 protected:
  MonitorCommandsTest() : team(telemetry::unix_now()) {
    storage::SqliteStore store(db.string());
    team.save_to(store);
  }

  ProcessResult kagura(std::vector<std::string> args) const {
    args.insert(args.end(), {"--db", db.string()});
    return run_kagura(std::move(args), dir.path());
  }

  // Runs a command that must succeed and returns its standard output.
  std::string ok(std::vector<std::string> args) const {
    const ProcessResult result = kagura(args);
    EXPECT_EQ(result.exit_code(), 0) << result.err;
    EXPECT_EQ(result.err, "");
    EXPECT_EQ(result.out.find('\x1b'), std::string::npos) << "no escapes when not on a terminal";
    return result.out;
  }

  TempDir dir{"kagura_monitor_cmd"};
  fs::path db = dir.path() / "telemetry.db";
  TeamScenario team;
};

TEST_F(MonitorCommandsTest, ListShowsRelativeTimesModelsAndUnpricedCosts) {
  const std::string out = ok({"monitor", "list"});
  const auto rows = lines_of(out);
  ASSERT_EQ(rows.size(), 8U) << out;
  for (const char* column :
       {"started", "agent", "model", "status", "duration", "tokens", "cost", "id"}) {
    EXPECT_NE(rows[0].find(column), std::string::npos) << rows[0];
  }
  // Newest first: odd (5m), translator (30m), coder, summarizer, researcher, planner (3d), old.
  EXPECT_EQ(rows[1].rfind("5m ago", 0), 0U) << rows[1];
  EXPECT_NE(rows[1].find("running"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find(team[5].id), std::string::npos) << rows[1];
  EXPECT_EQ(rows[2].rfind("30m ago", 0), 0U) << rows[2];
  EXPECT_NE(rows[2].find("local-llama,gpt-4o-mini"), std::string::npos)
      << "every model of the execution, in call order: " << rows[2];
  EXPECT_NE(rows[2].find("≥$0.000060"), std::string::npos)
      << "a cost leaving out unpriced calls is a lower bound: " << rows[2];
  for (std::size_t i = 3; i <= 6; ++i) EXPECT_EQ(rows[i].rfind("3d ago", 0), 0U) << rows[i];
  EXPECT_NE(rows[6].find("planner"), std::string::npos) << rows[6];
  EXPECT_NE(rows[6].find("gpt-4o "), std::string::npos) << rows[6];
  EXPECT_NE(rows[6].find("1,500"), std::string::npos) << "tokens: " << rows[6];
  EXPECT_NE(rows[6].find("$0.0075"), std::string::npos) << rows[6];
  EXPECT_NE(rows[6].find("3.00s"), std::string::npos) << rows[6];
  EXPECT_NE(rows[3].find("failed"), std::string::npos) << rows[3];
  // Beyond a week: the UTC date-time.
  EXPECT_EQ(rows[7].rfind(format_utc(team[6].started_at), 0), 0U) << rows[7];
}

TEST_F(MonitorCommandsTest, TraceShowsTheTimelineAndTheTreeOfChildren) {
  const std::string out = ok({"monitor", "trace", team[0].id});
  EXPECT_NE(out.find("Execution " + team[0].id), std::string::npos) << out;
  EXPECT_NE(out.find("(this execution is its root)"), std::string::npos) << out;
  EXPECT_NE(line_with(out, "Duration").find("3.00s"), std::string::npos);
  EXPECT_NE(line_with(out, "Cost").find("$0.0075"), std::string::npos);
  EXPECT_NE(out.find("Timeline (5 events)"), std::string::npos) << out;
  const std::string llm = line_with(out, "llm_call");
  EXPECT_NE(llm.find("+0ms"), std::string::npos) << llm;
  EXPECT_NE(llm.find("gpt-4o"), std::string::npos) << llm;
  EXPECT_NE(llm.find("1,000→500 tokens"), std::string::npos) << llm;
  EXPECT_NE(llm.find("$0.0075"), std::string::npos) << llm;
  EXPECT_NE(llm.find("1.50s"), std::string::npos) << llm;
  const std::string tool = line_with(out, "web_search");
  EXPECT_NE(tool.find("+1.50s"), std::string::npos) << tool;
  EXPECT_NE(tool.find("tool_call"), std::string::npos) << tool;
  EXPECT_NE(tool.find("200ms"), std::string::npos) << tool;
  EXPECT_NE(tool.find("ok"), std::string::npos) << tool;
  const std::string failed_tool = line_with(out, "fetch_page");
  EXPECT_NE(failed_tool.find("failed: HTTP 404"), std::string::npos) << failed_tool;
  const std::string memory = line_with(out, "memory_operation");
  EXPECT_NE(memory.find("add conversation  2 items"), std::string::npos) << memory;
  EXPECT_NE(memory.find("+1.90s"), std::string::npos) << memory;
  const std::string custom = line_with(out, "checkpoint");
  EXPECT_NE(custom.find("{\"step\":2}"), std::string::npos) << custom;
  EXPECT_NE(custom.find("+2.00s"), std::string::npos) << custom;

  EXPECT_NE(out.find("Children (3 executions)"), std::string::npos) << out;
  // In start order: researcher (with summarizer under it), then coder.
  const auto lines = lines_of(out);
  const auto at = std::find_if(lines.begin(), lines.end(),
                               [](const std::string& l) { return l.find("├─") == 0; });
  ASSERT_NE(at, lines.end()) << out;
  ASSERT_GE(lines.end() - at, 3);
  EXPECT_EQ(at[0].rfind("├─ researcher", 0), 0U) << at[0];
  EXPECT_NE(at[0].find(team[1].id), std::string::npos) << at[0];
  EXPECT_NE(at[0].find("+500ms"), std::string::npos) << "offset from the root: " << at[0];
  EXPECT_EQ(at[1].rfind("│  └─ summarizer", 0), 0U) << at[1];
  EXPECT_NE(at[1].find(team[2].id), std::string::npos) << at[1];
  EXPECT_EQ(at[2].rfind("└─ coder", 0), 0U) << at[2];
  EXPECT_NE(at[2].find("failed"), std::string::npos) << at[2];
}

TEST_F(MonitorCommandsTest, TraceOfAChildShowsItsParentAndOnlyItsSubtree) {
  const std::string out = ok({"monitor", "trace", team[1].id});
  EXPECT_NE(line_with(out, "Parent").find(team[0].id), std::string::npos) << out;
  EXPECT_NE(line_with(out, "Trace").find(team[0].id), std::string::npos) << out;
  EXPECT_NE(out.find("Children (1 execution)"), std::string::npos) << out;
  EXPECT_NE(out.find("└─ summarizer"), std::string::npos) << out;
  EXPECT_EQ(out.find("coder"), std::string::npos) << "a sibling is not a child: " << out;

  const std::string failed = ok({"monitor", "trace", team[3].id});
  EXPECT_NE(line_with(failed, "Error").find("SyntaxError: SyntaxError in generated code"),
            std::string::npos);
  EXPECT_NE(failed.find("Children (0 executions)"), std::string::npos) << failed;
}

TEST_F(MonitorCommandsTest, TraceTakesAUniquePrefixAndExplainsAmbiguousOrUnknownIds) {
  const std::string prefix = team[4].id.substr(0, 28);
  const std::string out = ok({"monitor", "trace", prefix});
  EXPECT_NE(out.find("Execution " + team[4].id), std::string::npos) << out;

  // Ids made within the same millisecond share their first 12 digits (UUIDv7).
  const std::string shared = team[0].id.substr(0, 6);
  ASSERT_EQ(team[1].id.substr(0, 6), shared);
  const ProcessResult ambiguous = kagura({"monitor", "trace", shared});
  EXPECT_EQ(ambiguous.exit_code(), 1);
  EXPECT_EQ(ambiguous.out, "");
  ASSERT_EQ(lines_of(ambiguous.err).size(), 1U) << ambiguous.err;
  EXPECT_NE(ambiguous.err.find("'" + shared + "' is ambiguous"), std::string::npos)
      << ambiguous.err;

  const ProcessResult unknown = kagura({"monitor", "trace", "ffffffffffff"});
  EXPECT_EQ(unknown.exit_code(), 1);
  EXPECT_EQ(unknown.out, "");
  ASSERT_EQ(lines_of(unknown.err).size(), 1U) << unknown.err;
  EXPECT_NE(unknown.err.find("no execution with id 'ffffffffffff'"), std::string::npos)
      << unknown.err;
  EXPECT_NE(unknown.err.find(db.string()), std::string::npos) << unknown.err;
}

TEST_F(MonitorCommandsTest, TraceJsonHasTheRecordWithEventsAndTheNestedChildren) {
  const nlohmann::json json = parse_json(ok({"monitor", "trace", team[0].id, "--json"}));
  EXPECT_EQ(json["execution"]["id"], team[0].id);
  ASSERT_EQ(json["execution"]["events"].size(), 5U);
  EXPECT_EQ(json["execution"]["events"][0]["type"], "llm_call");
  const auto& children = json["children"];
  ASSERT_EQ(children.size(), 2U) << json.dump(2);
  EXPECT_EQ(children[0]["id"], team[1].id);
  EXPECT_EQ(children[1]["id"], team[3].id);
  ASSERT_EQ(children[0]["children"].size(), 1U);
  EXPECT_EQ(children[0]["children"][0]["id"], team[2].id);
  EXPECT_EQ(children[0]["children"][0]["children"].size(), 0U);
  EXPECT_EQ(children[1]["status"], "failed");
}

TEST_F(MonitorCommandsTest, CostByModelReportsUnpricedCallsAndAProjection) {
  const std::string out = ok({"monitor", "cost", "--since", "7d"});
  EXPECT_NE(out.find("Cost by model"), std::string::npos) << out;
  EXPECT_NE(line_with(out, "gpt-4o ").find("$0.0075"), std::string::npos) << out;
  EXPECT_NE(line_with(out, "claude-sonnet-4-5").find("$0.0030"), std::string::npos) << out;
  const std::string mini = line_with(out, "gpt-4o-mini");
  EXPECT_NE(mini.find("$0.0004"), std::string::npos) << mini;  // 360,000 nano-dollars
  const std::string llama = line_with(out, "local-llama");
  EXPECT_NE(llama.find("unpriced"), std::string::npos) << "never a made-up cost: " << llama;
  EXPECT_EQ(llama.find('$'), std::string::npos) << llama;
  EXPECT_EQ(count_of(out, "gpt-4o-mini"), 1U) << "the 10-day-old call is outside --since 7d";
  const std::string total = line_with(out, "Total");
  EXPECT_NE(total.find("$0.0109"), std::string::npos) << total;  // $0.01086
  EXPECT_NE(line_with(out, "1 LLM call of unpriced models").find("local-llama"), std::string::npos);
  // 30 x $0.01086 / 7 days = $0.0465.
  const std::string projection = line_with(out, "Monthly projection");
  EXPECT_NE(projection.find("$0.0465"), std::string::npos) << projection;
  EXPECT_NE(projection.find("over 7.0 days"), std::string::npos) << projection;

  const std::string alias = ok({"monitor", "cost-analysis", "--since", "7d"});
  EXPECT_NE(alias.find("$0.0465"), std::string::npos) << alias;
}

TEST_F(MonitorCommandsTest, CostJsonMatchesTheStoresBreakdown) {
  storage::SqliteStore store(db.string());
  for (const auto& [by, grouping] : std::vector<std::pair<std::string, storage::CostGrouping>>{
           {"model", storage::CostGrouping::model},
           {"agent", storage::CostGrouping::agent},
           {"day", storage::CostGrouping::day}}) {
    const nlohmann::json json = parse_json(ok({"monitor", "cost", "--by", by, "--json"}));
    const auto groups = store.get_cost_breakdown(grouping, {});
    ASSERT_EQ(json["groups"].size(), groups.size()) << by << ": " << json.dump(2);
    for (std::size_t i = 0; i < groups.size(); ++i) {
      EXPECT_EQ(json["groups"][i]["key"], groups[i].key) << by;
      EXPECT_EQ(json["groups"][i]["llm_calls"], groups[i].llm_calls) << by;
      EXPECT_EQ(json["groups"][i]["cost"].get<double>(), groups[i].cost()) << by;
      EXPECT_EQ(json["groups"][i]["unpriced_llm_calls"], groups[i].unpriced_llm_calls) << by;
    }
    EXPECT_NEAR(json["total_cost"].get<double>(),
                telemetry::nano_usd_to_usd(TeamScenario::kTotalNanos), 1e-15)
        << by;
    EXPECT_EQ(json["unpriced_llm_calls"], 1) << by;
    // Without --since the period starts at the first execution, 10 days ago.
    const auto& projection = json["projection"];
    EXPECT_NEAR(projection["period_days"].get<double>(), 10.0, 0.01) << by;
    EXPECT_NEAR(projection["monthly_cost"].get<double>(),
                json["total_cost"].get<double>() / projection["period_days"].get<double>() * 30,
                1e-12);
  }
  const nlohmann::json agents = parse_json(ok({"monitor", "cost", "--by", "agent", "--json"}));
  EXPECT_EQ(agents["groups"][0]["key"], "planner") << "most expensive first";
  EXPECT_EQ(agents["groups"][0]["executions"], 1);
}

TEST_F(MonitorCommandsTest, CostByAgentAndByDay) {
  const std::string agents = ok({"monitor", "cost", "--by", "agent"});
  const std::string translator = line_with(agents, "translator");
  EXPECT_NE(translator.find("≥$0.0001"), std::string::npos) << translator;
  EXPECT_NE(line_with(agents, "planner").find("$0.0075"), std::string::npos);
  const std::string days = ok({"monitor", "cost", "--by", "day"});
  EXPECT_NE(days.find(format_utc(team[6].started_at).substr(0, 10)), std::string::npos) << days;
  EXPECT_NE(days.find(format_utc(team[0].started_at).substr(0, 10)), std::string::npos) << days;

  const ProcessResult bad = kagura({"monitor", "cost", "--by", "week"});
  EXPECT_NE(bad.exit_code(), 0);
}

TEST_F(MonitorCommandsTest, CompareShowsAgentsSideBySide) {
  const std::string out = ok({"monitor", "compare", "planner", "translator", "nobody"});
  const std::string header = lines_of(out).at(2);
  EXPECT_NE(header.find("planner"), std::string::npos) << out;
  EXPECT_NE(header.find("translator"), std::string::npos) << out;
  EXPECT_NE(header.find("nobody"), std::string::npos) << out;
  const std::string runs = line_with(out, "runs");
  EXPECT_NE(runs.find("1"), std::string::npos) << runs;
  EXPECT_NE(runs.find("2"), std::string::npos) << runs;
  EXPECT_NE(runs.find("-"), std::string::npos) << runs;
  // Percentiles come from a sketch within 1%: their exact values are checked against the
  // store in CompareJsonEqualsTheStoresStatsPerAgent.
  for (const char* row : {"p50 latency", "p95 latency", "p99 latency"}) {
    EXPECT_NE(line_with(out, row).find("s  "), std::string::npos) << out;
  }
  EXPECT_NE(line_with(out, "tokens / run").find("1,500"), std::string::npos) << out;
  EXPECT_NE(line_with(out, "cost / run").find("$0.0075"), std::string::npos) << out;
  EXPECT_NE(out.find("nobody: no runs"), std::string::npos) << out;
  EXPECT_NE(out.find("translator: 1 LLM call of unpriced models"), std::string::npos) << out;
}

TEST_F(MonitorCommandsTest, CompareJsonEqualsTheStoresStatsPerAgent) {
  storage::SqliteStore store(db.string());
  const nlohmann::json json =
      parse_json(ok({"monitor", "compare", "translator", "coder", "nobody", "--json"}));
  ASSERT_EQ(json["agents"].size(), 3U) << json.dump(2);
  for (const auto& row : json["agents"]) {
    storage::ExecutionFilter filter;
    filter.agent_name = row["agent"].get<std::string>();
    const auto stats = store.get_summary_stats(filter);
    EXPECT_EQ(row["runs"], stats.total_executions);
    EXPECT_EQ(row["success_rate"].get<double>(), stats.success_rate);
    EXPECT_EQ(row["p50_duration"].get<double>(), stats.p50_duration);
    EXPECT_EQ(row["p95_duration"].get<double>(), stats.p95_duration);
    EXPECT_EQ(row["p99_duration"].get<double>(), stats.p99_duration);
    EXPECT_EQ(row["total_cost"].get<double>(), stats.total_cost());
    if (stats.total_executions > 0) {
      EXPECT_EQ(
          row["tokens_per_run"].get<double>(),
          static_cast<double>(stats.total_tokens) / static_cast<double>(stats.total_executions));
    } else {
      EXPECT_TRUE(row["tokens_per_run"].is_null());
    }
  }
  EXPECT_EQ(json["agents"][1]["success_rate"].get<double>(), 0.0) << "coder failed";

  const ProcessResult none = kagura({"monitor", "compare", "nobody", "ghost"});
  EXPECT_EQ(none.exit_code(), 1);
  EXPECT_EQ(none.out, "");
  ASSERT_EQ(lines_of(none.err).size(), 1U) << none.err;
  EXPECT_NE(none.err.find("none of nobody, ghost has executions"), std::string::npos) << none.err;
}

TEST_F(MonitorCommandsTest, EveryDataCommandHasJson) {
  EXPECT_EQ(parse_json(ok({"monitor", "stats", "--json"}))["total_executions"], 7);
  EXPECT_EQ(parse_json(ok({"monitor", "list", "--json"})).size(), 7U);
  EXPECT_EQ(parse_json(ok({"monitor", "trace", team[2].id, "--json"}))["execution"]["agent_name"],
            "summarizer");
  EXPECT_TRUE(parse_json(ok({"monitor", "cost", "--json"}))["groups"].is_array());
  EXPECT_EQ(parse_json(ok({"monitor", "compare", "coder", "--json"}))["agents"][0]["runs"], 1);
  const auto frame = parse_json(ok({"monitor", "live", "--once", "--json"}));
  EXPECT_EQ(frame["stats"]["total_executions"], 7);
  EXPECT_EQ(frame["recent"].size(), 7U);
}

TEST_F(MonitorCommandsTest, BadTimesAreOneLineErrorsInEverySubcommand) {
  for (const auto& command :
       std::vector<std::vector<std::string>>{{"monitor", "stats"},
                                             {"monitor", "list"},
                                             {"monitor", "cost"},
                                             {"monitor", "compare", "planner"},
                                             {"monitor", "export"},
                                             {"monitor", "live", "--once"},
                                             {"monitor", "--once"}}) {
    std::vector<std::string> args = command;
    args.insert(args.end(), {"--since", "last tuesday"});
    const ProcessResult result = kagura(args);
    EXPECT_EQ(result.exit_code(), 1) << command[1];
    EXPECT_EQ(result.out, "") << command[1];
    ASSERT_EQ(lines_of(result.err).size(), 1U) << command[1] << ": " << result.err;
    EXPECT_NE(result.err.find("'last tuesday' is not a time"), std::string::npos) << result.err;
  }
  const ProcessResult reversed = kagura({"monitor", "stats", "--since", "1d", "--until", "2d"});
  EXPECT_EQ(reversed.exit_code(), 1);
  ASSERT_EQ(lines_of(reversed.err).size(), 1U) << reversed.err;
  EXPECT_NE(reversed.err.find("is not after --since"), std::string::npos) << reversed.err;
}

TEST_F(MonitorCommandsTest, OptionsBeforeTheSubcommandSayWhereTheyGo) {
  // `monitor` alone takes the live view's options; a subcommand must not silently read the
  // default store instead of the one named before it.
  const ProcessResult result = run_kagura({"monitor", "--db", db.string(), "list"}, dir.path());
  EXPECT_EQ(result.exit_code(), 1);
  EXPECT_EQ(result.out, "");
  ASSERT_EQ(lines_of(result.err).size(), 1U) << result.err;
  EXPECT_NE(result.err.find("kagura monitor list --db"), std::string::npos) << result.err;
  const ProcessResult live =
      run_kagura({"monitor", "--db", db.string(), "live", "--once"}, dir.path());
  EXPECT_EQ(live.exit_code(), 0) << live.err;
  EXPECT_NE(live.out.find("Executions    7"), std::string::npos) << live.out;
}

TEST_F(MonitorCommandsTest, EmptyStoreIsAOneLineErrorForEachCommand) {
  const fs::path empty = dir.path() / "empty.db";
  { storage::SqliteStore store(empty.string()); }
  for (const auto& command : std::vector<std::vector<std::string>>{{"monitor", "stats"},
                                                                   {"monitor", "list"},
                                                                   {"monitor", "cost"},
                                                                   {"monitor", "export"},
                                                                   {"monitor", "trace", "0123"}}) {
    std::vector<std::string> args = command;
    args.insert(args.end(), {"--db", empty.string()});
    const ProcessResult result = run_kagura(args, dir.path());
    EXPECT_EQ(result.exit_code(), 1) << command[1];
    EXPECT_EQ(result.out, "") << command[1];
    ASSERT_EQ(lines_of(result.err).size(), 1U) << command[1] << ": " << result.err;
    EXPECT_NE(result.err.find(empty.string()), std::string::npos) << result.err;
  }
}

TEST_F(MonitorCommandsTest, UnreachableDatabaseIsAOneLineError) {
  // Port 1 on the loopback refuses connections.
  for (const char* command : {"stats", "list", "cost", "export"}) {
    const ProcessResult result =
        run_kagura({"monitor", command, "--backend", "postgresql", "--connection",
                    "postgresql://kagura:secret@127.0.0.1:1/kagura"},
                   dir.path());
    EXPECT_EQ(result.exit_code(), 1) << command;
    EXPECT_EQ(result.out, "") << command;
    ASSERT_EQ(lines_of(result.err).size(), 1U) << command << ": " << result.err;
    EXPECT_NE(result.err.find("127.0.0.1"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("unreachable"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("secret"), std::string::npos) << "password masked: " << result.err;
  }
}

}  // namespace
}  // namespace kagura::cli::monitor_test
