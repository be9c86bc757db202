#pragma once

// Where the asynchronous pipeline (async_writer.hpp) delivers batches of executions: every
// store (storage::StorageAdapter derives from this) and the exporters that send executions to
// other systems (an OpenTelemetry collector, say). Only the write side lives here, so that the
// pipeline's batching, retries and spool serve all of them.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "kagura/telemetry/execution.hpp"

namespace kagura::pipeline {

// A batch the destination refuses for good (malformed, unauthorised, too large): retrying or
// spooling it would only meet the same answer. The pipeline counts it as failed, with a notice.
class RejectedBatchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A destination that is busy or briefly away and said when to come back (HTTP 429 or 503 with
// Retry-After, say); zero when it did not say. The pipeline waits at least that long before the
// next attempt.
class RetryLaterError : public std::runtime_error {
 public:
  RetryLaterError(const std::string& what, std::chrono::milliseconds retry_after)
      : std::runtime_error(what), retry_after_(retry_after) {}
  std::chrono::milliseconds retry_after() const noexcept { return retry_after_; }

 private:
  std::chrono::milliseconds retry_after_;
};

// A batch on its way to a destination, between prepare() and write_prepared(). Destinations
// derive from it to carry what they prepared (serialised rows, say) next to the executions, or
// instead of them: a destination may let the executions go once prepared (count_released)
// and rebuild them from what it prepared on the rare occasions the pipeline asks for them.
class PreparedBatch {
 public:
  explicit PreparedBatch(std::vector<std::shared_ptr<const telemetry::Execution>> executions)
      : executions_(std::move(executions)), count_(executions_.size()) {}
  virtual ~PreparedBatch() = default;
  PreparedBatch(const PreparedBatch&) = delete;
  PreparedBatch& operator=(const PreparedBatch&) = delete;

  // The executions still to be written: the pipeline may drop some from the front (the oldest)
  // while the batch waits, under the drop_oldest overflow policy.
  std::size_t size() const noexcept { return count_ - skipped_; }
  // All executions prepared, skipped ones included.
  std::size_t prepared_count() const noexcept { return count_; }
  std::size_t skipped() const noexcept { return skipped_; }
  void skip_front(std::size_t count) noexcept { skipped_ = std::min(count_, skipped_ + count); }
  // All executions, including skipped ones, in the order they were prepared; rebuilt by the
  // destination if it released them.
  const std::vector<std::shared_ptr<const telemetry::Execution>>& executions() const {
    if (executions_.size() != count_) executions_ = rebuild_executions();
    return executions_;
  }
  // The executions to write.
  std::vector<const telemetry::Execution*> pointers() const {
    const auto& all = executions();
    std::vector<const telemetry::Execution*> result;
    result.reserve(size());
    for (std::size_t i = skipped_; i < all.size(); ++i) result.push_back(all[i].get());
    return result;
  }

 protected:
  // For BatchDestination::prepare_more(): derived batches add what they prepared for `more`.
  void append_executions(std::vector<std::shared_ptr<const telemetry::Execution>> more) {
    executions_.insert(executions_.end(), std::make_move_iterator(more.begin()),
                       std::make_move_iterator(more.end()));
    count_ += more.size();
  }
  // Counts `count` more executions that the derived batch prepared and did not keep; it must
  // then override rebuild_executions().
  void count_released(std::size_t count) noexcept { count_ += count; }
  // All executions of a batch that released them, from what it prepared.
  virtual std::vector<std::shared_ptr<const telemetry::Execution>> rebuild_executions() const {
    throw std::logic_error("a prepared batch released its executions and cannot rebuild them");
  }

 private:
  friend class BatchDestination;
  // Only the thread that holds the batch uses it, so executions() may fill this in.
  mutable std::vector<std::shared_ptr<const telemetry::Execution>> executions_;
  std::size_t count_ = 0;
  std::size_t skipped_ = 0;
};

class BatchDestination {
 public:
  virtual ~BatchDestination() = default;

  virtual std::string backend_name() const = 0;
  // Where the data goes, with any password masked; for messages.
  virtual std::string location() const = 0;

  // Writes a batch atomically. An execution whose id the destination already has is skipped
  // where the destination can tell, so that a batch retried after a failure is never stored
  // twice. Returns how many were new.
  virtual std::size_t save_executions(std::span<const telemetry::Execution* const> batch) = 0;

  // Two-phase batch writes for the asynchronous pipeline, which prepares one batch on one
  // thread while the previous batch is written on another. prepare() does what needs no
  // database or network (serialisation, for instance) and must not touch them;
  // write_prepared() then writes like save_executions(), and may be called again with the same
  // batch after a failure. The defaults leave all the work to save_executions().
  virtual std::unique_ptr<PreparedBatch> prepare(
      std::vector<std::shared_ptr<const telemetry::Execution>> batch) {
    return std::make_unique<PreparedBatch>(std::move(batch));
  }
  virtual std::size_t write_prepared(PreparedBatch& batch) {
    return save_executions(batch.pointers());
  }

  // A destination whose preparation goes execution by execution may prepare a batch in pieces:
  // the pipeline then prepares executions a few hundred at a time as they arrive, while their
  // memory is still in the CPU's caches, and still writes them in one transaction per batch
  // (see docs/benchmarks.md). prepare_more() adds `more` to a batch that this destination's
  // prepare() returned, in order; if it throws, the pipeline counts that batch and `more` as
  // failed.
  virtual bool prepares_in_pieces() const { return false; }
  virtual void prepare_more(PreparedBatch& batch,
                            std::vector<std::shared_ptr<const telemetry::Execution>> more) {
    batch.append_executions(std::move(more));
  }
};

}  // namespace kagura::pipeline
