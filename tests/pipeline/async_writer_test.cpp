#include "kagura/pipeline/async_writer.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kagura/pricing/price_table.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/collector.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::pipeline {
namespace {

using namespace std::chrono_literals;
using kagura::test::NoticeCapture;
using telemetry::Execution;

// Long enough that the writer's timer never fires during a test: whatever gets written, gets
// written because of a full batch, flush() or shutdown.
constexpr auto kNever = std::chrono::hours(1);
// A bound on waits that only time out when the code under test is broken.
constexpr auto kGenerous = std::chrono::seconds(10);

std::shared_ptr<Execution> make_execution(std::string agent = "agent",
                                          std::string id = telemetry::new_execution_id()) {
  auto e = std::make_shared<Execution>();
  e->id = std::move(id);
  e->trace_id = e->id;
  e->agent_name = std::move(agent);
  e->started_at = telemetry::unix_now();
  e->duration = 0.01;
  e->ended_at = e->started_at + 0.01;
  e->status = telemetry::ExecutionStatus::completed;
  return e;
}

// A store that keeps the ids it saved, in order, and the size of every batch. Subclasses make
// save_executions() block or fail.
class FakeStore : public storage::StorageAdapter {
 public:
  std::string backend_name() const override { return "fakebackend"; }
  std::string location() const override { return "test://fake-location"; }
  // Makes the pipeline prepare batches for this store in pieces (default preparation).
  void prepare_in_pieces() { in_pieces_ = true; }
  bool prepares_in_pieces() const override { return in_pieces_; }

  std::size_t save_executions(std::span<const Execution* const> batch) override {
    {
      std::lock_guard lock(mutex_);
      ++attempts_;
    }
    before_save();
    std::lock_guard lock(mutex_);
    std::size_t inserted = 0;
    for (const Execution* e : batch) {
      if (ids_.insert(e->id).second) {
        order_.push_back(e->id);
        ++inserted;
      }
    }
    batch_sizes_.push_back(batch.size());
    return inserted;
  }
  std::optional<Execution> get_execution(std::string_view) override { return std::nullopt; }
  std::vector<Execution> get_executions(const storage::ExecutionQuery&) override { return {}; }
  std::int64_t count_executions(const storage::ExecutionFilter&) override {
    std::lock_guard lock(mutex_);
    return static_cast<std::int64_t>(order_.size());
  }
  storage::SummaryStats get_summary_stats(const storage::ExecutionFilter&) override { return {}; }
  std::vector<storage::CostGroup> get_cost_breakdown(storage::CostGrouping,
                                                     const storage::ExecutionFilter&) override {
    return {};
  }
  std::size_t delete_old_executions(double) override { return 0; }
  void clear_all() override {}

  std::vector<std::string> saved_ids() const {
    std::lock_guard lock(mutex_);
    return order_;
  }
  std::vector<std::size_t> batch_sizes() const {
    std::lock_guard lock(mutex_);
    return batch_sizes_;
  }
  int attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }

 protected:
  virtual void before_save() {}

 private:
  mutable std::mutex mutex_;
  std::atomic<bool> in_pieces_{false};
  int attempts_ = 0;
  std::set<std::string> ids_;
  std::vector<std::string> order_;
  std::vector<std::size_t> batch_sizes_;
};

// Blocks every save until open() is called.
class GateStore final : public FakeStore {
 public:
  ~GateStore() override { open(); }

  void open() {
    std::lock_guard lock(gate_mutex_);
    open_ = true;
    gate_.notify_all();
  }
  // Waits until `n` saves have reached the gate; false if that did not happen in time.
  bool wait_entered(int n) {
    std::unique_lock lock(gate_mutex_);
    return gate_.wait_for(lock, kGenerous, [&] { return entered_ >= n; });
  }

