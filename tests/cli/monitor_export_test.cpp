// `kagura monitor export` as users run it: CSV with RFC-030's columns and RFC 4180 quoting,
// JSON and JSON Lines with the full records, paging through large stores, and files that only
// appear once complete.

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/monitor_test_support.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::cli::monitor_test {
namespace {

namespace fs = std::filesystem;
using kagura::test::ProcessResult;
using kagura::test::TempDir;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class MonitorExportTest : public ::testing::Test {
 protected:
  MonitorExportTest() : team(telemetry::unix_now()) {
    fs::create_directories(out_dir);
    storage::SqliteStore store(db.string());
    team.save_to(store);
  }

  ProcessResult kagura(std::vector<std::string> args) const {
    args.insert(args.begin(), {"monitor", "export", "--db", db.string()});
    return run_kagura(std::move(args), dir.path());
  }

  const Execution& by_id(const std::string& id) const {
    for (const auto& e : team.executions) {
      if (e.id == id) return e;
    }
    throw std::runtime_error("no seeded execution " + id);
  }

  TempDir dir{"kagura_monitor_export"};
  fs::path db = dir.path() / "telemetry.db";
  fs::path out_dir = dir.path() / "out";
  TeamScenario team;
};

TEST_F(MonitorExportTest, CsvHasTheRfcColumnsAndQuotesPerRfc4180) {
  const fs::path file = out_dir / "data.csv";
  const ProcessResult result = kagura({"--output", file.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(result.out.find("Exported 7 executions to " + file.string()), std::string::npos)
      << result.out;
  const std::string text = read_file(file);
  const auto records = parse_csv(text);
  ASSERT_EQ(records.size(), 8U) << text;
  EXPECT_EQ(records[0],
            (std::vector<std::string>{"id", "agent_name", "started_at", "duration", "status",
                                      "llm_calls", "total_tokens", "total_cost"}));
  std::set<std::string> ids;
  for (std::size_t i = 1; i < records.size(); ++i) {
    const auto& r = records[i];
    ASSERT_EQ(r.size(), 8U) << i;
    const Execution& e = by_id(r[0]);
    ids.insert(r[0]);
    EXPECT_EQ(r[1], e.agent_name);
    EXPECT_EQ(std::stod(r[2]), e.started_at) << "started_at reads back exactly";
    if (e.duration) {
      EXPECT_EQ(std::stod(r[3]), *e.duration);
    } else {
      EXPECT_EQ(r[3], "") << "a running execution has no duration";
    }
    EXPECT_EQ(r[4], telemetry::to_string(e.status));
    EXPECT_EQ(std::stoll(r[5]), e.metrics.llm_calls);
    EXPECT_EQ(std::stoll(r[6]), e.metrics.total_tokens());
    EXPECT_EQ(std::stod(r[7]), e.metrics.total_cost());
  }
  EXPECT_EQ(ids.size(), 7U);
  EXPECT_EQ(records[1][0], team[5].id) << "newest first";
  // The agent name with a comma and quotes is one quoted field, its quotes doubled.
  EXPECT_NE(text.find(",\"odd, \"\"agent\"\"\","), std::string::npos) << text;
  EXPECT_EQ(count_of(text, "\r\n"), 8U) << "CRLF line ends";
}

TEST_F(MonitorExportTest, JsonAndJsonLinesHoldTheFullRecordsWithEvents) {
  const fs::path json_file = out_dir / "data.json";
  const fs::path lines_file = out_dir / "data.jsonl";
  ASSERT_EQ(kagura({"--format", "json", "--output", json_file.string()}).exit_code(), 0);
  // The format follows the file's extension when --format is not given.
  ASSERT_EQ(kagura({"--output", lines_file.string()}).exit_code(), 0);

  const nlohmann::json array = parse_json(read_file(json_file));
  ASSERT_TRUE(array.is_array());
  ASSERT_EQ(array.size(), 7U);
  std::vector<nlohmann::json> lines;
  for (const auto& line : lines_of(read_file(lines_file))) lines.push_back(parse_json(line));
  ASSERT_EQ(lines.size(), 7U);
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(array[i], lines[i]) << i;
    const Execution& e = by_id(array[i]["id"]);
    EXPECT_EQ(array[i], telemetry::to_json(e)) << "the record as stored, events and all";
  }
  const auto planner = std::find_if(array.begin(), array.end(),
                                    [&](const auto& r) { return r["id"] == team[0].id; });
  ASSERT_NE(planner, array.end());
  EXPECT_EQ((*planner)["events"].size(), 5U);
  EXPECT_EQ((*planner)["events"][1]["data"]["tool_name"], "web_search");
}

TEST_F(MonitorExportTest, NoOutputOrDashWritesToStandardOutput) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--format", "jsonl"},
        std::vector<std::string>{"--format", "jsonl", "--output", "-"}}) {
    const ProcessResult result = kagura(args);
    ASSERT_EQ(result.exit_code(), 0) << result.err;
    EXPECT_EQ(result.err, "");
    const auto lines = lines_of(result.out);
    ASSERT_EQ(lines.size(), 7U) << result.out;
    EXPECT_EQ(parse_json(lines[0])["id"], team[5].id);
  }
  const ProcessResult csv = kagura({});
  ASSERT_EQ(csv.exit_code(), 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("id,agent_name,started_at,", 0), 0U) << csv.out;
  EXPECT_FALSE(fs::exists("-")) << "- is standard output, not a file";
}

