#pragma once

// The filters, sorts and aggregation pipelines the store sends, as BSON. They use only what
// MongoDB has had since 3.x ($match, $group with $sum/$min/$max, $unwind, comparison
// operators), which the test server (CongoDB) runs too.

#include <bson/bson.h>

#include <string>
#include <string_view>

#include "kagura/storage/query.hpp"
#include "storage/mongodb/mongo_handles.hpp"

namespace kagura::storage::mongo_detail {

// Appends the conditions of `filter` (agent, status, [since, until) on started_at) to `match`.
void append_filter(bson_t* match, const ExecutionFilter& filter);

// Executions whose id starts with `prefix`: a range on the indexed id, since every id with the
// prefix sorts between the prefix and the prefix followed by DEL.
void append_id_prefix(bson_t* match, std::string_view prefix);

// The $group fields summing what Totals hold (without durations), grouped by `key` ("$status",
// "$agent_name", "$day").
void build_totals_pipeline(bson_t* pipeline, const ExecutionFilter& filter, const char* key);

// LLM calls of the matching executions grouped by model, via $unwind of the `llm` array.
void build_model_pipeline(bson_t* pipeline, const ExecutionFilter& filter);

}  // namespace kagura::storage::mongo_detail