 protected:
  void before_save() override {
    std::unique_lock lock(gate_mutex_);
    ++entered_;
    gate_.notify_all();
    gate_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex gate_mutex_;
  std::condition_variable gate_;
  int entered_ = 0;
  bool open_ = false;
};

// Fails the first `failures` saves, then works.
class FlakyStore final : public FakeStore {
 public:
  explicit FlakyStore(int failures) : failures_left_(failures) {}

 protected:
  void before_save() override {
    std::lock_guard lock(mutex_);
    if (failures_left_ > 0) {
      --failures_left_;
      throw storage::StorageError("database is locked");
    }
  }

 private:
  std::mutex mutex_;
  int failures_left_;
};

class FailingStore final : public FakeStore {
 protected:
  void before_save() override { throw std::runtime_error("disk full"); }
};

// Prepares batches in pieces (BatchDestination::prepares_in_pieces), as the SQLite store does,
// and keeps the size of each piece; prepare_more() can be made to fail.
class PieceStore final : public FakeStore {
 public:
  PieceStore() { prepare_in_pieces(); }
  std::unique_ptr<PreparedBatch> prepare(
      std::vector<std::shared_ptr<const Execution>> batch) override {
    note_piece(batch.size());
    return FakeStore::prepare(std::move(batch));
  }
  void prepare_more(PreparedBatch& batch,
                    std::vector<std::shared_ptr<const Execution>> more) override {
    note_piece(more.size());
    if (fail_more_) throw std::runtime_error("out of buffer space");
    FakeStore::prepare_more(batch, std::move(more));
  }

  void fail_more() { fail_more_ = true; }
  std::vector<std::size_t> pieces() const {
    std::lock_guard lock(pieces_mutex_);
    return pieces_;
  }
  // Waits until `n` executions have been prepared; false if that did not happen in time.
  bool wait_prepared(std::size_t n) {
    std::unique_lock lock(pieces_mutex_);
    return prepared_.wait_for(lock, kGenerous, [&] {
      std::size_t total = 0;
      for (auto size : pieces_) total += size;
      return total >= n;
    });
  }

 private:
  void note_piece(std::size_t size) {
    std::lock_guard lock(pieces_mutex_);
    pieces_.push_back(size);
    prepared_.notify_all();
  }
  mutable std::mutex pieces_mutex_;
  std::condition_variable prepared_;
  std::vector<std::size_t> pieces_;
  std::atomic<bool> fail_more_{false};
};

AsyncWriterOptions quiet_options() {
  AsyncWriterOptions options;
  options.flush_interval = kNever;
  options.retry_backoff = 1ms;
  return options;
}

TEST(AsyncWriterTest, FlushWaitsUntilEverythingSubmittedIsWritten) {
  auto store = std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  AsyncWriter writer(store, quiet_options());
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) {
    auto e = make_execution("agent-" + std::to_string(i % 3));
    ids.push_back(e->id);
    writer.submit(e);
  }
  ASSERT_TRUE(writer.flush(kGenerous));
  EXPECT_EQ(store->count_executions({}), 250);
  const auto first = store->get_execution(ids.front());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->agent_name, "agent-0");

  const PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.queued, 250U);
  EXPECT_EQ(stats.written, 250U);
  EXPECT_EQ(stats.pending, 0U);
  EXPECT_EQ(stats.dropped, 0U);
  EXPECT_EQ(stats.failed, 0U);
  EXPECT_EQ(stats.duplicates, 0U);
  EXPECT_GE(stats.batches, 1U);
  EXPECT_TRUE(stats.last_error.empty());
}

TEST(AsyncWriterTest, FlushWithNothingPendingReturnsTrueAtOnce) {
  auto store = std::make_shared<FakeStore>();
  AsyncWriter writer(store, quiet_options());
  EXPECT_TRUE(writer.flush(0ms));
  writer.submit(nullptr);  // ignored
  EXPECT_TRUE(writer.flush(0ms));
  EXPECT_EQ(writer.stats().queued, 0U);
}

