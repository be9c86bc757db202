#include "storage/aggregate.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>

namespace kagura::storage::detail {

std::int64_t bucket_of(double t) {
  auto bucket = static_cast<std::int64_t>(std::floor(t / kBucketSeconds)) * kBucketSeconds;
  // Division can round across a boundary; settle it with exact comparisons so that a bucket
  // and the row ranges around it never both claim the same execution.
  if (static_cast<double>(bucket) > t) bucket -= kBucketSeconds;
  if (static_cast<double>(bucket + kBucketSeconds) <= t) bucket += kBucketSeconds;
  return bucket;
}

std::string utc_day(std::int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

ExecutionSummary ExecutionSummary::of(const telemetry::Execution& e) {
  ExecutionSummary s;
  s.status = e.status;
  s.duration = e.duration;
  s.started_at = e.started_at;
  s.llm_calls = e.metrics.llm_calls;
  s.tool_calls = e.metrics.tool_calls;
  s.memory_operations = e.metrics.memory_operations;
  s.prompt_tokens = e.metrics.prompt_tokens;
  s.completion_tokens = e.metrics.completion_tokens;
  s.cached_tokens = e.metrics.cached_tokens;
  s.reasoning_tokens = e.metrics.reasoning_tokens;
  s.unpriced_llm_calls = e.metrics.unpriced_llm_calls;
  s.cost_nanos = e.metrics.cost_nanos;
  return s;
}

namespace {

void merge_min(std::optional<double>& into, std::optional<double> value) {
  if (value && (!into || *value < *into)) into = value;
}
void merge_max(std::optional<double>& into, std::optional<double> value) {
  if (value && (!into || *value > *into)) into = value;
}

}  // namespace

void Totals::add(const ExecutionSummary& s) {
  ++executions;
  if (s.duration) {
    ++with_duration;
    duration_sum += *s.duration;
    durations.add(*s.duration);
  }
  llm_calls += s.llm_calls;
  tool_calls += s.tool_calls;
  memory_operations += s.memory_operations;
  prompt_tokens += s.prompt_tokens;
  completion_tokens += s.completion_tokens;
  cached_tokens += s.cached_tokens;
  reasoning_tokens += s.reasoning_tokens;
  unpriced_llm_calls += s.unpriced_llm_calls;
  cost_nanos += s.cost_nanos;
  merge_min(first_started_at, s.started_at);
  merge_max(last_started_at, s.started_at);
}

void Totals::merge(const Totals& o) {
  executions += o.executions;
  with_duration += o.with_duration;
  duration_sum += o.duration_sum;
  durations.merge(o.durations);
  llm_calls += o.llm_calls;
  tool_calls += o.tool_calls;
  memory_operations += o.memory_operations;
  prompt_tokens += o.prompt_tokens;
  completion_tokens += o.completion_tokens;
  cached_tokens += o.cached_tokens;
  reasoning_tokens += o.reasoning_tokens;
  unpriced_llm_calls += o.unpriced_llm_calls;
  cost_nanos += o.cost_nanos;
  merge_min(first_started_at, o.first_started_at);
  merge_max(last_started_at, o.last_started_at);
}

SummaryStats StatsAccumulator::to_stats() const {
  Totals all;
  SummaryStats stats;
  for (const auto& [status, totals] : by_status) {
    all.merge(totals);
    switch (status) {
      case telemetry::ExecutionStatus::completed:
        stats.completed += totals.executions;
        break;
      case telemetry::ExecutionStatus::failed:
        stats.failed += totals.executions;
        break;
      case telemetry::ExecutionStatus::running:
        stats.running += totals.executions;
        break;
    }
  }
  stats.total_executions = all.executions;
  const auto finished = stats.completed + stats.failed;
  stats.success_rate =
      finished == 0 ? 0.0 : static_cast<double>(stats.completed) / static_cast<double>(finished);
  stats.avg_duration =
      all.with_duration == 0 ? 0.0 : all.duration_sum / static_cast<double>(all.with_duration);
  stats.p50_duration = all.durations.quantile(0.50);
  stats.p95_duration = all.durations.quantile(0.95);
  stats.p99_duration = all.durations.quantile(0.99);
  stats.max_duration = all.durations.max();
  stats.llm_calls = all.llm_calls;
  stats.tool_calls = all.tool_calls;
  stats.memory_operations = all.memory_operations;
  stats.prompt_tokens = all.prompt_tokens;
  stats.completion_tokens = all.completion_tokens;
  stats.total_tokens = all.prompt_tokens + all.completion_tokens;
  stats.cached_tokens = all.cached_tokens;
  stats.reasoning_tokens = all.reasoning_tokens;
  stats.unpriced_llm_calls = all.unpriced_llm_calls;
  stats.cost_nanos = all.cost_nanos;
  stats.first_started_at = all.first_started_at;
  stats.last_started_at = all.last_started_at;
  return stats;
}

void LlmTotals::add(const telemetry::LlmCall& call) {
  ++calls;
  prompt_tokens += call.prompt_tokens;
  completion_tokens += call.completion_tokens;
  cached_tokens += call.cached_tokens;
  reasoning_tokens += call.reasoning_tokens;
  if (!call.priced) ++unpriced_calls;
  cost_nanos += call.cost_nanos;
}

void LlmTotals::merge(const LlmTotals& o) {
  calls += o.calls;
  prompt_tokens += o.prompt_tokens;
  completion_tokens += o.completion_tokens;
  cached_tokens += o.cached_tokens;
  reasoning_tokens += o.reasoning_tokens;
  unpriced_calls += o.unpriced_calls;
  cost_nanos += o.cost_nanos;
}

CostGroup to_cost_group(std::string key, const Totals& t) {
  CostGroup g;
  g.key = std::move(key);
  g.executions = t.executions;
  g.llm_calls = t.llm_calls;
  g.prompt_tokens = t.prompt_tokens;
  g.completion_tokens = t.completion_tokens;
  g.cached_tokens = t.cached_tokens;
  g.unpriced_llm_calls = t.unpriced_llm_calls;
  g.cost_nanos = t.cost_nanos;
  return g;
}

CostGroup to_cost_group(std::string key, const LlmTotals& t) {
  CostGroup g;
  g.key = std::move(key);
  g.llm_calls = t.calls;
  g.prompt_tokens = t.prompt_tokens;
  g.completion_tokens = t.completion_tokens;
  g.cached_tokens = t.cached_tokens;
  g.unpriced_llm_calls = t.unpriced_calls;
  g.cost_nanos = t.cost_nanos;
  return g;
}

TimeSplit split_time_range(std::optional<double> since, std::optional<double> until) {
  TimeSplit split;
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min() / 2;
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max() / 2;
  std::int64_t first = kMin;
  if (since) {
    first = bucket_of(*since);
    if (static_cast<double>(first) < *since) first += kBucketSeconds;
  }
  const std::int64_t end = until ? bucket_of(*until) : kMax;
  if (first >= end) {
    if (!since || !until || *since < *until) {
      split.whole = TimeSplit::Range{since.value_or(-1e300), until.value_or(1e300)};
    }
    return split;
  }
  split.has_buckets = true;
  split.first_bucket = first;
  split.end_bucket = end;
  if (since && *since < static_cast<double>(first)) {
    split.head = TimeSplit::Range{*since, static_cast<double>(first)};
  }
  if (until && static_cast<double>(end) < *until) {
    split.tail = TimeSplit::Range{static_cast<double>(end), *until};
  }
  return split;
}

void sort_cost_groups(std::vector<CostGroup>& groups, CostGrouping grouping) {
  if (grouping == CostGrouping::day) {
    std::sort(groups.begin(), groups.end(),
              [](const CostGroup& a, const CostGroup& b) { return a.key < b.key; });
  } else {
    std::sort(groups.begin(), groups.end(), [](const CostGroup& a, const CostGroup& b) {
      return a.cost_nanos != b.cost_nanos ? a.cost_nanos > b.cost_nanos : a.key < b.key;
    });
  }
}

}  // namespace kagura::storage::detail
