#pragma once

// Where the asynchronous pipeline (async_writer.hpp) delivers batches of executions: every
// store (storage::StorageAdapter derives from this) and the exporters that send executions to
// other systems (an OpenTelemetry collector, say). Only the write side lives here, so that the
// pipeline's batching, retries and spool serve all of them.

#include <algorithm>
#include <chrono>
#include <cstddef>
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
// derive from it to carry what they prepared (serialised rows, say) next to the executions.
class PreparedBatch {
 public:
  explicit PreparedBatch(std::vector<std::shared_ptr<const telemetry::Execution>> executions)
      : executions_(std::move(executions)) {}
  virtual ~PreparedBatch() = default;

  // The executions still to be written: the pipeline may drop some from the front (the oldest)
  // while the batch waits, under the drop_oldest overflow policy.
  std::size_t size() const noexcept { return executions_.size() - skipped_; }
  std::size_t skipped() const noexcept { return skipped_; }
  void skip_front(std::size_t count) noexcept {
    skipped_ = std::min(executions_.size(), skipped_ + count);
  }
  // All executions, including skipped ones, in the order they were prepared.
  const std::vector<std::shared_ptr<const telemetry::Execution>>& executions() const noexcept {
    return executions_;
  }
  // The executions to write.
  std::vector<const telemetry::Execution*> pointers() const {
    std::vector<const telemetry::Execution*> result;
    result.reserve(size());
    for (std::size_t i = skipped_; i < executions_.size(); ++i) {
      result.push_back(executions_[i].get());
    }
    return result;
  }

 private:
  std::vector<std::shared_ptr<const telemetry::Execution>> executions_;
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
};

}  // namespace kagura::pipeline
