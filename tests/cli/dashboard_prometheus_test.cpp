// `kagura dashboard --prometheus` as Prometheus sees it: the real binary in a child process,
// scraped over loopback, on a SQLite store the test seeds and then keeps writing to.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/monitor_test_support.hpp"
#include "kagura/pipeline/process_status.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;
using kagura::test::ChildProcess;
using kagura::test::ProcessResult;
using kagura::test::TempDir;
using monitor_test::ExecutionBuilder;
using telemetry::Execution;

constexpr const char* kPromtool = "/usr/bin/promtool";

// The value of the one sample named exactly `series` (name and labels); "" and a failure
// otherwise.
std::string value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::vector<std::string> found;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) found.push_back(line.substr(series.size() + 1));
  }
  if (found.size() != 1) {
    ADD_FAILURE() << found.size() << " lines for " << series << " in:\n" << text;
    return "";
  }
  return found.front();
}

class DashboardPrometheusTest : public ::testing::Test {
 protected:
  DashboardPrometheusTest() {
    now = telemetry::unix_now();
    storage::SqliteStore store(db.string());
    const std::vector<Execution> seeded = {
        ExecutionBuilder("alpha", now - 600)
            .lasting(2.0)
            .llm(0.0, "gpt-4o-mini", 100, 50, 1'000'000'000, 0.5)
            .llm(0.6, "gpt-4o-mini", 3000, 20, 234'500'000, 1.5)
            .tool(1.0, "web_search", 0.2),
        ExecutionBuilder("beta", now - 300)
            .lasting(0.5)
            .failed("rate limited", "RateLimitError")
            .llm(0.0, "local-llama", 10, 0, 0, 0.04, /*priced=*/false)
            .tool(0.1, "web_search", 0.1, "HTTP 500"),
        ExecutionBuilder("alpha", now - 60).lasting(0.3),
    };
    for (const auto& e : seeded) store.save_execution(e);
  }

  // Starts the endpoint and returns its port (0 and a failure when it printed no URL in time).
  // Its stdout goes to a file (the shell execs kagura, so the child is kagura itself), which
  // lets the test read the URL while the server runs.
  int start(const std::vector<std::string>& extra = {}) {
    std::string command = "exec '" + kagura::test::kagura_bin() +
                          "' dashboard --prometheus --metrics-port 0 --db '" + db.string() + "'";
    for (const auto& arg : extra) command += " '" + arg + "'";
    command += " > '" + stdout_file.string() + "'";
    child = std::make_unique<ChildProcess>(std::vector<std::string>{"/bin/sh", "-c", command},
                                           kagura::test::EnvChanges{{"HOME", dir.path().string()}});
    static const std::regex url(R"(^Prometheus metrics at http://127\.0\.0\.1:(\d+)/metrics\n$)");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(stdout_file);
      const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::smatch match;
      if (std::regex_match(out, match, url)) return std::stoi(match[1]);
      if (!out.empty() && out.back() == '\n') {
        ADD_FAILURE() << "unexpected output: " << out;
        return 0;
      }
      // Ended already? Asked without reaping it, so that stop() still gets its status.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(child->pid()), &info, WEXITED | WNOHANG | WNOWAIT) ==
              0 &&
          info.si_pid != 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "no URL printed; stderr: " << stop().err;
    return 0;
  }

  // Sends SIGINT and returns how the child ended.
  ProcessResult stop() {
    ::kill(child->pid(), SIGINT);
    return child->finish();
  }

  httplib::Result get(int port, const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30, 0);
    return client.Get(path.c_str(), headers);
  }

  std::string scrape(int port) {
    auto response = get(port, "/metrics");
    if (!response) {
      ADD_FAILURE() << "no answer from /metrics: " << httplib::to_string(response.error());
      return "";
    }
    EXPECT_EQ(response->status, 200) << response->body;
    EXPECT_EQ(response->get_header_value("Content-Type"),
              "text/plain; version=0.0.4; charset=utf-8");
    return response->body;
  }

  TempDir dir{"kagura_prometheus_cli"};
  fs::path db = dir.path() / "telemetry.db";
  double now = 0;
  fs::path stdout_file = dir.path() / "stdout.txt";
  std::unique_ptr<ChildProcess> child;
};