TEST_F(MonitorExportTest, FiltersAndLimit) {
  const ProcessResult agent = kagura({"--format", "jsonl", "--agent", "translator"});
  ASSERT_EQ(agent.exit_code(), 0) << agent.err;
  EXPECT_EQ(lines_of(agent.out).size(), 2U) << agent.out;
  const ProcessResult since = kagura({"--format", "jsonl", "--since", "1d"});
  ASSERT_EQ(since.exit_code(), 0) << since.err;
  EXPECT_EQ(lines_of(since.out).size(), 2U) << since.out;
  const ProcessResult failed = kagura({"--format", "jsonl", "--status", "failed"});
  ASSERT_EQ(failed.exit_code(), 0) << failed.err;
  ASSERT_EQ(lines_of(failed.out).size(), 1U) << failed.out;
  EXPECT_EQ(parse_json(failed.out)["id"], team[3].id);
  const ProcessResult limited = kagura({"--format", "jsonl", "--limit", "3"});
  ASSERT_EQ(limited.exit_code(), 0) << limited.err;
  const auto lines = lines_of(limited.out);
  ASSERT_EQ(lines.size(), 3U) << limited.out;
  EXPECT_EQ(parse_json(lines[2])["id"], team[3].id) << "the newest three";
}

TEST_F(MonitorExportTest, AFailureNeverLeavesAPartialFileOrClobbersAnOldOne) {
  const fs::path file = out_dir / "keep.csv";
  { std::ofstream(file) << "previous export\n"; }
  // Errors found before and after the file is opened: a bad filter, an empty match.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--since", "soon", "--output", file.string()},
        std::vector<std::string>{"--agent", "nobody", "--output", file.string()}}) {
    const ProcessResult result = kagura(args);
    EXPECT_EQ(result.exit_code(), 1) << args[1];
    EXPECT_EQ(lines_of(result.err).size(), 1U) << result.err;
    EXPECT_EQ(read_file(file), "previous export\n");
    EXPECT_EQ(files_in(out_dir), std::vector<std::string>{"keep.csv"}) << "no temporary left";
  }
  const fs::path nowhere = dir.path() / "missing" / "data.csv";
  const ProcessResult missing = kagura({"--output", nowhere.string()});
  EXPECT_EQ(missing.exit_code(), 1);
  ASSERT_EQ(lines_of(missing.err).size(), 1U) << missing.err;
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(nowhere.parent_path()));

  const ProcessResult directory = kagura({"--output", out_dir.string()});
  EXPECT_EQ(directory.exit_code(), 1);
  EXPECT_NE(directory.err.find("is a directory"), std::string::npos) << directory.err;

  // A successful export replaces the old file whole, and leaves no temporary behind.
  ASSERT_EQ(kagura({"--output", file.string()}).exit_code(), 0);
  EXPECT_EQ(parse_csv(read_file(file)).size(), 8U);
  EXPECT_EQ(files_in(out_dir), std::vector<std::string>{"keep.csv"});
}

