#pragma once

// Executions turned into Prometheus metrics: counters and histograms per agent, model, status
// and tool, with the LLM-call metrics named as the OpenTelemetry GenAI semantic conventions
// name them (gen_ai.client.token.usage -> gen_ai_client_token_usage,
// gen_ai.client.operation.duration -> gen_ai_client_operation_duration_seconds) and bucketed at
// the boundaries those conventions give. Usable wherever executions pass by: `kagura dashboard
// --prometheus` feeds it from a store; an application may feed it the executions it records and
// serve exposition(telemetry->stats()) itself, which then carries the pipeline's own counters.

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/metrics/text_exposition.hpp"
#include "kagura/pipeline/async_writer.hpp"
#include "kagura/telemetry/execution.hpp"

namespace kagura::metrics {

// ExplicitBucketBoundaries of gen_ai.client.token.usage ({token}).
inline constexpr std::array<double, 14> kTokenUsageBuckets = {
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
// ExplicitBucketBoundaries of gen_ai.client.operation.duration (s).
inline constexpr std::array<double, 14> kOperationDurationBuckets = {
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
// A whole execution may run many LLM calls and tools: the same doubling series, carried on to
// about 11 minutes.
inline constexpr std::array<double, 17> kExecutionDurationBuckets = {
    0.01, 0.02,  0.04,  0.08,  0.16,  0.32,   0.64,   1.28,  2.56,
    5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68, 655.36};

// Label values standing for what is absent or beyond the limit (OpenTelemetry's fallback).
inline constexpr std::string_view kOtherLabelValue = "_OTHER";

struct ExecutionMetricsOptions {
  // Distinct values kept per kind of label (agents, models, providers, tools, error types);
  // further ones are counted under "_OTHER", so that a store with endless agent names cannot
  // make endless series.
  std::size_t max_label_values = 1000;
};

// Not thread-safe: one owner adds and renders, or guards it with a mutex.
class ExecutionMetrics {
 public:
  explicit ExecutionMetrics(ExecutionMetricsOptions options = {});

  // Counts a finished execution (its LLM and tool calls from its events). An execution still
  // running counts nothing and returns false: counters only grow, so it is counted once, when
  // it is seen finished.
  bool add(const telemetry::Execution& execution);

  std::uint64_t executions() const noexcept { return executions_added_; }

  // The text exposition of everything added so far.
  std::string exposition() const;
  // The same followed by the pipeline's counters (see write_pipeline_metrics()).
  std::string exposition(const pipeline::PipelineStats& pipeline) const;
  void write(TextExposition& out) const;

 private:
  using Key = std::vector<std::string>;  // label values, in the order of the family's names
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // per bucket (not cumulative); the last is +Inf
    double sum = 0.0;
    std::uint64_t count = 0;
  };
  enum Dimension { kAgent, kModel, kProvider, kTool, kErrorType, kDimensions };

  std::string bounded(Dimension dimension, std::string_view value);
  static void observe(Histogram& histogram, std::span<const double> bounds, double value);
  static void write_histogram(TextExposition& out, std::string_view name,
                              const std::vector<std::string>& label_names,
                              const std::map<Key, Histogram>& series,
                              std::span<const double> bounds);

  ExecutionMetricsOptions options_;
  std::array<std::set<std::string, std::less<>>, kDimensions> label_values_;
  std::uint64_t executions_added_ = 0;

  std::map<Key, std::uint64_t> executions_;      // agent, status
  std::map<Key, Histogram> execution_duration_;  // agent
  std::map<Key, std::uint64_t> errors_;          // agent, error_type
  std::map<Key, std::uint64_t> llm_calls_;       // agent, model
  std::map<Key, telemetry::NanoUsd> cost_;       // agent, model
  std::map<Key, std::uint64_t> unpriced_;        // model
  std::map<Key, std::uint64_t> tool_calls_;      // agent, tool, outcome
  std::map<Key, Histogram> token_usage_;         // agent, operation, provider, model, type
  std::map<Key, Histogram> operation_duration_;  // agent, operation, provider, model
};

// The asynchronous writer's counters (Telemetry::stats()) as kagura_pipeline_* metrics, as the
// recording process itself would serve them.
void write_pipeline_metrics(TextExposition& out, const pipeline::PipelineStats& stats);
std::string pipeline_exposition(const pipeline::PipelineStats& stats);

// The same for several recording processes, one series per process labelled with `labels`
// (process="host:pid", say); `running` adds kagura_pipeline_up (1 while the process runs).
struct ProcessPipelineStats {
  Labels labels;
  pipeline::PipelineStats stats;
  bool running = true;
  double updated_at = 0.0;  // Unix seconds of the figures
};
void write_pipeline_metrics(TextExposition& out, std::span<const ProcessPipelineStats> processes);

}  // namespace kagura::metrics
