#include "kagura/telemetry/telemetry.hpp"

#include <atomic>
#include <mutex>

#include "kagura/alerts/alerting_sink.hpp"
#include "kagura/alerts/rules_file.hpp"
#include "kagura/config/paths.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/exporters/otlp_trace_exporter.hpp"
#include "kagura/pipeline/exit_flush.hpp"
#include "kagura/pipeline/process_status.hpp"
#include "kagura/pricing/price_table.hpp"
#include "kagura/storage/deferred_store.hpp"
#include "kagura/storage/factory.hpp"
#include "kagura/telemetry/fan_out_sink.hpp"
#include "kagura/telemetry/notice.hpp"
#include "telemetry/global_switch.hpp"

namespace kagura::telemetry {
namespace {

class DiscardingSink final : public ExecutionSink {
 public:
  void submit(std::shared_ptr<const Execution>) noexcept override {}
};

std::shared_ptr<const pricing::PriceTable> default_prices() {
  try {
    return std::make_shared<const pricing::PriceTable>(
        pricing::load_price_table(config::kagura_home()));
  } catch (const std::exception& e) {
    notify(std::string(e.what()) + "; using the shipped prices only");
    return std::make_shared<const pricing::PriceTable>(pricing::PriceTable::builtin());
  }
}

std::atomic<std::shared_ptr<Telemetry>> g_global;
std::mutex g_global_init;

}  // namespace

namespace detail {
std::atomic<bool> g_telemetry_enabled{true};
}

Telemetry::Telemetry(std::shared_ptr<storage::StorageAdapter> store,
                     const TelemetryOptions& options)
    : store_(std::move(store)) {
  if (!store_) throw std::invalid_argument("Telemetry needs a store");
  std::shared_ptr<ExecutionSink> store_sink;
  if (options.durable) {
    durable_writer_ = std::make_shared<pipeline::SyncWriter>(store_, options.pipeline);
    store_sink = durable_writer_;
  } else {
    writer_ = std::make_shared<pipeline::AsyncWriter>(store_, options.pipeline);
    store_sink = writer_;
  }
  auto prices = options.prices ? options.prices : default_prices();
  std::shared_ptr<ExecutionSink> sink = store_sink;
  if (options.exporter) {
    auto exporter_pipeline = options.pipeline;
    exporter_pipeline.spool_directory = options.exporter_spool_directory;
    exporter_writer_ = std::make_shared<pipeline::AsyncWriter>(options.exporter, exporter_pipeline);
    sink = std::make_shared<FanOutSink>(
        std::vector<std::shared_ptr<ExecutionSink>>{store_sink, exporter_writer_});
  }
  if (!options.alert_rules.empty()) {
    alerts_ = std::make_shared<alerts::AlertingSink>(sink, options.alert_rules);
    sink = alerts_;
  }
  collector_ = std::make_unique<Collector>(std::move(sink), std::move(prices));
  if (!options.status_directory.empty()) {
    pipeline::ProcessStatus identity;
    identity.backend = store_->backend_name();
    identity.location = store_->location();
    status_publisher_ = std::make_unique<pipeline::StatusPublisher>(
        options.status_directory, std::move(identity),
        [writer = writer_, durable = durable_writer_] {
          return durable ? durable->stats() : writer->stats();
        },
        options.status_interval);
  }
  if (options.flush_on_signals) pipeline::install_signal_flush();
}

std::shared_ptr<Telemetry> Telemetry::disabled() {
  std::shared_ptr<Telemetry> telemetry(new Telemetry());
  telemetry->collector_ = std::make_unique<Collector>(
      std::make_shared<DiscardingSink>(),
      std::make_shared<const pricing::PriceTable>(pricing::PriceTable::builtin()));
  telemetry->collector_->set_enabled(false);
  return telemetry;
}

std::shared_ptr<Telemetry> Telemetry::from_config(const config::TelemetryConfig& config) {
  if (!config.enabled) return disabled();
  TelemetryOptions options;
  options.pipeline = config.pipeline;
  options.alert_rules = alerts::load_default_rules_or_notify();
  options.status_directory = config.status_directory;
  options.durable = config.durable;
  std::shared_ptr<storage::StorageAdapter> store;
  try {
    store = storage::create_storage_adapter(config.backend, config.connection);
  } catch (const storage::StoreUnreachableError& e) {
    // Without a spool the executions would have nowhere to wait: the error stands.
    if (config.pipeline.spool_directory.empty()) throw;
    notify(std::string(e.what()) + ". Recording continues: executions are kept in the spool " +
           config.pipeline.spool_directory.string() + " and delivered when the server answers");
    store = std::make_shared<storage::DeferredStore>(config.backend, config.connection);
  }
  if (!config.otlp_problem.empty()) {
    notify(config.otlp_problem +
           ". OpenTelemetry export is off until that is fixed; recording "
           "into the store goes on");
  }
  if (!config.otlp.endpoint.empty()) {
    options.exporter = std::make_shared<exporters::OtlpTraceExporter>(config.otlp);
    options.exporter_spool_directory = config.otlp_spool_directory;
  }
  return std::make_shared<Telemetry>(std::move(store), options);
}

Telemetry::~Telemetry() {
  shutdown();
}

bool Telemetry::flush(std::chrono::milliseconds timeout) {
  const bool written = writer_ ? writer_->flush(timeout) : true;
  const bool exported = exporter_writer_ ? exporter_writer_->flush(timeout) : true;
  return (alerts_ ? alerts_->flush(timeout) : true) && written && exported;
}

pipeline::PipelineStats Telemetry::stats() const {
  if (durable_writer_) return durable_writer_->stats();
  return writer_ ? writer_->stats() : pipeline::PipelineStats{};
}

pipeline::PipelineStats Telemetry::exporter_stats() const {
  return exporter_writer_ ? exporter_writer_->stats() : pipeline::PipelineStats{};
}

void Telemetry::shutdown(std::chrono::milliseconds timeout) {
  if (writer_) writer_->shutdown(timeout);
  if (durable_writer_) durable_writer_->shutdown(timeout);
  if (exporter_writer_) exporter_writer_->shutdown(timeout);
  // After the writer, so that the last counters published are final.
  if (status_publisher_) status_publisher_->stop();
  if (alerts_) alerts_->shutdown(timeout);
}

std::shared_ptr<Telemetry> get_global_telemetry() {
  if (auto existing = g_global.load(std::memory_order_acquire)) return existing;
  std::lock_guard lock(g_global_init);
  if (auto existing = g_global.load(std::memory_order_acquire)) return existing;
  std::shared_ptr<Telemetry> created;
  try {
    const auto home = config::kagura_home();
    const auto config = config::load_telemetry_config(config::process_environment(), home);
    const bool first_use = config.enabled && !std::filesystem::exists(home);
    if (first_use) std::filesystem::create_directories(home);
    created = Telemetry::from_config(config);
    // Announced only once the store is open: if opening it fails, telemetry is off and the
    // notice below says so, instead of a claim that it is being recorded.
    if (first_use) {
      notify("initialised " + home.string() + " on first use: telemetry is recorded to " +
             (config.connection.empty() ? (home / "telemetry.db").string() : config.connection) +
             ". Run 'kagura init' for advanced configuration (another backend, say).");
    }
  } catch (const std::exception& e) {
    notify(std::string("telemetry is off for this process: ") + e.what());
    created = Telemetry::disabled();
  }
  g_global.store(created, std::memory_order_release);
  return created;
}

void set_global_telemetry(std::shared_ptr<Telemetry> telemetry) {
  std::lock_guard lock(g_global_init);
  g_global.store(std::move(telemetry), std::memory_order_release);
}

void set_telemetry_enabled(bool enabled) noexcept {
  detail::g_telemetry_enabled.store(enabled, std::memory_order_relaxed);
}

bool telemetry_enabled() noexcept {
  return detail::g_telemetry_enabled.load(std::memory_order_relaxed);
}

}  // namespace kagura::telemetry
