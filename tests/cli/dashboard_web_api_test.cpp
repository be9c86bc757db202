// `kagura dashboard --web` as users run it: the real binary in a child process on a free port,
// serving a SQLite store the test seeds; its JSON API is checked against the store's own
// answers, its errors and its token against what the issue asks.

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;
using kagura::test::ChildProcess;
using kagura::test::ProcessResult;
using kagura::test::TempDir;
using nlohmann::json;
using telemetry::Execution;
using telemetry::ExecutionStatus;

constexpr double kJan10_2025 = 1736467200;  // 2025-01-10T00:00:00Z

Execution make_execution(const std::string& agent, double started_at, ExecutionStatus status,
                         double duration, const std::string& model, telemetry::NanoUsd cost_nanos) {
  Execution e;
  e.id = telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = started_at;
  e.duration = duration;
  e.ended_at = started_at + duration;
  e.status = status;
  if (status == ExecutionStatus::failed) e.error = "API Error";
  telemetry::LlmCall call;
  call.model = model;
  call.prompt_tokens = 100;
  call.completion_tokens = 40;
  call.duration = duration / 2;
  call.cost_nanos = cost_nanos;
  e.metrics.add(call);
  e.events.push_back({started_at + 0.01, call});
  e.events.push_back(
      {started_at + 0.02, telemetry::ToolCall{"web_search", {{"q", "x"}}, 0.01, true, ""}});
  e.metrics.tool_calls = 1;
  return e;
}

// A running `kagura dashboard --web`. Its stdout goes to a file (through `sh -c exec`, so the
// pid stays kagura's) that is read for the URL line while it runs.
class Dashboard {
 public:
  Dashboard(const TempDir& dir, const std::vector<std::string>& args) : out_(dir / "stdout.txt") {
    fs::remove(out_);
    std::vector<std::string> argv = {
        "/bin/sh",   "-c",   "exec \"$0\" \"$@\" >\"$KAGURA_TEST_OUT\"", kagura::test::kagura_bin(),
        "dashboard", "--web"};
    argv.insert(argv.end(), args.begin(), args.end());
    child_ = std::make_unique<ChildProcess>(
        argv,
        kagura::test::EnvChanges{
            {"HOME", dir.path().string()}, {"KAGURA_TEST_OUT", out_.string()}, {"NO_COLOR", "1"}});
  }