TEST_F(MonitorExportTest, SigintDuringAnExportLeavesNoFile) {
  // Enough executions that the export is still writing when the signal arrives.
  const fs::path big = dir.path() / "big.db";
  {
    storage::SqliteStore store(big.string());
    const double t0 = telemetry::unix_now() - 86400;
    std::vector<Execution> batch;
    for (int i = 0; i < 20000; ++i) {
      batch.push_back(ExecutionBuilder("bulk", t0 + i * 0.5)
                          .lasting(0.1)
                          .llm(0.0, "gpt-4o-mini", 100, 10, 1000)
                          .custom(0.05, "payload", {{"text", std::string(2000, 'x')}}));
    }
    std::vector<const Execution*> pointers;
    for (const auto& e : batch) pointers.push_back(&e);
    store.save_executions(pointers);
  }
  const fs::path file = out_dir / "big.json";
  kagura::test::ChildProcess child({kagura::test::kagura_bin(), "monitor", "export", "--db",
                                    big.string(), "--output", file.string()},
                                   {{"HOME", dir.path().string()}});
  // Wait until the temporary file has grown, then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool writing = false;
  while (!writing && std::chrono::steady_clock::now() < deadline) {
    for (const auto& entry : fs::directory_iterator(out_dir)) {
      std::error_code error;
      if (entry.path().filename().string().find(".tmp-") != std::string::npos &&
          fs::file_size(entry.path(), error) > 0) {
        writing = true;
      }
    }
    if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(child.pid(), SIGINT);
  const ProcessResult result = child.finish();
  if (!writing || result.exit_code() == 0) {
    // The export finished before the signal (a very fast machine): the file must be whole.
    ASSERT_EQ(result.exit_code(), 0) << result.err;
    EXPECT_EQ(parse_json(read_file(file)).size(), 20000U);
    GTEST_SKIP() << "the export finished before it could be interrupted";
  }
  EXPECT_EQ(result.exit_code(), 1) << result.err;
  EXPECT_NE(result.err.find("interrupted"), std::string::npos) << result.err;
  EXPECT_TRUE(files_in(out_dir).empty()) << "neither the file nor a temporary";
}

// More executions than a page, and more than a page within a millisecond: every one is exported
// exactly once, newest first.
TEST_F(MonitorExportTest, PagesThroughLargeStoresWithoutLosingOrRepeatingExecutions) {
  const fs::path big = dir.path() / "paged.db";
  std::set<std::string> expected;
  {
    storage::SqliteStore store(big.string());
    const double t0 = telemetry::unix_now() - 7 * 86400;
    std::vector<Execution> batch;
    for (int i = 0; i < 4500; ++i) {
      // A burst of 2,500 within one millisecond (more than a page in the narrowest window;
      // several in the same microsecond), the rest spread unevenly over a week.
      const double at =
          i < 2500 ? t0 + 1000.0 + (i % 400) * 2e-6 : t0 + 1000.0 + (i - 2500) * (i - 2500) * 0.15;
      batch.push_back(ExecutionBuilder(i % 2 == 0 ? "even" : "odd", at).lasting(0.1));
      expected.insert(batch.back().id);
    }
    std::vector<const Execution*> pointers;
    for (const auto& e : batch) pointers.push_back(&e);
    store.save_executions(pointers);
  }
  for (const char* format : {"csv", "jsonl"}) {
    const fs::path file = out_dir / (std::string("paged.") + format);
    const ProcessResult result = run_kagura(
        {"monitor", "export", "--db", big.string(), "--output", file.string()}, dir.path());
    ASSERT_EQ(result.exit_code(), 0) << result.err;
    std::multiset<std::string> ids;
    double previous = 1e300;
    if (std::string(format) == "csv") {
      const auto records = parse_csv(read_file(file));
      for (std::size_t i = 1; i < records.size(); ++i) {
        ids.insert(records[i][0]);
        const double started = std::stod(records[i][2]);
        EXPECT_LE(started, previous) << "newest first";
        previous = started;
      }
    } else {
      for (const auto& line : lines_of(read_file(file))) ids.insert(parse_json(line)["id"]);
    }
    EXPECT_EQ(ids.size(), expected.size()) << format;
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), expected) << format;
  }
  const ProcessResult even = run_kagura(
      {"monitor", "export", "--db", big.string(), "--format", "jsonl", "--agent", "even"},
      dir.path());
  ASSERT_EQ(even.exit_code(), 0) << even.err;
  EXPECT_EQ(lines_of(even.out).size(), 2250U);
}

}  // namespace
}  // namespace kagura::cli::monitor_test
