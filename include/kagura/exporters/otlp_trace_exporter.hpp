#pragma once

// Sends executions as OpenTelemetry traces (OTLP/HTTP with JSON bodies, POST {endpoint}) to
// whatever tracing system a team already runs: an OpenTelemetry Collector, Jaeger, Grafana
// Tempo, Langfuse, Arize Phoenix. Spans follow the GenAI semantic conventions; see
// docs/opentelemetry.md for the mapping.
//
// It is a pipeline::BatchDestination: behind an AsyncWriter (which Telemetry sets up when
// OTEL_EXPORTER_OTLP_ENDPOINT is configured) batches are serialised on the encoder thread and
// POSTed on the writer thread, never on the agent's. Answers 429, 502, 503 and 504 and
// connection failures are worth another attempt (RetryLaterError, with the Retry-After delay
// when given, or a plain error): the writer retries, then keeps the batch in its spool until
// the endpoint answers. Any other 4xx or 5xx is final (RejectedBatchError): the batch is
// counted as failed and not spooled, since sending it again would be refused again.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kagura/pipeline/batch_destination.hpp"

namespace kagura::exporters {

struct OtlpExporterOptions {
  // The full URL requests go to, e.g. http://localhost:4318/v1/traces.
  std::string endpoint{};
  // Sent with every request (an API key, say): OTEL_EXPORTER_OTLP_HEADERS.
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string service_name = "kagura";
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

class OtlpTraceExporter final : public pipeline::BatchDestination {
 public:
  // Throws std::invalid_argument when the endpoint is not an http:// or https:// URL.
  explicit OtlpTraceExporter(OtlpExporterOptions options);

  std::string backend_name() const override { return "otlp"; }
  // The endpoint, with a password in it masked.
  std::string location() const override;

  // POSTs the executions as one request and returns how many were sent.
  std::size_t save_executions(std::span<const telemetry::Execution* const> batch) override;
  std::unique_ptr<pipeline::PreparedBatch> prepare(
      std::vector<std::shared_ptr<const telemetry::Execution>> batch) override;
  std::size_t write_prepared(pipeline::PreparedBatch& batch) override;

  // The request body for `batch` (an ExportTraceServiceRequest as JSON).
  std::string request_body(std::span<const telemetry::Execution* const> batch) const;
  // POSTs a request body; throws as described above.
  void send(const std::string& body) const;

  const OtlpExporterOptions& options() const noexcept { return options_; }

 private:
  OtlpExporterOptions options_;
};

}  // namespace kagura::exporters
