#pragma once

// The one interface behind which every telemetry store lives (RFC-030's StorageAdapter).

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/storage/query.hpp"
#include "kagura/telemetry/execution.hpp"

namespace kagura::storage {

// Every failure of a store; what() names the backend, the location and the fix.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The store could not be reached or refused the connection (server down, wrong address or
// password). The telemetry pipeline keeps executions in its spool while this lasts.
class StoreUnreachableError : public StorageError {
 public:
  using StorageError::StorageError;
};

// get_execution() with a prefix that matches more than one execution.
class AmbiguousIdError : public StorageError {
 public:
  using StorageError::StorageError;
};

// A batch on its way into a store, between prepare() and write_prepared(). Backends derive
// from it to carry what they prepared (serialised rows, say) next to the executions.
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

class StorageAdapter {
 public:
  virtual ~StorageAdapter() = default;

  virtual std::string backend_name() const = 0;
  // Where the data lives, with any password masked; for messages.
  virtual std::string location() const = 0;

  // Saves a batch atomically. An execution whose id is already stored is skipped, so that a
  // batch retried after a failure never stores anything twice. Returns how many were new.
  virtual std::size_t save_executions(std::span<const telemetry::Execution* const> batch) = 0;
  std::size_t save_execution(const telemetry::Execution& execution) {
    const telemetry::Execution* one = &execution;
    return save_executions({&one, 1});
  }

  // Two-phase batch writes for the asynchronous pipeline, which prepares one batch on one
  // thread while the previous batch is written on another. prepare() does what needs no
  // database (serialisation, for instance) and must not touch the database; write_prepared()
  // then writes like save_executions(), and may be called again with the same batch after a
  // failure. The defaults leave all the work to save_executions().
  virtual std::unique_ptr<PreparedBatch> prepare(
      std::vector<std::shared_ptr<const telemetry::Execution>> batch) {
    return std::make_unique<PreparedBatch>(std::move(batch));
  }
  virtual std::size_t write_prepared(PreparedBatch& batch) {
    return save_executions(batch.pointers());
  }

  // By full id or by a prefix matching exactly one id. Throws AmbiguousIdError when the prefix
  // matches several; returns nullopt when it matches none.
  virtual std::optional<telemetry::Execution> get_execution(std::string_view id_or_prefix) = 0;
  // Newest first by started_at.
  virtual std::vector<telemetry::Execution> get_executions(const ExecutionQuery& query) = 0;
  virtual std::int64_t count_executions(const ExecutionFilter& filter) = 0;
  virtual SummaryStats get_summary_stats(const ExecutionFilter& filter) = 0;
  // Most expensive first; grouping by day is in UTC and ordered by day.
  virtual std::vector<CostGroup> get_cost_breakdown(CostGrouping grouping,
                                                    const ExecutionFilter& filter) = 0;
  // Deletes executions that started before `older_than`; returns how many.
  virtual std::size_t delete_old_executions(double older_than) = 0;
  virtual void clear_all() = 0;
};

}  // namespace kagura::storage