TEST(AsyncWriterTest, BatchesRespectMaxBatch) {
  auto store = std::make_shared<GateStore>();
  AsyncWriterOptions options = quiet_options();
  options.max_batch = 3;
  AsyncWriter writer(store, options);
  writer.submit(make_execution());
  writer.flush(0ms);  // wakes the writer without waiting for it
  ASSERT_TRUE(store->wait_entered(1));
  // Ten more queue up behind the blocked first batch.
  for (int i = 0; i < 10; ++i) writer.submit(make_execution());
  EXPECT_EQ(writer.stats().pending, 11U);
  store->open();
  ASSERT_TRUE(writer.flush(kGenerous));

  EXPECT_EQ(store->batch_sizes(), (std::vector<std::size_t>{1, 3, 3, 3, 1}));
  const PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.batches, 5U);
  EXPECT_EQ(stats.written, 11U);
  EXPECT_EQ(stats.pending, 0U);
}

TEST(AsyncWriterTest, ADestinationPreparingInPiecesGetsOneBatchPerTransaction) {
  auto store = std::make_shared<PieceStore>();
  AsyncWriterOptions options = quiet_options();
  options.max_batch = 1000;
  AsyncWriter writer(store, options);
  // 256 queued executions start a piece without waiting for a full batch or the timer.
  for (int i = 0; i < 256; ++i) writer.submit(make_execution());
  ASSERT_TRUE(store->wait_prepared(256));
  EXPECT_TRUE(store->batch_sizes().empty()) << "a part batch waits for more";
  for (int i = 0; i < 50; ++i) writer.submit(make_execution());
  ASSERT_TRUE(writer.flush(kGenerous));

  EXPECT_EQ(store->pieces(), (std::vector<std::size_t>{256, 50}));
  EXPECT_EQ(store->batch_sizes(), (std::vector<std::size_t>{306}));
  EXPECT_EQ(writer.stats().written, 306U);
  EXPECT_EQ(writer.stats().batches, 1U);
}

TEST(AsyncWriterTest, APartBatchPreparedInPiecesIsWrittenAfterTheFlushInterval) {
  auto store = std::make_shared<PieceStore>();
  AsyncWriterOptions options = quiet_options();
  options.flush_interval = 20ms;
  AsyncWriter writer(store, options);
  for (int i = 0; i < 10; ++i) writer.submit(make_execution());
  const auto deadline = std::chrono::steady_clock::now() + kGenerous;
  while (writer.stats().written < 10U && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(writer.stats().written, 10U) << "no flush() was called: the timer must send it";
  EXPECT_EQ(store->batch_sizes(), (std::vector<std::size_t>{10}));
}

TEST(AsyncWriterTest, APieceThatFailsToPrepareFailsItsBatchWithANotice) {
  NoticeCapture notices;
  auto store = std::make_shared<PieceStore>();
  store->fail_more();
  AsyncWriterOptions options = quiet_options();
  options.max_batch = 1000;
  AsyncWriter writer(store, options);
  for (int i = 0; i < 256; ++i) writer.submit(make_execution());
  ASSERT_TRUE(store->wait_prepared(256));
  for (int i = 0; i < 64; ++i) writer.submit(make_execution());
  ASSERT_TRUE(writer.flush(kGenerous));

  const PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.failed, 320U) << "the piece prepared before fails with the batch";
  EXPECT_EQ(stats.written, 0U);
  EXPECT_EQ(stats.pending, 0U);
  EXPECT_TRUE(store->batch_sizes().empty());
  EXPECT_NE(stats.last_error.find("out of buffer space"), std::string::npos) << stats.last_error;
  ASSERT_EQ(notices.messages().size(), 1U);
  EXPECT_NE(notices.messages().front().find("320 executions, which could not be prepared"),
            std::string::npos)
      << notices.messages().front();

  // The pipeline goes on with the next batch.
  for (int i = 0; i < 5; ++i) writer.submit(make_execution());
  ASSERT_TRUE(writer.flush(kGenerous));
  EXPECT_EQ(writer.stats().written, 5U);
}