// promtool's verdict on an exposition: "" when it accepts it, else what it said.
std::string promtool_problems(const TempDir& dir, const std::string& exposition) {
  const auto file = dir.write("scrape.txt", exposition);
  const ProcessResult result = kagura::test::run_process(
      {"/bin/sh", "-c", std::string(kPromtool) + " check metrics < '" + file.string() + "'"});
  if (result.exit_code() == 0 && result.out.empty() && result.err.empty()) return "";
  return "exit " + std::to_string(result.exit_code()) + ": " + result.out + result.err;
}

TEST_F(DashboardPrometheusTest, ServesTheStoreAndFollowsWhatIsRecordedLater) {
  const int port = start();
  ASSERT_NE(port, 0);
  const std::string first = scrape(port);

  EXPECT_EQ(value_of(first, R"(kagura_executions_total{agent="alpha",status="completed"})"), "2");
  EXPECT_EQ(value_of(first, R"(kagura_executions_total{agent="beta",status="failed"})"), "1");
  EXPECT_EQ(value_of(first, R"(kagura_errors_total{agent="beta",error_type="RateLimitError"})"),
            "1");
  EXPECT_EQ(value_of(first, R"(kagura_cost_usd_total{agent="alpha",model="gpt-4o-mini"})"),
            "1.2345");
  EXPECT_EQ(value_of(first, R"(kagura_llm_calls_total{agent="alpha",model="gpt-4o-mini"})"), "2");
  EXPECT_EQ(value_of(first, R"(kagura_unpriced_llm_calls_total{model="local-llama"})"), "1");
  EXPECT_EQ(
      value_of(first,
               R"(kagura_tool_calls_total{agent="alpha",tool="web_search",outcome="success"})"),
      "1");
  EXPECT_EQ(
      value_of(first, R"(kagura_tool_calls_total{agent="beta",tool="web_search",outcome="error"})"),
      "1");
  const std::string alpha_chat =
      R"(gen_ai_agent_name="alpha",gen_ai_operation_name="chat",gen_ai_provider_name="_OTHER",gen_ai_response_model="gpt-4o-mini")";
  // Input tokens 100 and 3000: one in le=256, both in le=4096.
  EXPECT_EQ(value_of(first, "gen_ai_client_token_usage_bucket{" + alpha_chat +
                                R"(,gen_ai_token_type="input",le="256"})"),
            "1");
  EXPECT_EQ(value_of(first, "gen_ai_client_token_usage_bucket{" + alpha_chat +
                                R"(,gen_ai_token_type="input",le="4096"})"),
            "2");
  EXPECT_EQ(value_of(first, "gen_ai_client_token_usage_sum{" + alpha_chat +
                                R"(,gen_ai_token_type="output"})"),
            "70");
  // Durations 0.5 and 1.5 s.
  EXPECT_EQ(value_of(first, "gen_ai_client_operation_duration_seconds_bucket{" + alpha_chat +
                                R"(,le="0.64"})"),
            "1");
  EXPECT_EQ(value_of(first, "gen_ai_client_operation_duration_seconds_bucket{" + alpha_chat +
                                R"(,le="2.56"})"),
            "2");
  EXPECT_EQ(value_of(first, R"(kagura_execution_duration_seconds_count{agent="alpha"})"), "2");
  EXPECT_EQ(value_of(first, "kagura_exporter_executions_read_total"), "3");
  EXPECT_EQ(value_of(first, "kagura_exporter_scrape_errors_total"), "0");

  // Recorded while the endpoint runs: a new execution, and one that started before the newest
  // already read (a long execution is written when it ends), which the overlap must find.
  {
    storage::SqliteStore store(db.string());
    store.save_execution(
        ExecutionBuilder("gamma", now - 5).lasting(0.1).llm(0.0, "gpt-4o", 20, 10, 50'000, 0.1));
    store.save_execution(ExecutionBuilder("alpha", now - 120).lasting(100.0));
  }
  const std::string second = scrape(port);
  EXPECT_EQ(value_of(second, R"(kagura_executions_total{agent="alpha",status="completed"})"), "3");
  EXPECT_EQ(value_of(second, R"(kagura_executions_total{agent="gamma",status="completed"})"), "1");
  EXPECT_EQ(value_of(second, R"(kagura_cost_usd_total{agent="gamma",model="gpt-4o"})"), "0.00005");
  EXPECT_EQ(
      value_of(second, R"(kagura_execution_duration_seconds_bucket{agent="alpha",le="81.92"})"),
      "2");
  EXPECT_EQ(
      value_of(second, R"(kagura_execution_duration_seconds_bucket{agent="alpha",le="163.84"})"),
      "3");
  EXPECT_EQ(value_of(second, "kagura_exporter_executions_read_total"), "5");

  // Nothing new: nothing counted twice.
  const std::string third = scrape(port);
  EXPECT_EQ(value_of(third, R"(kagura_executions_total{agent="alpha",status="completed"})"), "3");
  EXPECT_EQ(value_of(third, "kagura_exporter_executions_read_total"), "5");

  auto missing = get(port, "/other");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  const ProcessResult result = stop();
  EXPECT_TRUE(result.exited()) << "ended by signal " << result.signal();
  EXPECT_EQ(result.exit_code(), 0) << result.err;

  if (!fs::exists(kPromtool)) GTEST_SKIP() << "promtool (Debian: prometheus) is not installed";
  EXPECT_EQ(promtool_problems(dir, second), "");
}

// The pipeline's counters live in the recording process; it publishes them under the shared
// home, and the exporter serves them per process while it runs and after it has ended.
TEST_F(DashboardPrometheusTest, ServesTheCountersOfTheProcessesRecordingIntoTheStore) {
  const kagura::test::EnvChanges recorder_env = {{"HOME", dir.path().string()},
                                                 {"KAGURA_TELEMETRY_CONNECTION", db.string()}};
  ChildProcess recorder({kagura::test::record_helper(), "25", "wait"}, recorder_env);
  ASSERT_TRUE(recorder.wait_for_stdout("recorded\n"));
  // A process writing to another store is not this store's.
  const auto other_db = dir.path() / "other.db";
  ASSERT_EQ(kagura::test::run_process(
                {kagura::test::record_helper(), "3", "exit"},
                {{"HOME", dir.path().string()}, {"KAGURA_TELEMETRY_CONNECTION", other_db.string()}})
                .exit_code(),
            0);

  const int port = start();
  ASSERT_NE(port, 0);
  const std::string process =
      "process=\"" + pipeline::this_host_name() + ":" + std::to_string(recorder.pid()) + "\"";
  const std::string written = "kagura_pipeline_executions_written_total{" + process + "}";
  // Published every 5 s: the first figures may predate the writes.
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    text = scrape(port);
    if (text.find(written + " 25\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(value_of(text, written), "25");
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_queued_total{" + process + "}"), "25");
  EXPECT_EQ(value_of(text, "kagura_pipeline_executions_dropped_total{" + process + "}"), "0");
  EXPECT_EQ(value_of(text, "kagura_pipeline_up{" + process + "}"), "1");
  // Only the recorder of this store: one written series.
  std::size_t written_series = 0;
  for (std::size_t at = text.find("\nkagura_pipeline_executions_written_total{");
       at != std::string::npos;
       at = text.find("\nkagura_pipeline_executions_written_total{", at + 1)) {
    ++written_series;
  }
  EXPECT_EQ(written_series, 1u) << text;

  // Every metric the Grafana dashboard of docs/grafana.md queries is served.
  {
    std::ifstream in(fs::path(__FILE__).parent_path().parent_path().parent_path() / "docs" /
                     "grafana.md");
    const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto json_start = doc.find("```json\n");
    ASSERT_NE(json_start, std::string::npos) << "no dashboard JSON in docs/grafana.md";
    // Without the `by (label, ...)` groupings, whose label names look like metric names.
    static const std::regex grouping(R"(\bby \([^)]*\))");
    const std::string dashboard = std::regex_replace(
        doc.substr(json_start, doc.find("\n```", json_start + 1) - json_start), grouping, "");
    static const std::regex metric(
        R"(\b((?:kagura|gen_ai)_[a-z_]+?)(?:_bucket|_sum|_count)?\b[{\[ )])");
    std::set<std::string> queried;
    for (std::sregex_iterator it(dashboard.begin(), dashboard.end(), metric), end; it != end;
         ++it) {
      queried.insert((*it)[1]);
    }
    EXPECT_GE(queried.size(), 10u);
    for (const auto& name : queried) {
      EXPECT_NE(text.find("\n# TYPE " + name + " "), std::string::npos)
          << name << " is queried by the Grafana dashboard but not served";
    }
  }

  // Ended: its final counters stay, marked down.
  ::kill(recorder.pid(), SIGTERM);
  recorder.finish();
  const std::string after = scrape(port);
  EXPECT_EQ(value_of(after, written), "25");
  EXPECT_EQ(value_of(after, "kagura_pipeline_up{" + process + "}"), "0");
  EXPECT_EQ(stop().exit_code(), 0);

  if (!fs::exists(kPromtool)) GTEST_SKIP() << "promtool (Debian: prometheus) is not installed";
  EXPECT_EQ(promtool_problems(dir, text), "");
}

TEST_F(DashboardPrometheusTest, HostileAgentNamesKeepTheExpositionValid) {
  {
    storage::SqliteStore store(db.string());
    store.save_execution(ExecutionBuilder("evil\"} 1\nx{a=\"\\", now - 30)
                             .lasting(0.2)
                             .failed("boom", "Bad\"Type\n")
                             .llm(0.0, "model\\\"", 5, 5, 1, 0.2)
                             .tool(0.1, "tool\n\"", 0.1));
  }
  const int port = start();
  ASSERT_NE(port, 0);
  const std::string text = scrape(port);
  EXPECT_EQ(
      value_of(text, R"(kagura_executions_total{agent="evil\"} 1\nx{a=\"\\",status="failed"})"),
      "1");
  EXPECT_EQ(stop().exit_code(), 0);
  if (!fs::exists(kPromtool)) GTEST_SKIP() << "promtool (Debian: prometheus) is not installed";
  EXPECT_EQ(promtool_problems(dir, text), "");
}

TEST_F(DashboardPrometheusTest, ATokenIsCheckedWhenGiven) {
  const int port = start({"--token", "s3cret-token"});
  ASSERT_NE(port, 0);
  auto anonymous = get(port, "/metrics");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->body.find("kagura_executions_total"), std::string::npos);
  auto wrong = get(port, "/metrics", {{"Authorization", "Bearer s3cret-tokem"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto bearer = get(port, "/metrics", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 200);
  EXPECT_EQ(value_of(bearer->body, R"(kagura_executions_total{agent="alpha",status="completed"})"),
            "2");
  auto query = get(port, "/metrics?token=s3cret-token");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 200);
  EXPECT_EQ(stop().exit_code(), 0);
}

TEST_F(DashboardPrometheusTest, RefusesToListenBeyondLoopbackWithoutAToken) {
  const ProcessResult result =
      monitor_test::run_kagura({"dashboard", "--prometheus", "--host", "0.0.0.0", "--metrics-port",
                                "0", "--db", db.string()},
                               dir.path());
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_NE(result.err.find("--token"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("0.0.0.0"), std::string::npos) << result.err;
}

TEST_F(DashboardPrometheusTest, APortInUseIsReportedWithTheWayOut) {
  const int port = start();
  ASSERT_NE(port, 0);
  const ProcessResult second = monitor_test::run_kagura(
      {"dashboard", "--prometheus", "--metrics-port", std::to_string(port), "--db", db.string()},
      dir.path());
  EXPECT_EQ(second.exit_code(), 1);
  EXPECT_EQ(std::count(second.err.begin(), second.err.end(), '\n'), 1) << second.err;
  EXPECT_NE(second.err.find(std::to_string(port)), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("--metrics-port"), std::string::npos) << second.err;
  EXPECT_EQ(stop().exit_code(), 0);
}

}  // namespace
}  // namespace kagura::cli