  // Waits for "Dashboard at http://HOST:PORT/"; nullopt if the process printed none in time.
  std::optional<int> wait_for_port() {
    const std::regex line(R"(Dashboard at http://[^:/]+:(\d+)/)");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(out_);
      std::stringstream text;
      text << in.rdbuf();
      std::smatch match;
      const std::string s = text.str();
      if (std::regex_search(s, match, line)) return std::stoi(match[1]);
      if (::kill(child_->pid(), 0) != 0) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  std::string stdout_text() const {
    std::ifstream in(out_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  ChildProcess& child() { return *child_; }

 private:
  fs::path out_;
  std::unique_ptr<ChildProcess> child_;
};

class DashboardWebApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const double now = telemetry::unix_now();
    const std::string mini = "gpt-4o-mini";
    const std::string sonnet = "claude-sonnet-4-5";
    seeded = {
        make_execution("alpha", now - 600, ExecutionStatus::completed, 1.0, mini, 1'000'000),
        make_execution("alpha", now - 1200, ExecutionStatus::failed, 2.0, mini, 2'000'000),
        make_execution("alpha", now - 5 * 3600, ExecutionStatus::completed, 3.0, sonnet,
                       30'000'000),
        make_execution("beta", now - 1800, ExecutionStatus::completed, 0.5, sonnet, 40'000'000),
        make_execution("beta", kJan10_2025, ExecutionStatus::completed, 0.7, mini, 5'000'000),
    };
    Execution boss =
        make_execution("boss", now - 300, ExecutionStatus::completed, 9.0, sonnet, 60'000'000);
    Execution helper =
        make_execution("helper", now - 299, ExecutionStatus::completed, 4.0, mini, 700'000);
    Execution checker =
        make_execution("checker", now - 290, ExecutionStatus::failed, 1.0, mini, 800'000);
    Execution leaf =
        make_execution("leaf", now - 298, ExecutionStatus::completed, 1.0, mini, 900'000);
    for (Execution* child : {&helper, &checker}) {
      child->trace_id = boss.id;
      child->parent_id = boss.id;
    }
    leaf.trace_id = boss.id;
    leaf.parent_id = helper.id;
    boss_id = boss.id;
    helper_id = helper.id;
    checker_id = checker.id;
    leaf_id = leaf.id;
    for (auto& e : {boss, helper, checker, leaf}) seeded.push_back(e);
    store = std::make_unique<storage::SqliteStore>(db.string());
    for (const auto& e : seeded) store->save_execution(e);
  }

  // Starts the dashboard on a free port of 127.0.0.1 and returns a client for it.
  std::unique_ptr<httplib::Client> start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--port", "0", "--db", db.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    server = std::make_unique<Dashboard>(dir, args);
    const auto port = server->wait_for_port();
    if (!port) {
      ADD_FAILURE() << "the dashboard printed no URL: " << server->child().finish().err;
      return nullptr;
    }
    server_port = *port;
    auto client = std::make_unique<httplib::Client>("127.0.0.1", *port);
    client->set_read_timeout(30, 0);
    return client;
  }

  static json get_json(httplib::Client& client, const std::string& path, int expected = 200,
                       const httplib::Headers& headers = {}) {
    const auto response = client.Get(path.c_str(), headers);
    if (!response) {
      ADD_FAILURE() << "GET " << path << " failed: " << httplib::to_string(response.error());
      return json();
    }
    EXPECT_EQ(response->status, expected) << path << ": " << response->body;
    EXPECT_EQ(response->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(response->body);
  }

  static void expect_same_summary(const json& got, const storage::SummaryStats& want) {
    EXPECT_EQ(got.at("total_executions"), want.total_executions);
    EXPECT_EQ(got.at("completed"), want.completed);
    EXPECT_EQ(got.at("failed"), want.failed);
    EXPECT_EQ(got.at("running"), want.running);
    EXPECT_DOUBLE_EQ(got.at("success_rate").get<double>(), want.success_rate);
    EXPECT_DOUBLE_EQ(got.at("p50_duration").get<double>(), want.p50_duration);
    EXPECT_DOUBLE_EQ(got.at("p95_duration").get<double>(), want.p95_duration);
    EXPECT_DOUBLE_EQ(got.at("avg_duration").get<double>(), want.avg_duration);
    EXPECT_EQ(got.at("total_tokens"), want.total_tokens);
    EXPECT_EQ(got.at("tool_calls"), want.tool_calls);
    EXPECT_DOUBLE_EQ(got.at("total_cost").get<double>(), want.total_cost());
  }

  TempDir dir{"kagura_dashboard_web"};
  fs::path db = dir / "telemetry.db";
  std::vector<Execution> seeded;
  std::string boss_id, helper_id, checker_id, leaf_id;
  std::unique_ptr<storage::SqliteStore> store;
  std::unique_ptr<Dashboard> server;
  int server_port = 0;
};

TEST_F(DashboardWebApiTest, SummaryIsTheStoresWithAndWithoutFilters) {
  auto client = start();
  ASSERT_TRUE(client);
  const json all = get_json(*client, "/api/summary");
  expect_same_summary(all, store->get_summary_stats({}));
  EXPECT_EQ(all.at("total_executions"), 9);

  const json filtered = get_json(*client, "/api/summary?agent=alpha&since=2h");
  storage::ExecutionFilter filter;
  filter.agent_name = "alpha";
  filter.since = telemetry::unix_now() - 2 * 3600;
  const auto want = store->get_summary_stats(filter);
  expect_same_summary(filtered, want);
  EXPECT_EQ(filtered.at("total_executions"), 2);
  EXPECT_EQ(get_json(*client, "/api/summary?status=failed").at("total_executions"), 2);
}

TEST_F(DashboardWebApiTest, SixteenClientsAtOnceAllGetTheStoresAnswer) {
  auto client = start();
  ASSERT_TRUE(client);
  const auto want = store->get_summary_stats({});
  const int port = server_port;
  std::atomic<int> right{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client own("127.0.0.1", port);
      for (int i = 0; i < 20; ++i) {
        const auto response = own.Get(c % 2 == 0 ? "/api/summary" : "/api/summary?agent=alpha");
        if (!response || response->status != 200) continue;
        const json got = json::parse(response->body);
        const std::int64_t expected = c % 2 == 0 ? want.total_executions : 3;
        if (got.at("total_executions") == expected) ++right;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(right.load(), 16 * 20);
}

TEST_F(DashboardWebApiTest, CostByModelAgentAndDayIsTheStores) {
  auto client = start();
  ASSERT_TRUE(client);
  for (const auto& [by, grouping] : std::vector<std::pair<std::string, storage::CostGrouping>>{
           {"model", storage::CostGrouping::model},
           {"agent", storage::CostGrouping::agent},
           {"day", storage::CostGrouping::day}}) {
    const json got = get_json(*client, "/api/cost?by=" + by);
    const auto want = store->get_cost_breakdown(grouping, {});
    EXPECT_EQ(got.at("by"), by);
    ASSERT_EQ(got.at("groups").size(), want.size()) << by;
    telemetry::NanoUsd total = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got["groups"][i].at("key"), want[i].key) << by;
      EXPECT_EQ(got["groups"][i].at("llm_calls"), want[i].llm_calls) << by;
      EXPECT_DOUBLE_EQ(got["groups"][i].at("cost").get<double>(), want[i].cost()) << by;
      if (by != "model") {
        EXPECT_EQ(got["groups"][i].at("executions"), want[i].executions);
      }
      total += want[i].cost_nanos;
    }
    EXPECT_DOUBLE_EQ(got.at("total_cost").get<double>(), telemetry::nano_usd_to_usd(total));
  }
  EXPECT_EQ(get_json(*client, "/api/cost?by=model").at("groups").size(), 2u);
}

TEST_F(DashboardWebApiTest, AgentsAreComparedWithTheStoresSummaries) {
  auto client = start();
  ASSERT_TRUE(client);
  const json got = get_json(*client, "/api/agents");
  std::set<std::string> names;
  for (const auto& row : got.at("agents")) {
    const std::string agent = row.at("agent");
    names.insert(agent);
    storage::ExecutionFilter filter;
    filter.agent_name = agent;
    const auto want = store->get_summary_stats(filter);
    EXPECT_EQ(row.at("runs"), want.total_executions) << agent;
    EXPECT_EQ(row.at("failed"), want.failed) << agent;
    EXPECT_DOUBLE_EQ(row.at("success_rate").get<double>(), want.success_rate) << agent;
    EXPECT_DOUBLE_EQ(row.at("p95_duration").get<double>(), want.p95_duration) << agent;
    EXPECT_DOUBLE_EQ(row.at("total_cost").get<double>(), want.total_cost()) << agent;
    EXPECT_DOUBLE_EQ(row.at("cost_per_run").get<double>(),
                     want.total_cost() / static_cast<double>(want.total_executions));
  }
  EXPECT_EQ(names, (std::set<std::string>{"alpha", "beta", "boss", "helper", "checker", "leaf"}));
  EXPECT_FALSE(got.at("truncated").get<bool>());
}

TEST_F(DashboardWebApiTest, ExecutionListFollowsFiltersAndPaging) {
  auto client = start();
  ASSERT_TRUE(client);
  const auto ids_of = [](const json& rows) {
    std::vector<std::string> ids;
    for (const auto& row : rows) ids.push_back(row.at("id"));
    return ids;
  };
  const auto store_ids = [&](storage::ExecutionQuery query) {
    std::vector<std::string> ids;
    for (const auto& e : store->get_executions(query)) ids.push_back(e.id);
    return ids;
  };

  const json all = get_json(*client, "/api/executions");
  EXPECT_EQ(all.at("total"), 9);
  EXPECT_EQ(ids_of(all.at("executions")), store_ids({}));
  EXPECT_FALSE(all["executions"][0].contains("events"));
  EXPECT_TRUE(all["executions"][0].at("models").is_array());

  storage::ExecutionQuery alpha;
  alpha.agent_name = "alpha";
  const json by_agent = get_json(*client, "/api/executions?agent=alpha");
  EXPECT_EQ(by_agent.at("total"), 3);
  EXPECT_EQ(ids_of(by_agent.at("executions")), store_ids(alpha));

  storage::ExecutionQuery failed_alpha = alpha;
  failed_alpha.status = ExecutionStatus::failed;
  const json by_status = get_json(*client, "/api/executions?agent=alpha&status=failed");
  EXPECT_EQ(ids_of(by_status.at("executions")), store_ids(failed_alpha));
  ASSERT_EQ(by_status.at("executions").size(), 1u);
  EXPECT_EQ(by_status["executions"][0].at("status"), "failed");

  const json recent = get_json(*client, "/api/executions?since=1h");
  EXPECT_EQ(recent.at("total"), 7);  // all but the alpha of 5 hours ago and the beta of 2025
  const json old = get_json(*client, "/api/executions?until=2025-06-01");
  ASSERT_EQ(old.at("executions").size(), 1u);
  EXPECT_EQ(old["executions"][0].at("agent_name"), "beta");
  EXPECT_EQ(get_json(*client, "/api/executions?since=1736467200&until=1736467201").at("total"), 1);

  storage::ExecutionQuery page;
  page.limit = 3;
  page.offset = 2;
  const json paged = get_json(*client, "/api/executions?limit=3&offset=2");
  EXPECT_EQ(ids_of(paged.at("executions")), store_ids(page));
  EXPECT_EQ(paged.at("total"), 9);
}

TEST_F(DashboardWebApiTest, OneExecutionComesWithItsEventsAndChildTree) {
  auto client = start();
  ASSERT_TRUE(client);
  const json got = get_json(*client, "/api/executions/" + boss_id);
  EXPECT_EQ(got.at("execution").at("id"), boss_id);
  EXPECT_EQ(got.at("execution").at("agent_name"), "boss");
  ASSERT_EQ(got.at("execution").at("events").size(), 2u);
  EXPECT_EQ(got["execution"]["events"][0].at("type"), "llm_call");
  EXPECT_EQ(got["execution"]["events"][1].at("type"), "tool_call");
  const json& children = got.at("children");
  ASSERT_EQ(children.size(), 2u);
  // In start order: helper (with leaf under it), then checker.
  EXPECT_EQ(children[0].at("id"), helper_id);
  EXPECT_EQ(children[1].at("id"), checker_id);
  EXPECT_EQ(children[1].at("status"), "failed");
  ASSERT_EQ(children[0].at("children").size(), 1u);
  EXPECT_EQ(children[0]["children"][0].at("id"), leaf_id);
  EXPECT_TRUE(children[1].at("children").empty());

  // A prefix is enough; a child shows the tree below it only.
  const json by_prefix = get_json(*client, "/api/executions/" + helper_id.substr(0, 20));
  EXPECT_EQ(by_prefix.at("execution").at("id"), helper_id);
  EXPECT_EQ(by_prefix.at("execution").at("parent_id"), boss_id);
  ASSERT_EQ(by_prefix.at("children").size(), 1u);
  EXPECT_EQ(by_prefix["children"][0].at("id"), leaf_id);
}

TEST_F(DashboardWebApiTest, TimeSeriesAddsUpToTheStore) {
  auto client = start();
  ASSERT_TRUE(client);
  const json hours = get_json(*client, "/api/timeseries?bucket=hour&since=24h");
  EXPECT_EQ(hours.at("bucket"), "hour");
  ASSERT_GE(hours.at("points").size(), 24u);
  ASSERT_LE(hours.at("points").size(), 25u);
  std::int64_t executions = 0;
  double cost = 0;
  for (std::size_t i = 0; i < hours["points"].size(); ++i) {
    executions += hours["points"][i].at("executions").get<std::int64_t>();
    cost += hours["points"][i].at("cost").get<double>();
    if (i > 0) {
      EXPECT_DOUBLE_EQ(hours["points"][i].at("start").get<double>() -
                           hours["points"][i - 1].at("start").get<double>(),
                       3600.0);
    }
  }
  storage::ExecutionFilter last_day;
  last_day.since = telemetry::unix_now() - 24 * 3600;
  const auto want = store->get_summary_stats(last_day);
  EXPECT_EQ(executions, want.total_executions);
  EXPECT_EQ(executions, 8);
  EXPECT_NEAR(cost, want.total_cost(), 1e-9);

  const json days = get_json(*client, "/api/timeseries?bucket=day");
  std::int64_t day_executions = 0;
  for (const auto& p : days.at("points")) day_executions += p.at("executions").get<std::int64_t>();
  EXPECT_EQ(day_executions, 9);
  // From January 2025 to today, every day present once.
  EXPECT_EQ(days["points"][0].at("key"), "2025-01-10");
  for (std::size_t i = 1; i < days["points"].size(); ++i) {
    EXPECT_DOUBLE_EQ(days["points"][i].at("start").get<double>() -
                         days["points"][i - 1].at("start").get<double>(),
                     86400.0);
  }
}

TEST_F(DashboardWebApiTest, BadInputIsA400SayingWhatToFix) {
  auto client = start();
  ASSERT_TRUE(client);
  const auto error_of = [&](const std::string& path, int status = 400) {
    return get_json(*client, path, status).at("error").get<std::string>();
  };
  EXPECT_NE(
      error_of("/api/summary?since=yesterday").find("since=yesterday: 'yesterday' is not a time"),
      std::string::npos);
  EXPECT_NE(error_of("/api/executions?status=done").find("expected running, completed or failed"),
            std::string::npos);
  EXPECT_NE(error_of("/api/executions?since=1h&until=2h").find("swap them"), std::string::npos);
  EXPECT_NE(error_of("/api/executions?limit=0").find("from 1 to 1000"), std::string::npos);
  EXPECT_NE(error_of("/api/executions?limit=ten").find("limit=ten"), std::string::npos);
  EXPECT_NE(error_of("/api/executions?agnet=alpha").find("unknown parameter 'agnet'"),
            std::string::npos);
  EXPECT_NE(error_of("/api/cost?by=week").find("by=model, by=agent or by=day"), std::string::npos);
  EXPECT_NE(error_of("/api/timeseries?bucket=week").find("bucket=hour or bucket=day"),
            std::string::npos);
  EXPECT_NE(error_of("/api/timeseries?bucket=hour&since=30d").find("bucket=day"),
            std::string::npos);
  EXPECT_NE(error_of("/api/executions/not-an-id!").find("not an execution id"), std::string::npos);
  EXPECT_NE(error_of("/api/executions/" + std::string(32, '0'), 404).find("no execution with id"),
            std::string::npos);
  EXPECT_NE(error_of("/api/nothing", 404).find("no such endpoint"), std::string::npos);
  // A prefix shared by every id seeded in this test (all made within the same hour or so).
  EXPECT_NE(error_of("/api/executions/0").find("more than one execution"), std::string::npos);
}

TEST_F(DashboardWebApiTest, ThePageIsServedFromTheBinaryWithAContentSecurityPolicy) {
  auto client = start();
  ASSERT_TRUE(client);
  const auto page = client->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(page->body.find("<script src=\"app.js\""), std::string::npos) << page->body;
  EXPECT_EQ(page->body.find("{{token_query}}"), std::string::npos);
  for (const char* asset : {"/app.js", "/chart.umd.min.js"}) {
    const auto script = client->Get(asset);
    ASSERT_TRUE(script);
    EXPECT_EQ(script->status, 200) << asset;
    EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_GT(script->body.size(), 1000u) << asset;
  }
  // Chart.js itself, from the pinned npm package.
  EXPECT_NE(client->Get("/chart.umd.min.js")->body.find("Chart.js v4"), std::string::npos);
  EXPECT_EQ(client->Get("/style.css")->status, 200);
  EXPECT_EQ(client->Get("/missing.js")->status, 404);
}

TEST_F(DashboardWebApiTest, WithATokenEveryRequestNeedsIt) {
  auto client = start({"--token", "s3cret&x"});
  ASSERT_TRUE(client);
  for (const char* path : {"/api/summary", "/", "/app.js", "/api/health"}) {
    EXPECT_EQ(get_json(*client, path, 401).at("error").get<std::string>().find("token") !=
                  std::string::npos,
              true)
        << path;
    get_json(*client, path, 401, {{"Authorization", "Bearer wrong"}});
  }
  get_json(*client, "/api/summary?token=s3cret", 401);
  EXPECT_EQ(get_json(*client, "/api/summary", 200, {{"Authorization", "Bearer s3cret&x"}})
                .at("total_executions"),
            9);
  EXPECT_EQ(get_json(*client, "/api/summary?token=s3cret%26x").at("total_executions"), 9);
  // The page's own files are linked with the token, since a browser sends no header for them.
  const auto page = client->Get("/?token=s3cret%26x");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("src=\"app.js?token=s3cret%26x\""), std::string::npos) << page->body;
  EXPECT_EQ(client->Get("/app.js?token=s3cret%26x")->status, 200);
}

TEST_F(DashboardWebApiTest, BeyondLoopbackWithoutATokenIsRefused) {
  const ProcessResult result =
      kagura::test::run_process({kagura::test::kagura_bin(), "dashboard", "--web", "--host",
                                 "0.0.0.0", "--port", "0", "--db", db.string()},
                                {{"HOME", dir.path().string()}});
  EXPECT_EQ(result.exit_code(), 1);
  EXPECT_NE(result.err.find("--token"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("Dashboard at"), std::string::npos);
}

TEST_F(DashboardWebApiTest, ATakenPortIsAnErrorNamingIt) {
  auto client = start();
  ASSERT_TRUE(client);
  const std::string port = std::to_string(server_port);
  // Under timeout(1): a server that wrongly shares the port would otherwise serve forever.
  const ProcessResult second =
      kagura::test::run_process({"/usr/bin/timeout", "20", kagura::test::kagura_bin(), "dashboard",
                                 "--web", "--port", port, "--db", db.string()},
                                {{"HOME", dir.path().string()}});
  EXPECT_EQ(second.exit_code(), 1);
  EXPECT_NE(second.err.find("127.0.0.1:" + port), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("--port"), std::string::npos) << second.err;
}

TEST_F(DashboardWebApiTest, CtrlCStopsItWithExitZero) {
  for (const int signal : {SIGINT, SIGTERM}) {
    auto client = start();
    ASSERT_TRUE(client);
    EXPECT_EQ(get_json(*client, "/api/health").at("ok"), true);
    ASSERT_EQ(::kill(server->child().pid(), signal), 0);
    const ProcessResult result = server->child().finish();
    EXPECT_TRUE(result.exited()) << "signal " << signal;
    EXPECT_EQ(result.exit_code(), 0) << result.err;
    EXPECT_NE(server->stdout_text().find("Dashboard at http://127.0.0.1:"), std::string::npos);
  }
}

}  // namespace
}  // namespace kagura::cli
