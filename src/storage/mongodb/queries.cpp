#include "storage/mongodb/queries.hpp"

#include <string>

#include "storage/mongodb/execution_document.hpp"

namespace kagura::storage::mongo_detail {
namespace {

void append_string(bson_t* doc, const char* key, std::string_view text) {
  bson_append_utf8(doc, key, -1, text.data(), static_cast<int>(text.size()));
}

void append_sum(bson_t* group, const char* name, const char* expression) {
  bson_t sum;
  BSON_APPEND_DOCUMENT_BEGIN(group, name, &sum);
  BSON_APPEND_UTF8(&sum, "$sum", expression);
  bson_append_document_end(group, &sum);
}

void append_match_stage(bson_t* stages, const char* index, const ExecutionFilter& filter,
                        bool with_llm_calls_only) {
  bson_t stage, match;
  BSON_APPEND_DOCUMENT_BEGIN(stages, index, &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &match);
  append_filter(&match, filter);
  if (with_llm_calls_only) {
    bson_t positive;
    BSON_APPEND_DOCUMENT_BEGIN(&match, "llm_calls", &positive);
    BSON_APPEND_INT32(&positive, "$gt", 0);
    bson_append_document_end(&match, &positive);
  }
  bson_append_document_end(&stage, &match);
  bson_append_document_end(stages, &stage);
}

}  // namespace

void append_filter(bson_t* match, const ExecutionFilter& filter) {
  if (filter.agent_name) append_string(match, field::kAgent, *filter.agent_name);
  if (filter.status) append_string(match, field::kStatus, telemetry::to_string(*filter.status));
  if (filter.since || filter.until) {
    bson_t range;
    BSON_APPEND_DOCUMENT_BEGIN(match, field::kStartedAt, &range);
    if (filter.since) BSON_APPEND_DOUBLE(&range, "$gte", *filter.since);
    if (filter.until) BSON_APPEND_DOUBLE(&range, "$lt", *filter.until);
    bson_append_document_end(match, &range);
  }
}

void append_id_prefix(bson_t* match, std::string_view prefix) {
  const std::string end = std::string(prefix) + "\x7f";
  bson_t range;
  BSON_APPEND_DOCUMENT_BEGIN(match, field::kId, &range);
  append_string(&range, "$gte", prefix);
  append_string(&range, "$lt", end);
  bson_append_document_end(match, &range);
}

void build_totals_pipeline(bson_t* pipeline, const ExecutionFilter& filter, const char* key) {
  bson_t stages, stage, group, bound;
  BSON_APPEND_ARRAY_BEGIN(pipeline, "pipeline", &stages);
  append_match_stage(&stages, "0", filter, false);
  BSON_APPEND_DOCUMENT_BEGIN(&stages, "1", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$group", &group);
  BSON_APPEND_UTF8(&group, "_id", key);
  bson_t one;
  BSON_APPEND_DOCUMENT_BEGIN(&group, "executions", &one);
  BSON_APPEND_INT32(&one, "$sum", 1);
  bson_append_document_end(&group, &one);
  append_sum(&group, "with_duration", "$has_duration");
  append_sum(&group, "duration_sum", "$duration");
  for (const char* name :
       {"llm_calls", "tool_calls", "memory_operations", "prompt_tokens", "completion_tokens",
        "cached_tokens", "reasoning_tokens", "unpriced_llm_calls", "cost_nanos"}) {
    append_sum(&group, name, (std::string("$") + name).c_str());
  }
  BSON_APPEND_DOCUMENT_BEGIN(&group, "first_started_at", &bound);
  BSON_APPEND_UTF8(&bound, "$min", "$started_at");
  bson_append_document_end(&group, &bound);
  BSON_APPEND_DOCUMENT_BEGIN(&group, "last_started_at", &bound);
  BSON_APPEND_UTF8(&bound, "$max", "$started_at");
  bson_append_document_end(&group, &bound);
  bson_append_document_end(&stage, &group);
  bson_append_document_end(&stages, &stage);
  bson_append_array_end(pipeline, &stages);
}

void build_model_pipeline(bson_t* pipeline, const ExecutionFilter& filter) {
  bson_t stages, stage, group, one;
  BSON_APPEND_ARRAY_BEGIN(pipeline, "pipeline", &stages);
  append_match_stage(&stages, "0", filter, true);
  BSON_APPEND_DOCUMENT_BEGIN(&stages, "1", &stage);
  BSON_APPEND_UTF8(&stage, "$unwind", "$llm");
  bson_append_document_end(&stages, &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stages, "2", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$group", &group);
  BSON_APPEND_UTF8(&group, "_id", "$llm.model");
  BSON_APPEND_DOCUMENT_BEGIN(&group, "calls", &one);
  BSON_APPEND_INT32(&one, "$sum", 1);
  bson_append_document_end(&group, &one);
  for (const char* name : {"prompt_tokens", "completion_tokens", "cached_tokens",
                           "reasoning_tokens", "unpriced", "cost_nanos"}) {
    append_sum(&group, name, (std::string("$llm.") + name).c_str());
  }
  bson_append_document_end(&stage, &group);
  bson_append_document_end(&stages, &stage);
  bson_append_array_end(pipeline, &stages);
}

}  // namespace kagura::storage::mongo_detail