TEST(AsyncWriterTest, ResubmittedIdsAreCountedAsDuplicates) {
  auto store = std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  AsyncWriter writer(store, quiet_options());
  auto original = make_execution("dup");
  writer.submit(original);
  ASSERT_TRUE(writer.flush(kGenerous));

  writer.submit(original);                             // the same record again
  writer.submit(make_execution("dup", original->id));  // another record with its id
  auto fresh = make_execution("fresh");
  writer.submit(fresh);
  writer.submit(fresh);  // twice in one batch
  ASSERT_TRUE(writer.flush(kGenerous));

  EXPECT_EQ(store->count_executions({}), 2);
  const PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.queued, 5U);
  EXPECT_EQ(stats.written, 2U);
  EXPECT_EQ(stats.duplicates, 3U);
  EXPECT_EQ(stats.failed, 0U);
  EXPECT_EQ(stats.pending, 0U);
}

// Fills a capacity-2 queue behind a store that is blocked writing the first execution; returns
// the ids submitted, in order.
std::vector<std::string> overfill(AsyncWriter& writer, GateStore& store) {
  std::vector<std::string> ids;
  auto first = make_execution("e0");
  ids.push_back(first->id);
  writer.submit(first);
  writer.flush(0ms);  // wakes the writer without waiting
  EXPECT_TRUE(store.wait_entered(1));
  for (int i = 1; i <= 4; ++i) {
    auto e = make_execution("e" + std::to_string(i));
    ids.push_back(e->id);
    writer.submit(e);
  }
  return ids;
}

// Overfills a capacity-2 queue under a dropping `policy` (see overfill): two of the five
// executions are dropped and only the first drop is announced, by a notice naming the policy
// (`policy_name`). `queued` is what the stats count as queued while the store is blocked;
// `kept` are the indices of the submitted executions that get written, in order.
void expect_drops_two_of_five(OverflowPolicy policy, std::string_view policy_name,
                              std::uint64_t queued, const std::vector<std::size_t>& kept,
                              bool in_pieces = false) {
  NoticeCapture notices;
  auto store = std::make_shared<GateStore>();
  if (in_pieces) store->prepare_in_pieces();
  AsyncWriterOptions options = quiet_options();
  options.queue_capacity = 2;
  options.overflow = policy;
  AsyncWriter writer(store, options);
  const auto ids = overfill(writer, *store);

  PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.queued, queued);
  EXPECT_EQ(stats.dropped, 2U);
  EXPECT_EQ(stats.pending, 3U) << "dropped executions are not pending";

  store->open();
  ASSERT_TRUE(writer.flush(kGenerous));
  std::vector<std::string> kept_ids;
  for (const std::size_t i : kept) kept_ids.push_back(ids.at(i));
  EXPECT_EQ(store->saved_ids(), kept_ids);
  stats = writer.stats();
  EXPECT_EQ(stats.written, 3U);
  EXPECT_EQ(stats.dropped, 2U);
  EXPECT_EQ(stats.pending, 0U);

  EXPECT_EQ(notices.count_containing("queue full"), 1U) << "only the first drop is announced";
  EXPECT_EQ(notices.count_containing(policy_name), 1U);
  EXPECT_EQ(notices.messages().size(), 1U);
}

TEST(AsyncWriterTest, DropNewestKeepsTheOldestAndWarnsOnce) {
  expect_drops_two_of_five(OverflowPolicy::drop_newest, "drop_newest", 3, {0, 1, 2});
}

TEST(AsyncWriterTest, DropOldestKeepsTheNewestAndWarnsOnce) {
  // The evicted executions were queued before they were dropped.
  expect_drops_two_of_five(OverflowPolicy::drop_oldest, "drop_oldest", 5, {0, 3, 4});
}

TEST(AsyncWriterTest, DropsCountTheSameWhenBatchesArePreparedInPieces) {
  expect_drops_two_of_five(OverflowPolicy::drop_newest, "drop_newest", 3, {0, 1, 2}, true);
  expect_drops_two_of_five(OverflowPolicy::drop_oldest, "drop_oldest", 5, {0, 3, 4}, true);
}

