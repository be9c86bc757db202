#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kagura/telemetry/execution.hpp"

namespace kagura::storage {

// Filters shared by every read of a store. Times are Unix seconds and compare with an
// execution's started_at: since is inclusive, until exclusive.
struct ExecutionFilter {
  std::optional<std::string> agent_name;
  std::optional<telemetry::ExecutionStatus> status;
  std::optional<double> since;
  std::optional<double> until;
};

struct ExecutionQuery : ExecutionFilter {
  std::optional<std::string> trace_id;
  std::int64_t limit = 100;
  std::int64_t offset = 0;
  bool include_events = true;  // false: events stay empty, for listings
};

struct SummaryStats {
  std::int64_t total_executions = 0;
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  std::int64_t running = 0;
  double success_rate = 0.0;  // completed / (completed + failed); 0 with none finished
  double avg_duration = 0.0;  // seconds, over executions with a duration
  // Percentiles of duration come from a relative-error sketch (see DurationSketch): each is
  // within 1% of the exact value.
  double p50_duration = 0.0;
  double p95_duration = 0.0;
  double p99_duration = 0.0;
  double max_duration = 0.0;
  std::int64_t llm_calls = 0;
  std::int64_t tool_calls = 0;
  std::int64_t memory_operations = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t unpriced_llm_calls = 0;
  telemetry::NanoUsd cost_nanos = 0;
  std::optional<double> first_started_at;
  std::optional<double> last_started_at;

  double total_cost() const noexcept { return telemetry::nano_usd_to_usd(cost_nanos); }
};

enum class CostGrouping { model, agent, day };

struct CostGroup {
  std::string key;              // model name, agent name or UTC day (YYYY-MM-DD)
  std::int64_t executions = 0;  // 0 when grouping by model (an execution may use several)
  std::int64_t llm_calls = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t unpriced_llm_calls = 0;
  telemetry::NanoUsd cost_nanos = 0;

  double cost() const noexcept { return telemetry::nano_usd_to_usd(cost_nanos); }
};

}  // namespace kagura::storage
