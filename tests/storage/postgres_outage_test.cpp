// Nothing is lost when PostgreSQL is away: agents keep recording while the server restarts in
// the middle of a run, or before it has started at all, and every execution reaches it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kagura/config/telemetry_config.hpp"
#include "kagura/storage/deferred_store.hpp"
#include "kagura/storage/postgres_store.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/postgres_test_server.hpp"
#include "support/test_support.hpp"

namespace kagura::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

telemetry::TelemetryOptions spooling_options(const fs::path& spool) {
  telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.pipeline.max_batch = 256;
  options.pipeline.flush_interval = 20ms;
  options.pipeline.spool_directory = spool;
  options.pipeline.spool_retry_min = 50ms;
  options.pipeline.spool_retry_max = 500ms;
  return options;
}

// Records executions like an agent does, one after another, until stopped.
class RecordingAgent {
 public:
  explicit RecordingAgent(telemetry::Collector& collector)
      : thread_([this, &collector] {
          while (!stop_) {
            auto scope = collector.track_execution("steady-agent", {{"n", count_.load()}});
            scope.record_llm_call(
                {.model = "gpt-4o-mini", .prompt_tokens = 10, .completion_tokens = 5});
            ids_.push_back(scope.id());
            ++count_;
            std::this_thread::sleep_for(1ms);
          }
        }) {}
  ~RecordingAgent() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int count() const { return count_; }
  const std::vector<std::string>& ids() const { return ids_; }  // after stop()

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  std::vector<std::string> ids_;
  std::thread thread_;
};

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

void expect_all_stored(StorageAdapter& store, const std::vector<std::string>& ids) {
  EXPECT_EQ(store.count_executions({}), static_cast<std::int64_t>(ids.size()));
  int missing = 0;
  for (const auto& id : ids) {
    if (!store.get_execution(id)) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << ids.size() << " executions";
  const SummaryStats stats = store.get_summary_stats({});
  EXPECT_EQ(stats.llm_calls, static_cast<std::int64_t>(ids.size())) << "each stored once";
}

TEST(PostgresOutage, ARestartInTheMiddleOfARunLosesNoExecution) {
  test::OwnPostgresServer server;
  test::TempDir dir{"kagura_pg_outage"};
  test::NoticeCapture notices;
  auto store = std::make_shared<PostgresStore>(server.url());
  auto telemetry =
      std::make_shared<telemetry::Telemetry>(store, spooling_options(dir.path() / "spool"));

  RecordingAgent agent(telemetry->collector());
  ASSERT_TRUE(wait_until([&] { return agent.count() >= 200; }, 10s));
  server.run("pause");
  const int at_stop = agent.count();
  // The agent goes on while the server is down: recording never waits on the store.
  ASSERT_TRUE(wait_until([&] { return agent.count() >= at_stop + 300; }, 10s));
  ASSERT_TRUE(wait_until([&] { return telemetry->stats().spooled > 0; }, 10s))
      << "nothing reached the spool while the server was down";
  server.run("resume");
  const int at_resume = agent.count();
  ASSERT_TRUE(wait_until([&] { return agent.count() >= at_resume + 200; }, 10s));
  agent.stop();

  ASSERT_TRUE(telemetry->flush());
  ASSERT_TRUE(wait_until([&] { return telemetry->stats().spool_pending == 0; }, 30s))
      << telemetry->stats().last_error;
  const pipeline::PipelineStats stats = telemetry->stats();
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.unspooled, stats.spooled);
  EXPECT_EQ(stats.written, agent.ids().size());
  expect_all_stored(*store, agent.ids());

  const auto messages = notices.messages();
  EXPECT_TRUE(std::any_of(messages.begin(), messages.end(), [](const std::string& m) {
    return m.find("kept in the spool") != std::string::npos;
  }));
  const std::string& url = server.url();
  const auto user_end = url.find(':', url.find("://") + 3);
  const std::string password = url.substr(user_end + 1, url.find('@') - user_end - 1);
  ASSERT_GE(password.size(), 8u);
  for (const auto& m : messages) EXPECT_THAT(m, Not(HasSubstr(password)));
}

TEST(PostgresOutage, AServerDownAtStartGetsEverythingOnceItIsUp) {
  test::OwnPostgresServer server;
  test::TempDir dir{"kagura_pg_late"};
  // The schema exists, then the server goes away before the program starts.
  { PostgresStore create(server.url()); }
  server.run("pause");

  config::TelemetryConfig config;
  config.backend = "postgresql";
  config.connection = server.url();
  config.pipeline = spooling_options(dir.path() / "spool").pipeline;
  test::NoticeCapture notices;
  const auto telemetry = telemetry::Telemetry::from_config(config);
  ASSERT_TRUE(telemetry->enabled()) << "an unreachable server does not turn telemetry off";
  ASSERT_NE(dynamic_cast<DeferredStore*>(telemetry->store()), nullptr);
  const auto messages = notices.messages();
  ASSERT_FALSE(messages.empty());
  EXPECT_THAT(messages[0], HasSubstr("cannot connect to postgresql"));
  EXPECT_THAT(messages[0], HasSubstr("kept in the spool"));

  std::vector<std::string> ids;
  for (int i = 0; i < 120; ++i) {
    auto scope = telemetry->collector().track_execution("early-agent");
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 3});
    ids.push_back(scope.id());
  }
  ASSERT_TRUE(telemetry->flush());
  EXPECT_EQ(telemetry->stats().spooled, 120u);

  server.run("resume");
  ASSERT_TRUE(wait_until([&] { return telemetry->stats().spool_pending == 0; }, 30s))
      << telemetry->stats().last_error;
  EXPECT_EQ(telemetry->stats().failed, 0u);
  PostgresStore check(server.url());
  expect_all_stored(check, ids);
}

}  // namespace
}  // namespace kagura::storage