TEST(AsyncWriterTest, BlockPolicyMakesSubmitWaitForRoom) {
  NoticeCapture notices;
  auto store = std::make_shared<GateStore>();
  AsyncWriterOptions options = quiet_options();
  options.queue_capacity = 1;
  options.overflow = OverflowPolicy::block;
  AsyncWriter writer(store, options);

  auto e0 = make_execution("e0");
  writer.submit(e0);
  writer.flush(0ms);
  ASSERT_TRUE(store->wait_entered(1));
  auto e1 = make_execution("e1");
  writer.submit(e1);  // fills the queue
  auto e2 = make_execution("e2");

  std::promise<void> about_to_submit;
  auto submitted = std::async(std::launch::async, [&] {
    about_to_submit.set_value();
    writer.submit(e2);
  });
  about_to_submit.get_future().wait();
  // The queue stays full while the store is blocked, so the submit cannot return: this holds
  // however long we look; looking for a while only makes a non-blocking submit likelier to show.
  EXPECT_EQ(submitted.wait_for(100ms), std::future_status::timeout);
  PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.queued, 2U);
  EXPECT_EQ(stats.dropped, 0U);

  store->open();
  ASSERT_EQ(submitted.wait_for(kGenerous), std::future_status::ready)
      << "a blocked submit continues once the writer makes room";
  submitted.get();
  ASSERT_TRUE(writer.flush(kGenerous));
  EXPECT_EQ(store->saved_ids(), (std::vector<std::string>{e0->id, e1->id, e2->id}));
  stats = writer.stats();
  EXPECT_EQ(stats.queued, 3U);
  EXPECT_EQ(stats.written, 3U);
  EXPECT_EQ(stats.dropped, 0U);
  EXPECT_TRUE(notices.messages().empty()) << "blocking loses nothing, so there is nothing to say";
}

// A queue smaller than a batch: a full queue must be written without waiting for the timer
// (one hour here), or a blocked agent would wait that long.
void expect_a_full_queue_is_written_at_once(const std::shared_ptr<FakeStore>& store,
                                            std::size_t capacity = 2, int executions = 20) {
  AsyncWriterOptions options = quiet_options();
  options.queue_capacity = capacity;
  options.max_batch = 1024;
  options.overflow = OverflowPolicy::block;
  AsyncWriter writer(store, options);

  auto done = std::async(std::launch::async, [&] {
    for (int i = 0; i < executions; ++i) writer.submit(make_execution());
  });
  const auto status = done.wait_for(kGenerous);
  EXPECT_EQ(status, std::future_status::ready) << "submit stayed blocked on a full queue";
  while (done.wait_for(10ms) != std::future_status::ready) writer.flush(0ms);  // unblock it
  ASSERT_TRUE(writer.flush(kGenerous));
  EXPECT_EQ(store->count_executions({}), executions);
  EXPECT_EQ(writer.stats().dropped, 0U);
}

TEST(AsyncWriterTest, BlockPolicyWakesTheWriterWhenTheQueueIsFull) {
  expect_a_full_queue_is_written_at_once(std::make_shared<FakeStore>());
}

TEST(AsyncWriterTest, BlockPolicyWakesTheWriterWhenTheQueueIsFullOfPieces) {
  expect_a_full_queue_is_written_at_once(std::make_shared<PieceStore>());
  // A queue larger than a piece and smaller than a batch: the last piece is not a full one.
  expect_a_full_queue_is_written_at_once(std::make_shared<PieceStore>(), 300, 1000);
}

