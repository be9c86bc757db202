#pragma once

// The hourly rollup tables of the SQLite store, kept in step with the execution rows inside
// each write transaction.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <string>
#include <vector>

#include "storage/aggregate.hpp"

namespace kagura::storage::sqlite_detail {

// The columns of an execution rollup cell after its key, in the order read_totals() reads them.
inline constexpr const char* kTotalsColumns =
    "executions, with_duration, duration_sum, duration_sketch, llm_calls, tool_calls, "
    "memory_operations, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, "
    "unpriced_llm_calls, cost_nanos, first_started_at, last_started_at";

// Reads kTotalsColumns from the current row, starting at column `first`.
detail::Totals read_totals(SQLite::Statement& row, int first);

// Rollups of the executions of one batch, merged into the tables by apply().
class RollupDelta {
 public:
  void add(const telemetry::Execution& execution);
  bool empty() const noexcept { return executions_.empty(); }
  // Read-merge-write of each touched cell; call inside the batch's transaction.
  void apply(SQLite::Database& db);

 private:
  struct ExecutionCell {
    std::int64_t bucket;
    std::string agent;
    telemetry::ExecutionStatus status;
    detail::Totals totals;
  };
  struct LlmCell {
    std::int64_t bucket;
    std::string agent;
    telemetry::ExecutionStatus status;
    std::string model;
    detail::LlmTotals totals;
  };
  // A batch touches a handful of cells (its hour, its agents and models), so a short vector
  // searched from the newest cell is cheaper than a map keyed by freshly built strings.
  std::vector<ExecutionCell> executions_;
  std::vector<LlmCell> llm_calls_;
};

}  // namespace kagura::storage::sqlite_detail
