#pragma once

// Executions as OTLP/JSON trace requests (ExportTraceServiceRequest), following the
// OpenTelemetry GenAI semantic conventions: one `invoke_agent {agent}` span per execution, with
// a `chat {model}` span per LLM call, an `execute_tool {tool}` span per tool call and a span per
// memory operation as its children. A nested execution's span is a child of its parent's, in
// the trace of the root execution.
//
// Ids are derived from the execution ids, never drawn at random, so that an execution exported
// twice (a retried batch, a second `kagura monitor export`) carries the same trace and span ids
// and a receiver can tell it is the same.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "kagura/telemetry/execution.hpp"

namespace kagura::exporters {

struct OtlpResource {
  std::string service_name = "kagura";
};

// The request body for `executions`, as compact JSON.
std::string otlp_trace_request(std::span<const telemetry::Execution* const> executions,
                               const OtlpResource& resource);

// How many spans otlp_trace_request() makes of one execution.
std::size_t otlp_span_count(const telemetry::Execution& execution);

// The 32-hex trace id of an execution's trace, and the 16-hex span id of an execution (or of
// its event number `event_index` when given).
std::string otlp_trace_id(const telemetry::Execution& execution);
std::string otlp_span_id(std::string_view execution_id);
std::string otlp_event_span_id(std::string_view execution_id, std::size_t event_index);

// The conventions' gen_ai.provider.name for a provider as Kagura names it (mistral ->
// mistral_ai, gemini -> gcp.gemini, ...).
std::string otlp_provider_name(std::string_view provider);

}  // namespace kagura::exporters
