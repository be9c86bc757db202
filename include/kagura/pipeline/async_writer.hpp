#pragma once

// The asynchronous pipeline between agents and a store: a finished execution is put on a bounded
// queue by the agent's thread and written in batches, one transaction per batch, by two
// background threads: one prepares a batch (the store's serialisation, see
// BatchDestination::prepare; in pieces of a few hundred executions as they arrive, where the
// store can) while the other writes the previous one, so the database never waits for the CPU
// work. The agent's thread never waits on the store.
//
// When queue_capacity executions are waiting (queued, or serialised for the writer), the
// overflow policy decides, and whatever it decides is counted:
//   drop_newest (default)  the execution being submitted is dropped; the agent never waits;
//   drop_oldest            the oldest waiting execution is dropped to make room;
//   block                  the agent's thread waits for room (use when no loss is acceptable).
// The first drop, and every failed batch, raise a notice (see notice.hpp), so nothing is
// dropped silently.
//
// With a spool directory (the default of the global telemetry, see spool.hpp), a batch the
// store still refuses after its retries is written to the local spool instead of being lost,
// and so is every later batch until the store answers again; the writer then delivers the
// spool, retrying with a doubling delay, and goes back to writing directly. Spooled executions
// survive the process: the next process using the same spool delivers them.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kagura/pipeline/batch_destination.hpp"
#include "kagura/pipeline/spool.hpp"
#include "kagura/telemetry/sink.hpp"

namespace kagura::pipeline {

enum class OverflowPolicy { drop_newest, drop_oldest, block };

std::string_view to_string(OverflowPolicy policy) noexcept;
// Throws std::invalid_argument naming the accepted values.
OverflowPolicy parse_overflow_policy(std::string_view text);

struct AsyncWriterOptions {
  // Executions waiting to be written (queued or prepared); the batch being written is extra.
  // A queued execution holds about 2.5 KB (one LLM, tool and memory event each), so the
  // default bounds the queue near 20 MB while absorbing bursts of several thousand.
  std::size_t queue_capacity = 8192;
  // Executions per transaction: larger batches rewrite the same tail pages less often.
  std::size_t max_batch = 4096;
  // How long a partly filled batch may wait before it is written.
  std::chrono::milliseconds flush_interval{200};
  OverflowPolicy overflow = OverflowPolicy::drop_newest;
  // A failed batch is retried this many times, with doubling backoff, before it is counted
  // as failed. A batch the destination rejects for good (RejectedBatchError) is neither
  // retried nor spooled.
  int max_retries = 3;
  std::chrono::milliseconds retry_backoff{50};
  // Nice value of the pipeline's threads (Linux: per thread). When the agents keep every core
  // busy, the scheduler then gives them the CPU first and telemetry catches up when they
  // wait, as agents waiting on an LLM mostly do. 0 runs the threads at the agents' priority.
  int thread_niceness = 10;
  // Where executions wait while the store cannot take them; empty: no spool, and a batch
  // that fails after its retries is counted as failed.
  std::filesystem::path spool_directory;
  std::uint64_t spool_max_bytes = std::uint64_t{1} << 30;
  // Delivery from the spool is retried after spool_retry_min, doubling up to spool_retry_max.
  std::chrono::milliseconds spool_retry_min{250};
  std::chrono::milliseconds spool_retry_max{std::chrono::seconds(30)};
};

struct PipelineStats {
  std::uint64_t queued = 0;         // accepted onto the queue
  std::uint64_t written = 0;        // stored by the backend
  std::uint64_t duplicates = 0;     // already stored (same id), skipped
  std::uint64_t dropped = 0;        // refused or evicted by the overflow policy
  std::uint64_t failed = 0;         // given up after retries (and not spooled)
  std::uint64_t spooled = 0;        // put in the spool by this writer because the store failed
  std::uint64_t unspooled = 0;      // delivered from the spool to the store by this writer
  std::uint64_t spool_pending = 0;  // waiting in the spool directory, from any process
  std::uint64_t batches = 0;        // transactions committed
  std::uint64_t pending = 0;        // queued or being written right now
  std::string last_error;           // the last store error, empty if none
};

class AsyncWriter final : public telemetry::ExecutionSink {
 public:
  // `store` is any destination: a store, or an exporter (kagura/exporters/).
  AsyncWriter(std::shared_ptr<BatchDestination> store, AsyncWriterOptions options = {});
  // Writes what is queued, then stops the writer thread.
  ~AsyncWriter() override;
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  void submit(std::shared_ptr<const telemetry::Execution> execution) noexcept override;
  // Executions are completed on the encoder's thread, before they are prepared.
  bool takes_incomplete() const noexcept override { return true; }
  void submit_incomplete(std::shared_ptr<const telemetry::Execution> execution,
                         telemetry::ExecutionCompleter& completer) noexcept override;

