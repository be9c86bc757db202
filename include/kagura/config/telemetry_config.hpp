#pragma once

// Telemetry settings, from the environment first and ~/.kagura/.env second:
//
//   KAGURA_TELEMETRY_ENABLED           true|false  the global switch (default true)
//   KAGURA_TELEMETRY_BACKEND           sqlite (default)
//   KAGURA_TELEMETRY_CONNECTION        the store; for sqlite a path (default
//                                      ~/.kagura/telemetry.db) or :memory:
//   KAGURA_TELEMETRY_QUEUE_CAPACITY    executions waiting to be written (default 8192)
//   KAGURA_TELEMETRY_BATCH_SIZE        executions per transaction (default 4096)
//   KAGURA_TELEMETRY_FLUSH_INTERVAL_MS longest wait of a partial batch (default 200)
//   KAGURA_TELEMETRY_OVERFLOW          drop_newest (default) | drop_oldest | block
//   KAGURA_TELEMETRY_SPOOL             where executions wait while the store is unreachable
//                                      (default ~/.kagura/spool/<backend>-<hash>), or off
//   KAGURA_TELEMETRY_SPOOL_MAX_MB      the spool's size limit (default 1024)
//   KAGURA_TELEMETRY_DURABLE           true: each execution is stored (or spooled) before the
//                                      agent's call returns (pipeline/sync_writer.hpp);
//                                      default false
//
// and, to send every execution as OpenTelemetry traces too (docs/opentelemetry.md), the
// standard OTEL_EXPORTER_OTLP_ENDPOINT (gets /v1/traces appended) or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as it is), OTEL_EXPORTER_OTLP_HEADERS (k=v,k2=v2,
// values URL-encoded), OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds), OTEL_SERVICE_NAME and
// OTEL_SDK_DISABLED.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/config/paths.hpp"
#include "kagura/exporters/otlp_trace_exporter.hpp"
#include "kagura/pipeline/async_writer.hpp"

namespace kagura::config {

struct TelemetryConfig {
  bool enabled = true;
  std::string backend = "sqlite";
  std::string connection;  // empty: the backend's default
  pipeline::AsyncWriterOptions pipeline;
  // KAGURA_TELEMETRY_DURABLE: write on the agent's thread (pipeline::SyncWriter).
  bool durable = false;
  // Where the pipeline's counters are published for `kagura dashboard --prometheus`
  // (kagura/pipeline/process_status.hpp): <kagura home>/pipelines; empty: not published.
  std::filesystem::path status_directory;
  // The OpenTelemetry trace exporter; an empty endpoint: no export.
  exporters::OtlpExporterOptions otlp;
  // Where its batches wait while the endpoint is down (<kagura home>/spool/otlp-<hash of the
  // endpoint>); empty when KAGURA_TELEMETRY_SPOOL is off.
  std::filesystem::path otlp_spool_directory;
  // Why the OTEL_* settings were not used (a malformed endpoint or header, say), or empty. A
  // mistake there turns the export off, never the recording into the store.
  std::string otlp_problem;
  // Where each setting came from ("environment", the .env path or "default"); for messages.
  std::map<std::string, std::string, std::less<>> sources;
};

using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment process_environment();

// Throws ConfigError naming the variable, where it was set, and the accepted values; a
// malformed OTEL_* setting is reported in otlp_problem instead.
TelemetryConfig load_telemetry_config(const Environment& environment,
                                      const std::filesystem::path& kagura_home);
TelemetryConfig load_telemetry_config();

// What is wrong with an OTLP endpoint URL (not http:// or https://, no host, spaces), or empty
// when it will do; for messages that then say which setting holds it.
std::string otlp_endpoint_problem(std::string_view url);

}  // namespace kagura::config
