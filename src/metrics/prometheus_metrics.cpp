#include "kagura/metrics/prometheus_metrics.hpp"

#include <algorithm>
#include <variant>

namespace kagura::metrics {
namespace {

// Every LLM call the library records is a chat completion (gen_ai.operation.name "chat").
constexpr std::string_view kChatOperation = "chat";

// The provider as recorded, else the prefix of a "provider/model" name, else absent.
std::string_view provider_of(const telemetry::LlmCall& call) {
  if (!call.provider.empty()) return call.provider;
  if (const auto slash = call.model.find('/'); slash != std::string::npos && slash > 0) {
    return std::string_view(call.model).substr(0, slash);
  }
  return {};
}

template <typename Value>
void write_counter(TextExposition& out, std::string_view name, std::string_view help,
                   const std::vector<std::string>& label_names,
                   const std::map<std::vector<std::string>, Value>& series) {
  out.family(name, "counter", help);
  for (const auto& [key, value] : series) {
    Labels labels;
    for (std::size_t i = 0; i < label_names.size(); ++i)
      labels.emplace_back(label_names[i], key[i]);
    out.sample(name, labels, value);
  }
}

}  // namespace

ExecutionMetrics::ExecutionMetrics(ExecutionMetricsOptions options)
    : options_(std::move(options)) {}

std::string ExecutionMetrics::bounded(Dimension dimension, std::string_view value) {
  if (value.empty()) return std::string(kOtherLabelValue);
  auto& seen = label_values_[dimension];
  if (seen.contains(value)) return std::string(value);
  if (seen.size() >= options_.max_label_values) return std::string(kOtherLabelValue);
  seen.emplace(value);
  return std::string(value);
}

void ExecutionMetrics::observe(Histogram& histogram, std::span<const double> bounds, double value) {
  if (histogram.buckets.empty()) histogram.buckets.assign(bounds.size() + 1, 0);
  // A bucket counts observations up to and including its upper bound (le).
  const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  ++histogram.buckets[static_cast<std::size_t>(bucket)];
  histogram.sum += value;
  ++histogram.count;
}

bool ExecutionMetrics::add(const telemetry::Execution& execution) {
  if (execution.status == telemetry::ExecutionStatus::running) return false;
  ++executions_added_;
  const std::string agent = bounded(kAgent, execution.agent_name);
  ++executions_[{agent, std::string(telemetry::to_string(execution.status))}];
  std::optional<double> duration = execution.duration;
  if (!duration && execution.ended_at) duration = *execution.ended_at - execution.started_at;
  if (duration) observe(execution_duration_[{agent}], kExecutionDurationBuckets, *duration);
  if (execution.status == telemetry::ExecutionStatus::failed) {
    ++errors_[{agent, bounded(kErrorType, execution.error_type)}];
  }

  for (const auto& event : execution.events) {
    if (const auto* call = std::get_if<telemetry::LlmCall>(&event.payload)) {
      const std::string model = bounded(kModel, call->model);
      const std::string provider = bounded(kProvider, provider_of(*call));
      ++llm_calls_[{agent, model}];
      cost_[{agent, model}] += call->cost_nanos;
      if (!call->priced) ++unpriced_[{model}];
      const std::string operation(kChatOperation);
      observe(token_usage_[{agent, operation, provider, model, "input"}], kTokenUsageBuckets,
              static_cast<double>(call->prompt_tokens));
      observe(token_usage_[{agent, operation, provider, model, "output"}], kTokenUsageBuckets,
              static_cast<double>(call->completion_tokens));
      observe(operation_duration_[{agent, operation, provider, model}], kOperationDurationBuckets,
              call->duration);
    } else if (const auto* tool = std::get_if<telemetry::ToolCall>(&event.payload)) {
      ++tool_calls_[{agent, bounded(kTool, tool->tool_name), tool->success ? "success" : "error"}];
    }
  }
  return true;
}

void ExecutionMetrics::write_histogram(TextExposition& out, std::string_view name,
                                       const std::vector<std::string>& label_names,
                                       const std::map<Key, Histogram>& series,
                                       std::span<const double> bounds) {
  const std::string bucket_name = std::string(name) + "_bucket";
  const std::string sum_name = std::string(name) + "_sum";
  const std::string count_name = std::string(name) + "_count";
  for (const auto& [key, histogram] : series) {
    Labels labels;
    for (std::size_t i = 0; i < label_names.size(); ++i)
      labels.emplace_back(label_names[i], key[i]);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      cumulative += histogram.buckets[i];
      Labels with_le = labels;
      with_le.emplace_back("le", i < bounds.size() ? format_sample_value(bounds[i]) : "+Inf");
      out.sample(bucket_name, with_le, cumulative);
    }
    out.sample(sum_name, labels, histogram.sum);
    out.sample(count_name, labels, histogram.count);
  }
}

