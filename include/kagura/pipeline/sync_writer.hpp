#pragma once

// The durable mode (KAGURA_TELEMETRY_DURABLE=1): an execution is committed to the store, or
// written and synced to the spool, before the agent's call returns, so that killing the
// process at any moment loses no execution whose call has returned. The price is the agent's
// thread waiting for a commit; docs/reliability.md gives the guarantee and
// docs/benchmarks.md the cost.
//
// Writes are made on the calling thread. Threads that finish an execution while another one
// is writing wait for it and are then written together in one transaction (group commit), so
// many threads share each commit instead of queueing for one commit each.
//
// A batch the store refuses is retried (max_retries, doubling retry_backoff) and then written
// to the spool synchronously; later executions go straight to the spool while the store is
// away, and a background thread delivers the spool once the store answers again, as the
// asynchronous writer does. Only when the spool cannot take a batch either is it counted as
// failed and reported. submit() never throws.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kagura/pipeline/async_writer.hpp"
#include "kagura/pipeline/spool.hpp"
#include "kagura/storage/storage_adapter.hpp"
#include "kagura/telemetry/sink.hpp"

namespace kagura::pipeline {

class SyncWriter final : public telemetry::ExecutionSink {
 public:
  // Uses max_batch (the largest group commit and spool delivery), max_retries, retry_backoff
  // and the spool settings of `options`; the queue settings do not apply. Asks the store for
  // commits that survive power loss (StorageAdapter::require_durable_commits()).
  SyncWriter(std::shared_ptr<storage::StorageAdapter> store, AsyncWriterOptions options = {});
  ~SyncWriter() override;
  SyncWriter(const SyncWriter&) = delete;
  SyncWriter& operator=(const SyncWriter&) = delete;

  // Returns once the execution is in the store or in the spool (or counted as failed).
  void submit(std::shared_ptr<const telemetry::Execution> execution) noexcept override;

  // Nothing waits in memory: true at once. Spooled executions are delivered in the background.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Stops the spool delivery thread; whatever the spool holds waits for the next process.
  // Executions submitted later are still written.
  void shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  PipelineStats stats() const;
  storage::StorageAdapter& store() noexcept { return *store_; }

 private:
  using Batch = std::vector<std::shared_ptr<const telemetry::Execution>>;
  void write_batch(const Batch& batch) noexcept;
  bool spool_batch(const std::vector<const telemetry::Execution*>& batch,
                   const std::string& store_error);
  void run_delivery();

  std::shared_ptr<storage::StorageAdapter> store_;
  const AsyncWriterOptions options_;
  std::unique_ptr<Spool> spool_;

  mutable std::mutex mutex_;
  std::condition_variable written_;
  Batch waiting_;         // executions whose threads wait for the current commit
  bool writing_ = false;  // a thread is committing a group
  std::uint64_t submitted_ = 0;
  std::uint64_t done_ = 0;
  bool offline_ = false;  // the store failed: write to the spool until it is delivered
  bool failure_reported_ = false;
  PipelineStats stats_;

  // Held while a group is written, so that the delivery thread can tell that no spool append
  // is under way when it finds the spool empty.
  std::mutex write_mutex_;

  std::condition_variable wake_delivery_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point next_delivery_ =
      std::chrono::steady_clock::time_point::max();
  std::chrono::milliseconds delivery_backoff_{0};
  std::thread delivery_thread_;
};

}  // namespace kagura::pipeline
