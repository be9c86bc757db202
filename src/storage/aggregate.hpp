#pragma once

// Backend-neutral aggregation: the per-execution summary that rollups and stats are built from,
// the hourly time buckets, and the accumulators that become SummaryStats and CostGroups. Every
// backend aggregates through these so that they all give the same answers on the same data.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kagura/storage/duration_sketch.hpp"
#include "kagura/storage/query.hpp"
#include "kagura/telemetry/execution.hpp"

namespace kagura::storage::detail {

constexpr std::int64_t kBucketSeconds = 3600;
constexpr std::int64_t kDaySeconds = 86400;

// The hour bucket holding time t: the largest multiple of kBucketSeconds not above t.
std::int64_t bucket_of(double t);
std::string utc_day(std::int64_t unix_seconds);  // YYYY-MM-DD

// The part of an execution that stats need, from a record or from a stored row.
struct ExecutionSummary {
  telemetry::ExecutionStatus status = telemetry::ExecutionStatus::running;
  std::optional<double> duration;
  double started_at = 0.0;
  std::int64_t llm_calls = 0;
  std::int64_t tool_calls = 0;
  std::int64_t memory_operations = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t unpriced_llm_calls = 0;
  telemetry::NanoUsd cost_nanos = 0;

  static ExecutionSummary of(const telemetry::Execution& execution);
};

// Totals over a set of executions; mergeable, so a rollup cell is one of these.
struct Totals {
  std::int64_t executions = 0;
  std::int64_t with_duration = 0;
  double duration_sum = 0.0;
  DurationSketch durations;
  std::int64_t llm_calls = 0;
  std::int64_t tool_calls = 0;
  std::int64_t memory_operations = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t unpriced_llm_calls = 0;
  telemetry::NanoUsd cost_nanos = 0;
  std::optional<double> first_started_at;
  std::optional<double> last_started_at;

  void add(const ExecutionSummary& summary);
  void merge(const Totals& other);
};

// Totals per status, which is what SummaryStats reports.
struct StatsAccumulator {
  std::map<telemetry::ExecutionStatus, Totals> by_status;

  void add(const ExecutionSummary& summary) { by_status[summary.status].add(summary); }
  void merge(telemetry::ExecutionStatus status, const Totals& totals) {
    by_status[status].merge(totals);
  }
  SummaryStats to_stats() const;
};

// LLM-call totals, keyed by model in rollups and cost queries.
struct LlmTotals {
  std::int64_t calls = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t unpriced_calls = 0;
  telemetry::NanoUsd cost_nanos = 0;

  void add(const telemetry::LlmCall& call);
  void merge(const LlmTotals& other);
};

// The order every backend returns cost groups in: days ascending; models and agents by cost,
// highest first, then by name. Sorted by us rather than by a server, whose collation may not
// order keys byte by byte.
void sort_cost_groups(std::vector<CostGroup>& groups, CostGrouping grouping);

CostGroup to_cost_group(std::string key, const Totals& totals);
CostGroup to_cost_group(std::string key, const LlmTotals& totals);

// How a time filter splits into whole buckets, read from rollups, and edges, read from rows.
struct TimeSplit {
  bool has_buckets = false;
  std::int64_t first_bucket = 0;  // inclusive
  std::int64_t end_bucket = 0;    // exclusive
  struct Range {
    double from;  // inclusive
    double to;    // exclusive
  };
  std::optional<Range> head;   // [since, first_bucket)
  std::optional<Range> tail;   // [end_bucket, until)
  std::optional<Range> whole;  // no whole bucket: everything from rows
};
TimeSplit split_time_range(std::optional<double> since, std::optional<double> until);

}  // namespace kagura::storage::detail