TEST(AsyncWriterTest, BlockPolicyLosesNothingUnderConcurrentLoad) {
  auto store = std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  AsyncWriterOptions options = quiet_options();
  options.queue_capacity = 64;
  options.max_batch = 32;
  options.overflow = OverflowPolicy::block;
  AsyncWriter writer(store, options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) writer.submit(make_execution());
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(writer.flush(kGenerous));
  EXPECT_EQ(store->count_executions({}), 2000);
  const PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.queued, 2000U);
  EXPECT_EQ(stats.written, 2000U);
  EXPECT_EQ(stats.dropped, 0U);
}

TEST(AsyncWriterTest, RetriesAfterFailuresThenSucceeds) {
  NoticeCapture notices;
  auto store = std::make_shared<FlakyStore>(2);
  AsyncWriterOptions options = quiet_options();
  options.max_retries = 3;
  AsyncWriter writer(store, options);
  for (int i = 0; i < 4; ++i) writer.submit(make_execution());
  ASSERT_TRUE(writer.flush(kGenerous));

  EXPECT_EQ(store->attempts(), 3) << "two failures, then success";
  EXPECT_EQ(store->count_executions({}), 4);
  const PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.written, 4U);
  EXPECT_EQ(stats.failed, 0U);
  EXPECT_EQ(stats.batches, 1U);
  EXPECT_EQ(stats.pending, 0U);
  EXPECT_TRUE(notices.messages().empty()) << "a batch that got written is no failure";
}

TEST(AsyncWriterTest, AlwaysFailingStoreCountsFailuresAndNamesTheBackend) {
  NoticeCapture notices;
  auto store = std::make_shared<FailingStore>();
  AsyncWriterOptions options = quiet_options();
  options.max_retries = 2;
  AsyncWriter writer(store, options);
  for (int i = 0; i < 3; ++i) writer.submit(make_execution());
  ASSERT_TRUE(writer.flush(kGenerous)) << "a failed batch is done with, not pending";

  EXPECT_EQ(store->attempts(), 3) << "one attempt and two retries";
  PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.failed, 3U);
  EXPECT_EQ(stats.written, 0U);
  EXPECT_EQ(stats.batches, 0U);
  EXPECT_EQ(stats.pending, 0U);
  EXPECT_NE(stats.last_error.find("disk full"), std::string::npos) << stats.last_error;

  ASSERT_EQ(notices.messages().size(), 1U);
  const std::string notice = notices.messages().front();
  EXPECT_NE(notice.find("fakebackend"), std::string::npos) << notice;
  EXPECT_NE(notice.find("test://fake-location"), std::string::npos) << notice;
  EXPECT_NE(notice.find("disk full"), std::string::npos) << notice;

  writer.submit(make_execution());
  ASSERT_TRUE(writer.flush(kGenerous));
  stats = writer.stats();
  EXPECT_EQ(stats.failed, 4U);
  EXPECT_EQ(notices.messages().size(), 2U) << "every failed batch is announced";
}

TEST(AsyncWriterTest, FlushTimesOutWhileTheStoreIsBlocked) {
  auto store = std::make_shared<GateStore>();
  AsyncWriter writer(store, quiet_options());
  writer.submit(make_execution());
  EXPECT_FALSE(writer.flush(20ms));
  ASSERT_TRUE(store->wait_entered(1));
  EXPECT_FALSE(writer.flush(20ms));
  EXPECT_EQ(writer.stats().pending, 1U);
  store->open();
  EXPECT_TRUE(writer.flush(kGenerous));
  EXPECT_EQ(writer.stats().pending, 0U);
  EXPECT_EQ(writer.stats().written, 1U);
}

TEST(AsyncWriterTest, ShutdownWritesWhatWasQueuedAndDropsLaterSubmissions) {
  NoticeCapture notices;
  auto store = std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  AsyncWriter writer(store, quiet_options());
  for (int i = 0; i < 5; ++i) writer.submit(make_execution());
  writer.shutdown(kGenerous);
  EXPECT_EQ(store->count_executions({}), 5);

  writer.submit(make_execution());
  writer.submit(make_execution());
  const PipelineStats stats = writer.stats();
  EXPECT_EQ(stats.queued, 5U);
  EXPECT_EQ(stats.written, 5U);
  EXPECT_EQ(stats.dropped, 2U);
  EXPECT_EQ(stats.pending, 0U);
  EXPECT_EQ(store->count_executions({}), 5);
  EXPECT_EQ(notices.messages().size(), 1U) << "the first drop is announced";
  EXPECT_TRUE(writer.flush(0ms));
  writer.shutdown();  // a second shutdown is harmless
}

