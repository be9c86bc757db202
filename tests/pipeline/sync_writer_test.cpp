#include "kagura/pipeline/sync_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::pipeline {
namespace {

using namespace std::chrono_literals;
using kagura::test::NoticeCapture;
using kagura::test::TempDir;
using telemetry::Execution;

std::shared_ptr<Execution> make_execution() {
  auto e = std::make_shared<Execution>();
  e->id = telemetry::new_execution_id();
  e->trace_id = e->id;
  e->agent_name = "agent";
  e->started_at = telemetry::unix_now();
  e->duration = 0.01;
  e->ended_at = e->started_at + 0.01;
  e->status = telemetry::ExecutionStatus::completed;
  return e;
}

// Keeps the ids it saved; can be told to fail, or to take its time.
class FakeStore : public storage::StorageAdapter {
 public:
  std::string backend_name() const override { return "fakebackend"; }
  std::string location() const override { return "test://fake"; }
  std::size_t save_executions(std::span<const Execution* const> batch) override {
    std::this_thread::sleep_for(delay);
    std::lock_guard lock(mutex_);
    ++calls_;
    if (failing) throw storage::StoreUnreachableError("fake store is down");
    std::size_t inserted = 0;
    for (const Execution* e : batch) inserted += ids_.insert(e->id).second ? 1 : 0;
    return inserted;
  }
  void require_durable_commits() override { durable_requested = true; }
  std::optional<Execution> get_execution(std::string_view) override { return std::nullopt; }
  std::vector<Execution> get_executions(const storage::ExecutionQuery&) override { return {}; }
  std::int64_t count_executions(const storage::ExecutionFilter&) override { return 0; }
  storage::SummaryStats get_summary_stats(const storage::ExecutionFilter&) override { return {}; }
  std::vector<storage::CostGroup> get_cost_breakdown(storage::CostGrouping,
                                                     const storage::ExecutionFilter&) override {
    return {};
  }
  std::size_t delete_old_executions(double) override { return 0; }
  void clear_all() override {}

  bool has(const std::string& id) {
    std::lock_guard lock(mutex_);
    return ids_.contains(id);
  }
  std::size_t stored() {
    std::lock_guard lock(mutex_);
    return ids_.size();
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  std::atomic<bool> failing{false};
  std::atomic<bool> durable_requested{false};
  std::chrono::milliseconds delay{0};

 private:
  std::mutex mutex_;
  std::set<std::string> ids_;
  int calls_ = 0;
};

AsyncWriterOptions fast_options(const std::filesystem::path& spool = {}) {
  AsyncWriterOptions options;
  options.max_retries = 1;
  options.retry_backoff = 1ms;
  options.spool_directory = spool;
  options.spool_retry_min = 20ms;
  options.spool_retry_max = 100ms;
  return options;
}

bool wait_until(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

TEST(SyncWriter, ReturnsOnlyOnceTheExecutionIsStored) {
  auto store = std::make_shared<FakeStore>();
  SyncWriter writer(store, fast_options());
  EXPECT_TRUE(store->durable_requested) << "asks the store for commits that survive power loss";
  for (int i = 0; i < 5; ++i) {
    const auto e = make_execution();
    writer.submit(e);
    EXPECT_TRUE(store->has(e->id)) << "submit() returned before the execution was stored";
  }
  const auto stats = writer.stats();
  EXPECT_EQ(stats.queued, 5u);
  EXPECT_EQ(stats.written, 5u);
  EXPECT_EQ(stats.pending, 0u);
  EXPECT_EQ(stats.failed, 0u);
}

TEST(SyncWriter, ConcurrentCallersShareCommits) {
  auto store = std::make_shared<FakeStore>();
  store->delay = 10ms;
  SyncWriter writer(store, fast_options());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        const auto e = make_execution();
        writer.submit(e);
        EXPECT_TRUE(store->has(e->id));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store->stored(), 80u);
  EXPECT_EQ(writer.stats().written, 80u);
  // One commit per call would be 80; callers arriving during a commit share the next one.
  EXPECT_LT(store->calls(), 60) << "no group commit";
}

TEST(SyncWriter, AFailingStoreSpoolsBeforeReturningAndGetsEverythingWhenBack) {
  TempDir dir{"kagura_sync_writer"};
  auto store = std::make_shared<FakeStore>();
  store->failing = true;
  NoticeCapture notices;
  SyncWriter writer(store, fast_options(dir.path() / "spool"));
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    const auto e = make_execution();
    writer.submit(e);
    ids.push_back(e->id);
    // Durable on return: in the spool already, since the store refused it.
    EXPECT_EQ(writer.stats().spooled + writer.stats().written, ids.size());
  }
  auto stats = writer.stats();
  EXPECT_EQ(stats.spooled, 6u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.spool_pending, 6u);
  EXPECT_NE(stats.last_error.find("fake store is down"), std::string::npos);
  EXPECT_EQ(notices.count_containing("kept in the spool"), 1u) << "one notice per outage";

  store->failing = false;
  ASSERT_TRUE(wait_until([&] { return writer.stats().spool_pending == 0; }))
      << writer.stats().last_error;
  for (const auto& id : ids) EXPECT_TRUE(store->has(id)) << id;
  stats = writer.stats();
  EXPECT_EQ(stats.unspooled, 6u);
  EXPECT_EQ(stats.written, 6u);
  // The notice follows the delivery it reports.
  EXPECT_TRUE(wait_until([&] { return notices.count_containing("answering again") > 0; }));
  EXPECT_EQ(notices.count_containing("answering again"), 1u);
  // Back online: the next execution goes straight to the store.
  const auto e = make_execution();
  writer.submit(e);
  EXPECT_TRUE(store->has(e->id));
  EXPECT_EQ(writer.stats().spooled, 6u);
}

TEST(SyncWriter, WithoutASpoolFailuresAreCountedAndReportedOnce) {
  auto store = std::make_shared<FakeStore>();
  store->failing = true;
  NoticeCapture notices;
  SyncWriter writer(store, fast_options());
  for (int i = 0; i < 3; ++i) writer.submit(make_execution());  // never throws
  const auto stats = writer.stats();
  EXPECT_EQ(stats.failed, 3u);
  EXPECT_EQ(stats.written, 0u);
  EXPECT_EQ(notices.count_containing("failed to write"), 1u);
  EXPECT_NE(stats.last_error.find("fake store is down"), std::string::npos);
}

}  // namespace
}  // namespace kagura::pipeline
