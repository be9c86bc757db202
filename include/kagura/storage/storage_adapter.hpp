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

#include "kagura/pipeline/batch_destination.hpp"
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

// A batch on its way into a store, between prepare() and write_prepared(); see
// batch_destination.hpp.
using PreparedBatch = pipeline::PreparedBatch;

// The write side (backend_name, location, save_executions, prepare, write_prepared) is the
// pipeline's BatchDestination, so that the asynchronous writer serves stores and exporters alike.
class StorageAdapter : public pipeline::BatchDestination {
 public:
  ~StorageAdapter() override = default;

  std::size_t save_execution(const telemetry::Execution& execution) {
    const telemetry::Execution* one = &execution;
    return save_executions({&one, 1});
  }

  // From now on, a write returns only once it would survive a power loss (the durable mode,
  // pipeline/sync_writer.hpp). Stores whose commits are that durable anyway keep the default.
  virtual void require_durable_commits() {}

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
