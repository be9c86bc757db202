// The spool: executions that the store cannot take are kept on local disk and delivered when
// it answers again, by this process or a later one; and the pipeline's use of it.

#include "kagura/pipeline/spool.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kagura/config/telemetry_config.hpp"
#include "kagura/pipeline/async_writer.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/record_expectations.hpp"
#include "support/test_support.hpp"

namespace kagura::pipeline {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using telemetry::Execution;
using ::testing::HasSubstr;

std::vector<Execution> make_executions(int count, const std::string& agent = "agent") {
  std::vector<Execution> executions;
  for (int i = 0; i < count; ++i) {
    Execution e = test::make_full_execution();
    e.id = telemetry::new_execution_id();
    e.trace_id = e.id;
    e.parent_id.clear();
    e.agent_name = agent;
    e.started_at += i;
    e.ended_at = *e.ended_at + i;
    executions.push_back(std::move(e));
  }
  return executions;
}

std::vector<const Execution*> pointers(const std::vector<Execution>& executions) {
  std::vector<const Execution*> result;
  for (const auto& e : executions) result.push_back(&e);
  return result;
}

std::vector<fs::path> files_in(const fs::path& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// A SQLite store that can be taken down: while down, every call throws as an unreachable
// server does, and the number of saves that may still succeed first can be limited.
class OutageStore final : public storage::StorageAdapter {
 public:
  explicit OutageStore(const fs::path& file) : store_(file.string()) {}

  void set_down(bool down) { down_ = down; }
  // The next `n` saves succeed, then the store goes down.
  void fail_after(int n) { saves_before_failing_ = n; }
  int failed_calls() const { return failed_calls_; }

  std::string backend_name() const override { return "outage"; }
  std::string location() const override { return "test://outage"; }
  std::size_t save_executions(std::span<const Execution* const> batch) override {
    if (saves_before_failing_ >= 0 && saves_before_failing_-- == 0) down_ = true;
    check();
    return store_.save_executions(batch);
  }
  std::optional<Execution> get_execution(std::string_view id) override {
    check();
    return store_.get_execution(id);
  }
  std::vector<Execution> get_executions(const storage::ExecutionQuery& query) override {
    check();
    return store_.get_executions(query);
  }
  std::int64_t count_executions(const storage::ExecutionFilter& filter) override {
    check();
    return store_.count_executions(filter);
  }
  storage::SummaryStats get_summary_stats(const storage::ExecutionFilter& filter) override {
    check();
    return store_.get_summary_stats(filter);
  }
  std::vector<storage::CostGroup> get_cost_breakdown(
      storage::CostGrouping grouping, const storage::ExecutionFilter& filter) override {
    check();
    return store_.get_cost_breakdown(grouping, filter);
  }
  std::size_t delete_old_executions(double older_than) override {
    check();
    return store_.delete_old_executions(older_than);
  }
  void clear_all() override {
    check();
    store_.clear_all();
  }

  // Reads around the outage, for the test's checks.
  storage::SqliteStore& inner() { return store_; }

 private:
  void check() {
    if (down_) {
      ++failed_calls_;
      throw storage::StoreUnreachableError("outage store: the server is down");
    }
  }

  storage::SqliteStore store_;
  std::atomic<bool> down_{false};
  std::atomic<int> saves_before_failing_{-1};
  std::atomic<int> failed_calls_{0};
};

class SpoolTest : public ::testing::Test {
 protected:
  test::TempDir dir{"kagura_spool_test"};
  fs::path spool_dir = dir.path() / "spool";
  fs::path db = dir.path() / "store.db";
};

TEST_F(SpoolTest, KeepsEveryFieldUntilDeliveredAndThenRemovesTheSegment) {
  Spool spool(spool_dir, 1 << 20);
  const auto executions = make_executions(5);
  spool.append(pointers(executions));
  EXPECT_EQ(spool.pending_executions(), 5u);
  EXPECT_GT(spool.pending_bytes(), 0u);

  // Only its owner may read it: executions may carry prompts and tool arguments.
  EXPECT_EQ(fs::status(spool_dir).permissions() & fs::perms::all, fs::perms::owner_all);
  const auto files = files_in(spool_dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::status(files[0]).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(files[0].extension(), ".jsonl");

  storage::SqliteStore store(db.string());
  const SpoolDelivery delivery = spool.deliver(store, 2);
  EXPECT_TRUE(delivery.complete) << delivery.error;
  EXPECT_EQ(delivery.delivered, 5u);
  EXPECT_EQ(delivery.inserted, 5u);
  EXPECT_EQ(delivery.error, "");
  EXPECT_EQ(spool.pending_executions(), 0u);
  EXPECT_TRUE(files_in(spool_dir).empty());
  for (const auto& e : executions) {
    const auto back = store.get_execution(e.id);
    ASSERT_TRUE(back) << e.id;
    test::expect_same_execution(e, *back);
  }
}

TEST_F(SpoolTest, AFailedDeliveryKeepsTheSegmentAndARetryStoresNothingTwice) {
  Spool spool(spool_dir, 1 << 20);
  const auto first = make_executions(5, "first");
  const auto second = make_executions(3, "second");
  spool.append(pointers(first));
  spool.append(pointers(second));

  OutageStore store(db);
  store.fail_after(1);  // the first chunk of two is stored, then the server goes away
  const SpoolDelivery failed = spool.deliver(store, 2);
  EXPECT_FALSE(failed.complete);
  EXPECT_EQ(failed.delivered, 0u);
  EXPECT_EQ(failed.inserted, 2u);
  EXPECT_THAT(failed.error, HasSubstr("the server is down"));
  EXPECT_EQ(spool.pending_executions(), 8u) << "both segments stay";
  EXPECT_EQ(store.inner().count_executions({}), 2);

  store.set_down(false);
  const SpoolDelivery retried = spool.deliver(store, 2);
  EXPECT_TRUE(retried.complete) << retried.error;
  EXPECT_EQ(retried.delivered, 8u);
  EXPECT_EQ(retried.inserted, 6u) << "the two stored before are skipped";
  EXPECT_EQ(store.inner().count_executions({}), 8);
  EXPECT_EQ(spool.pending_executions(), 0u);
}

TEST_F(SpoolTest, SegmentsAreDeliveredOldestFirst) {
  Spool spool(spool_dir, 1 << 20);
  std::vector<std::vector<Execution>> batches;
  for (int i = 0; i < 4; ++i) {
    batches.push_back(make_executions(1, "batch" + std::to_string(i)));
    spool.append(pointers(batches.back()));
  }
  // A store that records the order of the batches it receives.
  OutageStore store(db);
  store.fail_after(2);
  spool.deliver(store, 10);
  store.set_down(false);
  EXPECT_TRUE(store.inner().get_execution(batches[0][0].id));
  EXPECT_TRUE(store.inner().get_execution(batches[1][0].id));
  EXPECT_FALSE(store.inner().get_execution(batches[2][0].id));
  EXPECT_FALSE(store.inner().get_execution(batches[3][0].id));
  EXPECT_EQ(spool.pending_executions(), 2u);
}

TEST_F(SpoolTest, AnUnreadableSegmentIsSetAsideAndTheOthersDelivered) {
  Spool spool(spool_dir, 1 << 20);
  const auto good = make_executions(3);
  spool.append(pointers(good));
  const fs::path bad = spool_dir / "0000000000000000001-1-0-n2.jsonl";
  {
    std::ofstream out(bad);
    out << "{\"id\": \"x\"}\nnot json\n";
  }
  storage::SqliteStore store(db.string());
  const SpoolDelivery delivery = spool.deliver(store, 100);
  EXPECT_TRUE(delivery.complete);
  EXPECT_EQ(delivery.delivered, 3u);
  EXPECT_THAT(delivery.error, HasSubstr(bad.filename().string()));
  EXPECT_THAT(delivery.error, HasSubstr("line 1"));
  EXPECT_TRUE(fs::exists(spool_dir / (bad.filename().string() + ".corrupt")));
  EXPECT_EQ(store.count_executions({}), 3);
}

TEST_F(SpoolTest, ClaimsOfLiveProcessesAreRespectedAndOfDeadOnesReleased) {
  Spool spool(spool_dir, 1 << 20);
  const auto live_claimed = make_executions(2, "live");
  const auto dead_claimed = make_executions(3, "dead");
  spool.append(pointers(live_claimed));
  spool.append(pointers(dead_claimed));
  auto files = files_in(spool_dir);
  ASSERT_EQ(files.size(), 2u);

  // A live process (a child that waits) claims the first; one that has exited the second.
  const pid_t live = ::fork();
  if (live == 0) {
    ::pause();
    ::_exit(0);
  }
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  fs::rename(files[0], files[0].string() + ".claimed-" + std::to_string(live));
  fs::rename(files[1], files[1].string() + ".claimed-" + std::to_string(dead));
  EXPECT_EQ(spool.pending_executions(), 5u) << "claimed segments still wait";

  storage::SqliteStore store(db.string());
  const SpoolDelivery delivery = spool.deliver(store, 100);
  EXPECT_EQ(delivery.delivered, 3u);
  EXPECT_FALSE(delivery.complete) << "the live process's segment is still there";
  EXPECT_TRUE(store.get_execution(dead_claimed[0].id));
  EXPECT_FALSE(store.get_execution(live_claimed[0].id));

  ::kill(live, SIGKILL);
  ASSERT_EQ(::waitpid(live, nullptr, 0), live);
  const SpoolDelivery after = spool.deliver(store, 100);
  EXPECT_TRUE(after.complete) << after.error;
  EXPECT_EQ(after.delivered, 2u);
  EXPECT_EQ(store.count_executions({}), 5);
}

TEST_F(SpoolTest, AFullSpoolRefusesTheWholeBatchSayingHowToFixIt) {
  const auto executions = make_executions(4);
  Spool probe(dir.path() / "probe", 1 << 20);
  probe.append(pointers(executions));
  const auto size = probe.pending_bytes();

  Spool spool(spool_dir, size + size / 2);
  spool.append(pointers(executions));
  try {
    spool.append(pointers(executions));
    ADD_FAILURE() << "appended beyond max_bytes";
  } catch (const storage::StorageError& e) {
    EXPECT_THAT(e.what(), HasSubstr(spool_dir.string()));
    EXPECT_THAT(e.what(), HasSubstr("KAGURA_TELEMETRY_SPOOL_MAX_MB"));
  }
  EXPECT_EQ(spool.pending_executions(), 4u);
  EXPECT_EQ(files_in(spool_dir).size(), 1u) << "no partial segment left behind";
}

TEST_F(SpoolTest, AnUnwritableDirectoryIsAClearError) {
  const fs::path file = dir.write("not-a-directory", "x");
  try {
    Spool spool(file / "spool", 1 << 20);
    ADD_FAILURE() << "created a spool under a file";
  } catch (const storage::StorageError& e) {
    EXPECT_THAT(e.what(), HasSubstr((file / "spool").string()));
    EXPECT_THAT(e.what(), HasSubstr("KAGURA_TELEMETRY_SPOOL"));
  }
}

// The pipeline

AsyncWriterOptions spooling_options(const fs::path& spool_dir) {
  AsyncWriterOptions options;
  options.max_batch = 64;
  options.flush_interval = 5ms;
  options.max_retries = 1;
  options.retry_backoff = 1ms;
  options.spool_directory = spool_dir;
  options.spool_retry_min = 10ms;
  options.spool_retry_max = 50ms;
  return options;
}

// Waits until the pipeline has nothing left in its spool, or `timeout` passes.
bool wait_for_empty_spool(const AsyncWriter& writer, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (writer.stats().spool_pending == 0) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST_F(SpoolTest, AStoreOutageInTheMiddleOfARunLosesNothing) {
  test::NoticeCapture notices;
  auto store = std::make_shared<OutageStore>(db);
  AsyncWriter writer(store, spooling_options(spool_dir));
  std::vector<std::string> ids;
  const auto submit = [&](int count) {
    for (const auto& e : make_executions(count)) {
      ids.push_back(e.id);
      writer.submit(std::make_shared<Execution>(e));
      std::this_thread::sleep_for(100us);
    }
  };
  submit(300);
  ASSERT_TRUE(writer.flush());
  store->set_down(true);
  submit(500);
  ASSERT_TRUE(writer.flush()) << "spooled executions count as done";
  PipelineStats during = writer.stats();
  EXPECT_GT(during.spooled, 0u);
  EXPECT_EQ(during.failed, 0u);
  EXPECT_EQ(during.spool_pending, during.spooled);
  EXPECT_THAT(during.last_error, HasSubstr("the server is down"));
  store->set_down(false);
  submit(200);
  ASSERT_TRUE(writer.flush());
  ASSERT_TRUE(wait_for_empty_spool(writer, 10s));
  ASSERT_TRUE(writer.flush());

  const PipelineStats after = writer.stats();
  EXPECT_EQ(after.failed, 0u);
  EXPECT_EQ(after.dropped, 0u);
  EXPECT_EQ(after.unspooled, after.spooled);
  EXPECT_EQ(after.written, 1000u);
  EXPECT_EQ(store->inner().count_executions({}), 1000);
  for (const auto& id : ids) EXPECT_TRUE(store->inner().get_execution(id)) << id;
  EXPECT_TRUE(files_in(spool_dir).empty());

  const auto messages = notices.messages();
  const auto mentions = [&](const std::string& text) {
    return std::count_if(messages.begin(), messages.end(),
                         [&](const std::string& m) { return m.find(text) != std::string::npos; });
  };
  EXPECT_EQ(mentions("kept in the spool " + spool_dir.string()), 1) << "one notice per outage";
  EXPECT_EQ(mentions("answering again"), 1);
}

TEST_F(SpoolTest, WhatOneProcessSpooledTheNextDelivers) {
  auto store = std::make_shared<OutageStore>(db);
  store->set_down(true);
  const auto executions = make_executions(150);
  {
    AsyncWriter writer(store, spooling_options(spool_dir));
    for (const auto& e : executions) writer.submit(std::make_shared<Execution>(e));
    writer.shutdown();
    EXPECT_EQ(writer.stats().spooled, 150u);
  }
  EXPECT_EQ(Spool(spool_dir, 1 << 20).pending_executions(), 150u);

  store->set_down(false);
  AsyncWriter next(store, spooling_options(spool_dir));
  ASSERT_TRUE(wait_for_empty_spool(next, 10s));
  EXPECT_EQ(next.stats().unspooled, 150u);
  EXPECT_EQ(store->inner().count_executions({}), 150);
}

TEST_F(SpoolTest, WithoutASpoolAFailedBatchIsCountedAsFailed) {
  auto store = std::make_shared<OutageStore>(db);
  store->set_down(true);
  AsyncWriterOptions options = spooling_options({});
  test::NoticeCapture notices;
  AsyncWriter writer(store, options);
  for (const auto& e : make_executions(10)) writer.submit(std::make_shared<Execution>(e));
  ASSERT_TRUE(writer.flush());
  EXPECT_EQ(writer.stats().failed, 10u);
  EXPECT_EQ(writer.stats().spooled, 0u);
}

TEST(SpoolConfig, EachStoreHasASpoolOfItsOwnUnderKaguraHome) {
  const fs::path home = "/home/someone/.kagura";
  const auto load = [&](std::map<std::string, std::string> env) {
    return config::load_telemetry_config(
        [env](std::string_view name) -> std::optional<std::string> {
          const auto it = env.find(std::string(name));
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        home);
  };
  const auto sqlite = load({}).pipeline.spool_directory;
  EXPECT_EQ(sqlite.parent_path(), home / "spool");
  EXPECT_THAT(sqlite.filename().string(), ::testing::StartsWith("sqlite-"));

  const auto pg_a = load({{"KAGURA_TELEMETRY_BACKEND", "postgresql"},
                          {"KAGURA_TELEMETRY_CONNECTION", "postgresql://a/db"}})
                        .pipeline.spool_directory;
  const auto pg_b = load({{"KAGURA_TELEMETRY_BACKEND", "postgresql"},
                          {"KAGURA_TELEMETRY_CONNECTION", "postgresql://b/db"}})
                        .pipeline.spool_directory;
  EXPECT_THAT(pg_a.filename().string(), ::testing::StartsWith("postgresql-"));
  EXPECT_NE(pg_a, pg_b) << "executions for one server must never go to another";
  EXPECT_EQ(pg_a, load({{"KAGURA_TELEMETRY_BACKEND", "postgresql"},
                        {"KAGURA_TELEMETRY_CONNECTION", "postgresql://a/db"}})
                      .pipeline.spool_directory)
      << "stable, so that the next process finds it";

  EXPECT_TRUE(load({{"KAGURA_TELEMETRY_CONNECTION", ":memory:"}}).pipeline.spool_directory.empty());
  EXPECT_TRUE(load({{"KAGURA_TELEMETRY_SPOOL", "off"}}).pipeline.spool_directory.empty());
  EXPECT_EQ(load({{"KAGURA_TELEMETRY_SPOOL", "/var/spool/kagura"}}).pipeline.spool_directory,
            fs::path("/var/spool/kagura"));
  EXPECT_EQ(load({{"KAGURA_TELEMETRY_SPOOL_MAX_MB", "5"}}).pipeline.spool_max_bytes,
            5u * 1024 * 1024);
  EXPECT_THROW(load({{"KAGURA_TELEMETRY_SPOOL_MAX_MB", "lots"}}), config::ConfigError);
}

}  // namespace
}  // namespace kagura::pipeline
