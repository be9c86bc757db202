#pragma once

// The document of one execution. Summary fields are typed BSON fields, so that filters, sorts
// and aggregation pipelines run on the server; kwargs, events, custom metrics and tags are JSON
// text in the same encodings as SQLite's columns, since no query looks inside them and the
// compact event encoding keeps documents small. Each LLM call's cost fields are repeated in the
// `llm` array, for the cost-by-model pipeline ($unwind).

#include <bson/bson.h>

#include <cstdint>
#include <string>

#include "kagura/telemetry/execution.hpp"
#include "telemetry/execution_json.hpp"

namespace kagura::storage::mongo_detail {

// Field names shared by the documents, the filters and the pipelines.
namespace field {
inline constexpr const char* kId = "execution_id";
inline constexpr const char* kTraceId = "trace_id";
inline constexpr const char* kParentId = "parent_id";
inline constexpr const char* kAgent = "agent_name";
inline constexpr const char* kStartedAt = "started_at";
inline constexpr const char* kDuration = "duration";         // absent when unknown
inline constexpr const char* kHasDuration = "has_duration";  // 0 or 1, summed by pipelines
inline constexpr const char* kStatus = "status";
inline constexpr const char* kDay = "day";  // UTC YYYY-MM-DD of started_at
inline constexpr const char* kLlm = "llm";
}  // namespace field

// Appends the fields of `execution` to `out` (no _id: the driver adds an ObjectId). `arena` is
// scratch space for the JSON text.
void encode_execution(const telemetry::Execution& execution, telemetry::detail::JsonArena& arena,
                      bson_t* out);

// Throws std::invalid_argument on a document that is not one of ours.
telemetry::Execution decode_execution(const bson_t* document, bool with_events);

// Numbers as stored: servers may hand back an integral double as int32 or int64, and a small
// int64 as int32.
double number_or(const bson_t* document, const char* key, double fallback);
std::int64_t integer_or(const bson_t* document, const char* key, std::int64_t fallback);
std::string text_or(const bson_t* document, const char* key, std::string fallback = {});

}  // namespace kagura::storage::mongo_detail
