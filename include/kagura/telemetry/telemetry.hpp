#pragma once

// A store, the asynchronous writer in front of it and the collector agents record with, as one
// object; and the process-wide instance agents use when nothing else is set up.
//
//   auto store = std::make_shared<kagura::storage::SqliteStore>(":memory:");
//   auto telemetry = std::make_shared<kagura::telemetry::Telemetry>(store);
//   kagura::telemetry::set_global_telemetry(telemetry);
//
// Without set_global_telemetry(), the first get_global_telemetry() configures itself from the
// environment and ~/.kagura/.env, creating ~/.kagura on a first run with a one-line notice.

#include <chrono>
#include <filesystem>
#include <memory>

#include "kagura/alerts/rule.hpp"
#include "kagura/pipeline/async_writer.hpp"
#include "kagura/pipeline/sync_writer.hpp"
#include "kagura/storage/storage_adapter.hpp"
#include "kagura/telemetry/collector.hpp"

namespace kagura::pricing {
class PriceTable;
}
namespace kagura::config {
struct TelemetryConfig;
}
namespace kagura::alerts {
class AlertingSink;
}
namespace kagura::pipeline {
class StatusPublisher;
}

namespace kagura::telemetry {

struct TelemetryOptions {
  pipeline::AsyncWriterOptions pipeline;
  // Flush on SIGINT/SIGTERM when the program has not set its own handlers.
  bool flush_on_signals = true;
  // Defaults to the shipped price table with ~/.kagura/pricing.json merged in.
  std::shared_ptr<const pricing::PriceTable> prices;
  // Alert rules checked as executions finish, on a thread of their own (kagura/alerts/). None by
  // default; from_config() loads ~/.kagura/alerts.json when it exists.
  std::vector<alerts::Rule> alert_rules;
  // Where the pipeline's counters are published every status_interval for `kagura dashboard
  // --prometheus` (kagura/pipeline/process_status.hpp); empty: not published. from_config()
  // sets <kagura home>/pipelines.
  std::filesystem::path status_directory;
  std::chrono::milliseconds status_interval{std::chrono::seconds(5)};
  // A second destination every execution goes to, through an asynchronous writer of its own
  // (an exporters::OtlpTraceExporter, say); from_config() sets it when
  // OTEL_EXPORTER_OTLP_ENDPOINT is configured. Its pipeline options: `pipeline`, with
  // exporter_spool_directory as the spool.
  std::shared_ptr<pipeline::BatchDestination> exporter;
  std::filesystem::path exporter_spool_directory;
  // The durable mode (KAGURA_TELEMETRY_DURABLE): each execution is in the store, or in the
  // spool, before the agent's call returns (pipeline::SyncWriter, with the retry and spool
  // settings of `pipeline`), instead of going through the asynchronous writer.
  bool durable = false;
};

class Telemetry {
 public:
  explicit Telemetry(std::shared_ptr<storage::StorageAdapter> store,
                     const TelemetryOptions& options = {});
  // A Telemetry that records nothing.
  static std::shared_ptr<Telemetry> disabled();
  // Builds the store a configuration names. Throws config::ConfigError or storage::StorageError.
  static std::shared_ptr<Telemetry> from_config(const config::TelemetryConfig& config);
  ~Telemetry();

  Collector& collector() noexcept { return *collector_; }
  // nullptr for a disabled Telemetry.
  storage::StorageAdapter* store() noexcept { return store_.get(); }
  bool enabled() const noexcept { return writer_ != nullptr || durable_writer_ != nullptr; }
  // nullptr without alert rules.
  alerts::AlertingSink* alerts() noexcept { return alerts_.get(); }

  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  pipeline::PipelineStats stats() const;
  // The exporter's writer (TelemetryOptions::exporter); nullptr without one.
  pipeline::AsyncWriter* exporter_writer() noexcept { return exporter_writer_.get(); }
  pipeline::PipelineStats exporter_stats() const;
  void shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  Telemetry() = default;
  std::shared_ptr<storage::StorageAdapter> store_;
  std::shared_ptr<pipeline::AsyncWriter> writer_;
  std::shared_ptr<pipeline::SyncWriter> durable_writer_;  // instead of writer_, when durable
  std::shared_ptr<pipeline::AsyncWriter> exporter_writer_;
  std::shared_ptr<alerts::AlertingSink> alerts_;
  std::unique_ptr<pipeline::StatusPublisher> status_publisher_;
  std::unique_ptr<Collector> collector_;
};

// The process-wide Telemetry, created on first use. Never throws: a configuration or store
// error is reported once as a notice and telemetry stays off for the process.
std::shared_ptr<Telemetry> get_global_telemetry();
void set_global_telemetry(std::shared_ptr<Telemetry> telemetry);

// The global off switch, on top of KAGURA_TELEMETRY_ENABLED: while false, no collector records.
void set_telemetry_enabled(bool enabled) noexcept;
bool telemetry_enabled() noexcept;

}  // namespace kagura::telemetry
