#pragma once

// The hourly rollup tables of the SQLite store, kept in step with the execution rows inside
// each write transaction.

#include <SQLiteCpp/Database.h>

#include <map>
#include <string>
#include <tuple>

#include "storage/aggregate.hpp"

namespace kagura::storage::sqlite_detail {

// Rollups of the executions of one batch, merged into the tables by apply().
class RollupDelta {
 public:
  void add(const telemetry::Execution& execution);
  bool empty() const noexcept { return executions_.empty(); }
  // Read-merge-write of each touched cell; call inside the batch's transaction.
  void apply(SQLite::Database& db);

 private:
  using ExecutionKey = std::tuple<std::int64_t, std::string, telemetry::ExecutionStatus>;
  using LlmKey = std::tuple<std::int64_t, std::string, telemetry::ExecutionStatus, std::string>;
  std::map<ExecutionKey, detail::Totals> executions_;
  std::map<LlmKey, detail::LlmTotals> llm_calls_;
};

}  // namespace kagura::storage::sqlite_detail