  // Waits until everything submitted before the call has been written (or has failed).
  // Returns false if `timeout` passed first.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Flushes, then stops the writer thread; later submissions are dropped and counted.
  void shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  PipelineStats stats() const;

  // Why executions were counted as failed, for the notice.
  enum class Failure { after_retries, rejected, not_prepared };
  const AsyncWriterOptions& options() const noexcept { return options_; }
  BatchDestination& destination() noexcept { return *store_; }

 private:
  struct Queued {
    std::shared_ptr<const telemetry::Execution> execution;
    telemetry::ExecutionCompleter* completer = nullptr;  // null: complete already
  };
  void enqueue(Queued queued) noexcept;
  void run_encoder();
  void run_writer();
  void write_prepared(PreparedBatch& batch);
  // Writer thread: puts a batch the store refused in the spool and goes offline.
  void spool_batch(PreparedBatch& batch, const std::string& store_error);
  // Writer thread: delivers the spool; back online when it is empty.
  void deliver_spool();
  void count_done_locked(std::size_t count, std::size_t inserted, const std::string* error,
                         Failure failure = Failure::after_retries);
  void note_drop_locked(std::uint64_t count);

  std::shared_ptr<BatchDestination> store_;
  const AsyncWriterOptions options_;
  // How many queued executions wake the encoder before its timer: a batch, or a piece of one
  // when the destination prepares batches in pieces.
  const std::size_t wake_size_;

  mutable std::mutex mutex_;
  std::condition_variable wake_encoder_;
  std::condition_variable batch_ready_;
  std::condition_variable progress_;  // room on the queue or for a prepared batch, a batch done
  std::deque<Queued> queue_;
  // Prepared batches waiting for the writer thread, and written ones waiting for the encoder
  // thread to free them (so the writer spends its time in the database only).
  std::deque<std::unique_ptr<PreparedBatch>> ready_;
  std::vector<std::unique_ptr<PreparedBatch>> spent_;
  // Executions taken off the queue and not yet being written (being prepared, or prepared and
  // waiting). They count against queue_capacity with the queue, so the bound holds for
  // everything that waits; only the batch being written is outside it.
  std::size_t staged_ = 0;
  // Staged executions that drop_oldest has dropped; the writer skips them at the front of the
  // next batches it takes, which hold the oldest staged executions.
  std::size_t evicted_staged_ = 0;
  std::size_t waiting_locked() const noexcept { return queue_.size() + staged_ - evicted_staged_; }
  // Of evicted_staged_, those that fall in the prepared batches waiting for the writer.
  std::size_t evicted_in_ready_locked() const noexcept;
  bool encoder_waiting_ = false;
  bool encoder_done_ = false;
  bool flush_requested_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  bool drop_reported_ = false;
  std::uint64_t submitted_seq_ = 0;  // executions accepted, in order
  std::uint64_t done_seq_ = 0;       // of those, written, skipped or failed
  PipelineStats stats_;

  // The spool and the writer thread's view of the store; only the writer thread touches them.
  std::unique_ptr<Spool> spool_;
  bool offline_ = false;  // batches go to the spool until delivery succeeds
  std::chrono::steady_clock::time_point next_delivery_;
  std::chrono::milliseconds delivery_backoff_{0};
  // What the destination last asked for with RetryLaterError: no attempt before it.
  std::chrono::milliseconds retry_after_{0};

  std::thread encoder_thread_;
  std::thread writer_thread_;
};

}  // namespace kagura::pipeline