void ExecutionMetrics::write(TextExposition& out) const {
  write_counter(out, "kagura_executions_total", "Finished agent executions, by agent and status.",
                {"agent", "status"}, executions_);
  out.family("kagura_execution_duration_seconds", "histogram",
             "Duration of finished agent executions, in seconds.");
  write_histogram(out, "kagura_execution_duration_seconds", {"agent"}, execution_duration_,
                  kExecutionDurationBuckets);
  write_counter(out, "kagura_errors_total", "Failed agent executions, by agent and error type.",
                {"agent", "error_type"}, errors_);
  write_counter(out, "kagura_llm_calls_total", "LLM calls, by agent and model.", {"agent", "model"},
                llm_calls_);

  out.family("kagura_cost_usd_total", "counter",
             "Cost of LLM calls in US dollars, by agent and model (exact to the nano-dollar).");
  for (const auto& [key, nanos] : cost_) {
    out.sample("kagura_cost_usd_total", {{"agent", key[0]}, {"model", key[1]}},
               std::string_view(format_nanos(nanos)));
  }

  write_counter(out, "kagura_unpriced_llm_calls_total",
                "LLM calls of models missing from the price table (recorded at cost 0), by model.",
                {"model"}, unpriced_);
  write_counter(out, "kagura_tool_calls_total", "Tool calls, by agent, tool and outcome.",
                {"agent", "tool", "outcome"}, tool_calls_);

  out.family("gen_ai_client_token_usage", "histogram",
             "Number of input and output tokens used per LLM call (OpenTelemetry "
             "gen_ai.client.token.usage).");
  write_histogram(out, "gen_ai_client_token_usage",
                  {"gen_ai_agent_name", "gen_ai_operation_name", "gen_ai_provider_name",
                   "gen_ai_response_model", "gen_ai_token_type"},
                  token_usage_, kTokenUsageBuckets);
  out.family("gen_ai_client_operation_duration_seconds", "histogram",
             "Duration of LLM calls in seconds (OpenTelemetry gen_ai.client.operation.duration).");
  write_histogram(out, "gen_ai_client_operation_duration_seconds",
                  {"gen_ai_agent_name", "gen_ai_operation_name", "gen_ai_provider_name",
                   "gen_ai_response_model"},
                  operation_duration_, kOperationDurationBuckets);
}

std::string ExecutionMetrics::exposition() const {
  TextExposition out;
  write(out);
  return out.take();
}

std::string ExecutionMetrics::exposition(const pipeline::PipelineStats& pipeline) const {
  TextExposition out;
  write(out);
  write_pipeline_metrics(out, pipeline);
  return out.take();
}

void write_pipeline_metrics(TextExposition& out, const pipeline::PipelineStats& stats) {
  const ProcessPipelineStats self{{}, stats};
  write_pipeline_metrics(out, std::span(&self, 1));
}

void write_pipeline_metrics(TextExposition& out, std::span<const ProcessPipelineStats> processes) {
  if (processes.empty()) return;
  const bool per_process = !processes.front().labels.empty();
  using Field = std::uint64_t pipeline::PipelineStats::*;
  const auto family = [&](std::string_view name, std::string_view type, std::string_view help,
                          Field field) {
    out.family(name, type, help);
    for (const auto& process : processes) out.sample(name, process.labels, process.stats.*field);
  };
  family("kagura_pipeline_executions_queued_total", "counter",
         "Executions accepted onto the telemetry writer's queue.",
         &pipeline::PipelineStats::queued);
  family("kagura_pipeline_executions_written_total", "counter", "Executions stored by the backend.",
         &pipeline::PipelineStats::written);
  family("kagura_pipeline_executions_duplicate_total", "counter",
         "Executions skipped because the store already had their id.",
         &pipeline::PipelineStats::duplicates);
  family("kagura_pipeline_executions_dropped_total", "counter",
         "Executions refused or evicted by the queue's overflow policy.",
         &pipeline::PipelineStats::dropped);
  family("kagura_pipeline_executions_failed_total", "counter",
         "Executions given up after retries and not spooled.", &pipeline::PipelineStats::failed);
  family("kagura_pipeline_executions_spooled_total", "counter",
         "Executions put in the local spool because the store failed.",
         &pipeline::PipelineStats::spooled);
  family("kagura_pipeline_executions_unspooled_total", "counter",
         "Executions delivered from the spool to the store.", &pipeline::PipelineStats::unspooled);
  family("kagura_pipeline_batches_total", "counter", "Write transactions committed.",
         &pipeline::PipelineStats::batches);
  family("kagura_pipeline_executions_pending", "gauge", "Executions queued or being written now.",
         &pipeline::PipelineStats::pending);
  family("kagura_pipeline_spool_executions_pending", "gauge",
         "Executions waiting in the spool directory, from any process.",
         &pipeline::PipelineStats::spool_pending);
  if (!per_process) return;
  out.family("kagura_pipeline_up", "gauge",
             "1 while the recording process runs, 0 once it has ended (its counters are final).");
  for (const auto& process : processes) {
    out.sample("kagura_pipeline_up", process.labels, std::uint64_t{process.running ? 1u : 0u});
  }
  out.family("kagura_pipeline_last_update_timestamp_seconds", "gauge",
             "When the recording process last published its counters (Unix seconds).");
  for (const auto& process : processes) {
    out.sample("kagura_pipeline_last_update_timestamp_seconds", process.labels, process.updated_at);
  }
}

std::string pipeline_exposition(const pipeline::PipelineStats& stats) {
  TextExposition out;
  write_pipeline_metrics(out, stats);
  return out.take();
}

}  // namespace kagura::metrics