TEST(AsyncWriterTest, DestructorWritesWhatIsQueued) {
  auto store = std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  {
    AsyncWriter writer(store, quiet_options());
    for (int i = 0; i < 7; ++i) writer.submit(make_execution());
  }
  EXPECT_EQ(store->count_executions({}), 7);
}

TEST(AsyncWriterTest, ReleasingWriterAndCollectorWritesQueuedExecutions) {
  // A collector's finished executions wait in the writer's queue. When the program lets go of
  // the writer and the collector, the writer must still be destroyed (and so write them) on
  // the program's thread, not kept alive by its own queue.
  auto store = std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory);
  std::weak_ptr<AsyncWriter> weak_writer;
  {
    auto writer = std::make_shared<AsyncWriter>(store, quiet_options());
    weak_writer = writer;
    telemetry::Collector collector(
        writer, std::make_shared<const pricing::PriceTable>(pricing::PriceTable::builtin()));
    for (int i = 0; i < 3; ++i) {
      auto scope = collector.track_execution("released");
      scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 10, .completion_tokens = 5});
    }
  }
  EXPECT_TRUE(weak_writer.expired()) << "the queued executions keep the writer alive";
  EXPECT_EQ(store->count_executions({}), 3);
}

// Records the nice value of the thread that saves.
class NicenessStore final : public FakeStore {
 public:
  std::vector<int> save_niceness() const {
    std::lock_guard lock(mutex_);
    return niceness_;
  }

 protected:
  void before_save() override {
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    std::lock_guard lock(mutex_);
    niceness_.push_back(nice);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<int> niceness_;
};

TEST(AsyncWriterTest, PipelineThreadsRunAtTheConfiguredLowerPriority) {
  const int ours = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  for (const int niceness : {0, 5}) {
    auto store = std::make_shared<NicenessStore>();
    auto options = quiet_options();
    options.thread_niceness = niceness;
    AsyncWriter writer(store, options);
    writer.submit(make_execution("agent"));
    ASSERT_TRUE(writer.flush(kGenerous));
    ASSERT_FALSE(store->save_niceness().empty());
    EXPECT_EQ(store->save_niceness().front(), std::min(19, ours + niceness))
        << "thread_niceness " << niceness;
  }
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))), ours)
      << "the agent's own thread keeps its priority";
}

TEST(AsyncWriterTest, RejectsBadConstruction) {
  auto store = std::make_shared<FakeStore>();
  AsyncWriterOptions zero_capacity;
  zero_capacity.queue_capacity = 0;
  EXPECT_THROW(AsyncWriter(store, zero_capacity), std::invalid_argument);
  AsyncWriterOptions zero_batch;
  zero_batch.max_batch = 0;
  EXPECT_THROW(AsyncWriter(store, zero_batch), std::invalid_argument);
  EXPECT_THROW(AsyncWriter(nullptr), std::invalid_argument);
}

TEST(AsyncWriterTest, OverflowPolicyNamesRoundTrip) {
  for (auto policy :
       {OverflowPolicy::drop_newest, OverflowPolicy::drop_oldest, OverflowPolicy::block}) {
    EXPECT_EQ(parse_overflow_policy(to_string(policy)), policy);
  }
  try {
    parse_overflow_policy("sometimes");
    FAIL() << "accepted an unknown policy";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("sometimes"), std::string::npos);
    EXPECT_NE(message.find("drop_newest"), std::string::npos);
    EXPECT_NE(message.find("block"), std::string::npos);
  }
}

}  // namespace
}  // namespace kagura::pipeline
