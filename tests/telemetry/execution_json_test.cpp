#include "telemetry/execution_json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/telemetry/execution.hpp"
#include "support/record_expectations.hpp"

namespace kagura::telemetry {
namespace {

using test::expect_same_events;
using test::expect_same_execution;
using test::make_full_execution;
using test::make_llm_call;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// A root execution, still running, with nothing optional set.
Execution make_root_execution(double started_at) {
  Execution e;
  e.id = "0192f0a1b2c37d4e8f0123456789abcd";
  e.trace_id = e.id;
  e.agent_name = "root";
  e.started_at = started_at;
  e.status = ExecutionStatus::running;
  return e;
}

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Shape

TEST(ExecutionJson, TopLevelHasTheRfcShape) {
  const Execution e = make_full_execution();
  const json j = to_json(e);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(keys_of(j),
            (std::set<std::string>{"id", "trace_id", "parent_id", "agent_name", "started_at",
                                   "ended_at", "duration", "status", "error", "error_type",
                                   "kwargs", "events", "metrics", "tags"}));
  EXPECT_EQ(j["id"], e.id);
  EXPECT_EQ(j["trace_id"], e.trace_id);
  EXPECT_EQ(j["parent_id"], e.parent_id);
  EXPECT_EQ(j["agent_name"], "research-agent");
  EXPECT_EQ(j["started_at"].get<double>(), e.started_at);
  EXPECT_EQ(j["ended_at"].get<double>(), *e.ended_at);
  EXPECT_EQ(j["duration"].get<double>(), *e.duration);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error"], "tool exploded");
  EXPECT_EQ(j["error_type"], "RuntimeError");
  EXPECT_EQ(j["kwargs"], e.kwargs);
  EXPECT_EQ(j["tags"], (json{{"env", "test"}, {"team", "search"}}));

  ASSERT_TRUE(j["events"].is_array());
  ASSERT_EQ(j["events"].size(), e.events.size());
  const std::vector<std::string> types = {"llm_call",  "llm_call",         "tool_call",
                                          "tool_call", "memory_operation", "checkpoint"};
  for (std::size_t i = 0; i < types.size(); ++i) {
    const json& event = j["events"][i];
    EXPECT_EQ(keys_of(event), (std::set<std::string>{"type", "timestamp", "data"}));
    EXPECT_EQ(event["type"], types[i]);
    EXPECT_EQ(event["timestamp"].get<double>(), e.events[i].timestamp);
    EXPECT_TRUE(event["data"].is_object());
  }
}

TEST(ExecutionJson, RootRunningExecutionHasNullParentEndAndError) {
  const json j = to_json(make_root_execution(1700000000.0));
  EXPECT_EQ(keys_of(j), (std::set<std::string>{"id", "trace_id", "parent_id", "agent_name",
                                               "started_at", "ended_at", "duration", "status",
                                               "error", "kwargs", "events", "metrics", "tags"}));
  EXPECT_TRUE(j["parent_id"].is_null());
  EXPECT_TRUE(j["ended_at"].is_null());
  EXPECT_TRUE(j["duration"].is_null());
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["status"], "running");
  EXPECT_EQ(j["kwargs"], json::object());
  EXPECT_EQ(j["events"], json::array());
  EXPECT_EQ(j["tags"], json::object());
}

TEST(ExecutionJson, MetricsHaveEveryBuiltInAndCustomMetric) {
  const Execution e = make_full_execution();
  const json m = to_json(e)["metrics"];
  EXPECT_EQ(keys_of(m),
            (std::set<std::string>{"llm_calls", "tool_calls", "memory_operations", "prompt_tokens",
                                   "completion_tokens", "total_tokens", "cached_tokens",
                                   "reasoning_tokens", "unpriced_llm_calls", "total_cost",
                                   "quality", "label", "reviewed", "retries"}));
  EXPECT_EQ(m["llm_calls"], 2);
  EXPECT_EQ(m["tool_calls"], 2);
  EXPECT_EQ(m["memory_operations"], 1);
  EXPECT_EQ(m["prompt_tokens"], 1210);
  EXPECT_EQ(m["completion_tokens"], 365);
  EXPECT_EQ(m["total_tokens"], 1575);
  EXPECT_EQ(m["cached_tokens"], 1024);
  EXPECT_EQ(m["reasoning_tokens"], 100);
  EXPECT_EQ(m["unpriced_llm_calls"], 1);
  EXPECT_DOUBLE_EQ(m["total_cost"].get<double>(), 0.123456789);
  EXPECT_EQ(m["quality"], 0.875);
  EXPECT_EQ(m["label"], "good");
  EXPECT_EQ(m["reviewed"], true);
  EXPECT_EQ(m["retries"], 7);
}

TEST(ExecutionJson, LlmCallData) {
  const json data = to_json(Event{1.5, make_llm_call()})["data"];
  EXPECT_EQ(data["model"], "gpt-4o-mini");
  EXPECT_EQ(data["provider"], "openai");
  EXPECT_EQ(data["prompt_tokens"], 1200);
  EXPECT_EQ(data["completion_tokens"], 345);
  EXPECT_EQ(data["total_tokens"], 1545);
  EXPECT_EQ(data["cached_tokens"], 1024);
  EXPECT_EQ(data["cache_write_tokens"], 64);
  EXPECT_EQ(data["reasoning_tokens"], 100);
  EXPECT_EQ(data["duration"], 1.25);
  EXPECT_EQ(data["time_to_first_token"], 0.375);
  EXPECT_EQ(data["finish_reason"], "stop");
  EXPECT_EQ(data["retries"], 2);
  EXPECT_DOUBLE_EQ(data["cost"].get<double>(), 0.123456789);
  EXPECT_EQ(data["priced"], true);

  // Optional fields are left out when unknown; priced=false is shown.
  LlmCall bare;
  bare.model = "mystery";
  bare.prompt_tokens = 3;
  bare.priced = false;
  const json minimal = to_json(Event{2.0, bare});
  EXPECT_EQ(minimal["type"], "llm_call");
  EXPECT_EQ(minimal["timestamp"], 2.0);
  EXPECT_EQ(keys_of(minimal["data"]),
            (std::set<std::string>{"model", "prompt_tokens", "completion_tokens", "total_tokens",
                                   "cached_tokens", "reasoning_tokens", "duration", "retries",
                                   "cost", "priced"}));
  EXPECT_EQ(minimal["data"]["priced"], false);
  EXPECT_EQ(minimal["data"]["cost"], 0.0);
  EXPECT_EQ(minimal["data"]["total_tokens"], 3);
}

TEST(ExecutionJson, ToolCallDataHasErrorOnlyWhenFailed) {
  ToolCall ok;
  ok.tool_name = "search";
  ok.kwargs = {{"q", "kyoto"}};
  ok.duration = 0.5;
  const json ok_json = to_json(Event{3.0, ok});
  EXPECT_EQ(ok_json["type"], "tool_call");
  EXPECT_EQ(keys_of(ok_json["data"]),
            (std::set<std::string>{"tool_name", "kwargs", "duration", "success"}));
  EXPECT_EQ(ok_json["data"]["tool_name"], "search");
  EXPECT_EQ(ok_json["data"]["kwargs"], (json{{"q", "kyoto"}}));
  EXPECT_EQ(ok_json["data"]["duration"], 0.5);
  EXPECT_EQ(ok_json["data"]["success"], true);

  ToolCall failed = ok;
  failed.success = false;
  failed.error = "timeout";
  const json failed_json = to_json(Event{3.0, failed});
  EXPECT_EQ(keys_of(failed_json["data"]),
            (std::set<std::string>{"tool_name", "kwargs", "duration", "success", "error"}));
  EXPECT_EQ(failed_json["data"]["success"], false);
  EXPECT_EQ(failed_json["data"]["error"], "timeout");
}

TEST(ExecutionJson, MemoryAndCustomEventData) {
  MemoryOperation op;
  op.operation = "trim";
  op.duration = 0.001;
  op.items = 12;
  const json op_json = to_json(Event{4.0, op});
  EXPECT_EQ(op_json["type"], "memory_operation");
  EXPECT_EQ(keys_of(op_json["data"]), (std::set<std::string>{"operation", "duration", "items"}));
  EXPECT_EQ(op_json["data"]["items"], 12);

  const json custom = to_json(Event{5.0, CustomEvent{"handoff", {{"to", "writer"}}}});
  EXPECT_EQ(custom["type"], "handoff");
  EXPECT_EQ(custom["data"], (json{{"to", "writer"}}));
}

// ---------------------------------------------------------------------------------------------
// Round trip

TEST(ExecutionJson, RoundTripsEveryField) {
  const Execution e = make_full_execution();
  const Execution back = execution_from_json(to_json(e));
  expect_same_execution(e, back);
}

TEST(ExecutionJson, RoundTripsThroughText) {
  const Execution e = make_full_execution();
  std::string text;
  detail::write_execution_json(e, text);
  const Execution back = execution_from_json(json::parse(text));
  expect_same_execution(e, back);
}

TEST(ExecutionJson, RoundTripsARootExecution) {
  const Execution e = make_root_execution(1700000000.25);
  expect_same_execution(e, execution_from_json(to_json(e)));
}

TEST(ExecutionJson, CostNanosRoundTripExactly) {
  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::int64_t> nanos(0, 100'000'000'000'000);  // up to $100,000
  std::vector<std::int64_t> values = {0, 1, 7, 999, 123456789, 1'000'000'000, 987654321987};
  for (int i = 0; i < 2000; ++i) values.push_back(nanos(random));
  for (const std::int64_t value : values) {
    Execution e;
    e.id = "0192f0a1b2c37d4e8f0123456789abcd";
    e.agent_name = "a";
    LlmCall call;
    call.model = "m";
    call.cost_nanos = value;
    e.events.push_back(Event{1.0, call});
    e.metrics.add(call);
    const Execution back = execution_from_json(to_json(e));
    ASSERT_EQ(back.metrics.cost_nanos, value);
    ASSERT_EQ(std::get<LlmCall>(back.events.at(0).payload).cost_nanos, value);
  }
}

TEST(ExecutionJson, EventsMetricsAndTagsRoundTripThroughTheirOwnWriters) {
  const Execution e = make_full_execution();
  std::string text;
  detail::write_events_json(e.events, text);
  expect_same_events(e.events, detail::parse_events_json(text));

  detail::write_metrics_json(e.metrics, text);
  const Metrics metrics = detail::parse_metrics_json(text);
  EXPECT_EQ(metrics.cost_nanos, e.metrics.cost_nanos);
  EXPECT_EQ(metrics.prompt_tokens, e.metrics.prompt_tokens);
  EXPECT_EQ(metrics.unpriced_llm_calls, e.metrics.unpriced_llm_calls);
  EXPECT_EQ(metrics.custom, e.metrics.custom);

  detail::write_tags_json(e.tags, text);
  EXPECT_EQ(detail::parse_tags_json(text), e.tags);
}

TEST(EventsStorage, RoundTripsEveryKindOfEvent) {
  Execution e = make_full_execution();
  LlmCall big = make_llm_call();
  big.cost_nanos = 9'007'199'254'740'993;  // above 2^53: kept as an integer, not a double
  big.time_to_first_token.reset();
  e.events.push_back(Event{1700000004.0, big});
  MemoryOperation no_details;
  no_details.operation = "clear";
  e.events.push_back(Event{1700000005.0, no_details});
  std::string text;
  detail::write_events_storage(e.events, text);
  expect_same_events(e.events, detail::parse_events_storage(text));
  std::string empty;
  detail::write_events_storage({}, empty);
  EXPECT_TRUE(detail::parse_events_storage(empty).empty());
}

TEST(EventsStorage, SanitizesUtf8AndNonFiniteNumbers) {
  ToolCall tool;
  tool.tool_name = "sh\xC0";
  tool.kwargs = {{"arg", std::string("\xED\xA0\x80")}, {"x", std::nan("")}};
  std::string text;
  detail::write_events_storage({Event{std::numeric_limits<double>::infinity(), tool}}, text);
  EXPECT_TRUE(detail::is_valid_utf8(text));
  const auto events = detail::parse_events_storage(text);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].timestamp, 0.0);
  const auto& back = std::get<ToolCall>(events[0].payload);
  EXPECT_EQ(back.tool_name, "sh" + std::string(kReplacement));
  EXPECT_EQ(back.kwargs["arg"],
            std::string(kReplacement) + std::string(kReplacement) + std::string(kReplacement));
  EXPECT_TRUE(back.kwargs["x"].is_null());
}

TEST(EventsStorage, MalformedStoredEventsThrowInvalidArgument) {
  for (const char* bad : {"{}", "[1]", "[[]]", "[[\"l\", 1.0]]", "[[\"x\", 1, 2, 3, 4, 5, 6]]",
                          "[{\"type\": \"llm_call\"}]"}) {
    EXPECT_THROW((void)detail::parse_events_storage(bad), std::invalid_argument) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// UTF-8

TEST(ExecutionJson, InvalidUtf8IsReplacedAndTheOutputParses) {
  Execution e;
  e.id = "0192f0a1b2c37d4e8f0123456789abcd";
  e.agent_name = "agent\xff\xfe-name";
  e.kwargs = {{"prompt", std::string("caf\xC3\xA9 \xC0\xAF end")},
              {std::string("bad\x80key"), "v"},
              {"list", {std::string("\xED\xA0\x80"), "ok"}}};
  ToolCall tool;
  tool.tool_name = "shell\xE2\x82";
  tool.kwargs = {{"arg", std::string("x\xF0\x9F\x98")}};
  tool.success = false;
  tool.error = "bad byte \xFF";
  e.events.push_back(Event{1.0, tool});
  e.tags = {{"k\xC1", "v\xF5"}};
  e.error = "oops \x81";

  std::string text;
  detail::write_execution_json(e, text);
  EXPECT_TRUE(detail::is_valid_utf8(text));
  json j;
  ASSERT_NO_THROW(j = json::parse(text));
  EXPECT_EQ(j["agent_name"],
            std::string("agent") + std::string(kReplacement) + std::string(kReplacement) + "-name");
  EXPECT_EQ(j["kwargs"]["prompt"],
            "caf\xC3\xA9 " + std::string(kReplacement) + std::string(kReplacement) + " end");
  EXPECT_TRUE(j["kwargs"].contains("bad" + std::string(kReplacement) + "key"));
  EXPECT_EQ(j["kwargs"]["list"][0],
            std::string(kReplacement) + std::string(kReplacement) + std::string(kReplacement));
  EXPECT_EQ(j["kwargs"]["list"][1], "ok");
  const json& data = j["events"][0]["data"];
  EXPECT_THAT(data["tool_name"].get<std::string>(), HasSubstr("shell" + std::string(kReplacement)));
  EXPECT_THAT(data["kwargs"]["arg"].get<std::string>(), HasSubstr("x" + std::string(kReplacement)));
  EXPECT_EQ(data["error"], "bad byte " + std::string(kReplacement));
  EXPECT_EQ(j["error"], "oops " + std::string(kReplacement));
  EXPECT_EQ(j["tags"]["k" + std::string(kReplacement)], "v" + std::string(kReplacement));

  // to_json (which parses the text back) sees the same sanitised strings.
  const json via_to_json = to_json(e);
  EXPECT_EQ(via_to_json, j);
  // And the sanitised record can be read back.
  const Execution back = execution_from_json(via_to_json);
  EXPECT_TRUE(detail::is_valid_utf8(back.agent_name));
}

TEST(ExecutionJson, ValidUtf8IsKeptUnchanged) {
  Execution e;
  e.id = "0192f0a1b2c37d4e8f0123456789abcd";
  e.agent_name = "エージェント \xF0\x9F\xA4\x96 caf\xC3\xA9 \xE2\x82\xAC";
  e.kwargs = {{"emoji", "\xF0\x9F\x98\x80"}, {"max", "\xF4\x8F\xBF\xBF"}};
  const json j = to_json(e);
  EXPECT_EQ(j["agent_name"], e.agent_name);
  EXPECT_EQ(j["kwargs"], e.kwargs);
}

TEST(Utf8, IsValidUtf8) {
  using detail::is_valid_utf8;
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8(std::string_view("nul\0inside", 10)));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9"));          // é
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));      // €
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));  // 😀
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));      // U+E000, just above them

  EXPECT_FALSE(is_valid_utf8("\x80"));                  // lone continuation byte
  EXPECT_FALSE(is_valid_utf8("\xFF"));                  // never valid
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));              // overlong
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));          // overlong 3-byte '/'
  EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));      // overlong 4-byte '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));          // U+D800, a surrogate
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));          // U+DFFF, a surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));      // U+110000, out of range
  EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));  // 5-byte form
  EXPECT_FALSE(is_valid_utf8("\xC3"));                  // truncated 2-byte
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));              // truncated 3-byte
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));          // truncated 4-byte
  EXPECT_FALSE(is_valid_utf8("ok\xE2\x82"));            // truncated at the end
  EXPECT_FALSE(is_valid_utf8("\xC3x"));                 // continuation missing
}

TEST(Utf8, SanitizeReplacesEachBadByteAndKeepsGoodText) {
  using detail::sanitize_utf8;
  const std::string r(kReplacement);
  EXPECT_EQ(sanitize_utf8(""), "");
  EXPECT_EQ(sanitize_utf8("hello"), "hello");
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");  // emoji kept
  EXPECT_EQ(sanitize_utf8("a\xF0\x9F\x98\x80z"), "a\xF0\x9F\x98\x80z");
  EXPECT_EQ(sanitize_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(sanitize_utf8(std::string_view("a\0b", 3)), std::string("a\0b", 3));

  EXPECT_EQ(sanitize_utf8("\xFF"), r);
  EXPECT_EQ(sanitize_utf8("a\x80z"), "a" + r + "z");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), r + r);                  // overlong: no byte of it survives
  EXPECT_EQ(sanitize_utf8("\xE0\x80\xAF"), r + r + r);          // overlong 3-byte
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), r + r + r);          // surrogate
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), r + r + r + r);  // beyond U+10FFFF

  // A truncated sequence is replaced without swallowing the valid text after it.
  for (const std::string_view truncated : {"\xC3", "\xE2\x82", "\xF0\x9F\x98"}) {
    const std::string input = "a" + std::string(truncated) + "b\xC3\xA9";
    const std::string clean = sanitize_utf8(input);
    EXPECT_TRUE(detail::is_valid_utf8(clean)) << clean;
    EXPECT_TRUE(clean.starts_with("a" + r)) << clean;
    EXPECT_TRUE(clean.ends_with(r + "b\xC3\xA9")) << clean;
    EXPECT_EQ(sanitize_utf8(truncated).find_first_not_of(r), std::string::npos);
  }
  // A truncated emoji followed by a complete one keeps the complete one.
  EXPECT_TRUE(sanitize_utf8("\xF0\x9F\xF0\x9F\x98\x80").ends_with("\xF0\x9F\x98\x80"));
}

TEST(Utf8, SanitizeOfRandomBytesIsAlwaysValidAndIdempotent) {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 5000; ++i) {
    std::string input;
    const int n = length(random);
    for (int k = 0; k < n; ++k) input.push_back(static_cast<char>(byte(random)));
    const std::string clean = detail::sanitize_utf8(input);
    ASSERT_TRUE(detail::is_valid_utf8(clean));
    ASSERT_EQ(detail::sanitize_utf8(clean), clean);
    if (detail::is_valid_utf8(input)) {
      ASSERT_EQ(clean, input);
    }
    // nlohmann refuses to dump invalid UTF-8; the sanitised text always dumps and parses.
    ASSERT_EQ(json::parse(json(clean).dump()), clean);
  }
}

// ---------------------------------------------------------------------------------------------
// Non-finite numbers

TEST(ExecutionJson, NonFiniteDoublesBecomeNull) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  Execution e;
  e.id = "0192f0a1b2c37d4e8f0123456789abcd";
  e.agent_name = "a";
  e.started_at = 1700000000.0;
  e.ended_at = inf;
  e.duration = nan;
  e.kwargs = {{"x", nan}, {"y", -inf}, {"z", 1.5}};
  LlmCall call;
  call.model = "m";
  call.duration = nan;
  call.time_to_first_token = inf;
  e.events.push_back(Event{nan, call});
  e.events.push_back(Event{1.0, CustomEvent{"c", {{"v", inf}}}});
  e.metrics.custom.emplace("score", nan);

  std::string text;
  detail::write_execution_json(e, text);
  json j;
  ASSERT_NO_THROW(j = json::parse(text)) << text;
  EXPECT_TRUE(j["ended_at"].is_null());
  EXPECT_TRUE(j["duration"].is_null());
  EXPECT_TRUE(j["kwargs"]["x"].is_null());
  EXPECT_TRUE(j["kwargs"]["y"].is_null());
  EXPECT_EQ(j["kwargs"]["z"], 1.5);
  EXPECT_TRUE(j["events"][0]["timestamp"].is_null());
  EXPECT_TRUE(j["events"][0]["data"]["duration"].is_null());
  EXPECT_TRUE(j["events"][0]["data"]["time_to_first_token"].is_null());
  EXPECT_TRUE(j["events"][1]["data"]["v"].is_null());
  EXPECT_TRUE(j["metrics"]["score"].is_null());

  // Nulls read back as absent values, not as an error.
  const Execution back = execution_from_json(j);
  EXPECT_FALSE(back.ended_at.has_value());
  EXPECT_FALSE(back.duration.has_value());
  EXPECT_EQ(back.events.at(0).timestamp, 0.0);
  EXPECT_FALSE(std::get<LlmCall>(back.events.at(0).payload).time_to_first_token.has_value());
}

// ---------------------------------------------------------------------------------------------
// Malformed input

json valid_json() {
  return to_json(make_full_execution());
}

void expect_invalid(const json& input, std::string_view field) {
  try {
    (void)execution_from_json(input);
    ADD_FAILURE() << "no exception for " << input.dump();
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr(std::string(field))) << input.dump();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not std::invalid_argument: " << e.what() << " for " << input.dump();
  }
}

// The valid record with the value at `pointer` (a JSON pointer) replaced by `value` is rejected
// with a message naming `field`.
void expect_invalid_with(const std::string& pointer, const json& value, std::string_view field) {
  json j = valid_json();
  j[json::json_pointer(pointer)] = value;
  expect_invalid(j, field);
}

// The valid record with the member at `pointer` removed is rejected with a message naming
// `field`.
void expect_invalid_without(const std::string& pointer, std::string_view field) {
  json j = valid_json();
  const json::json_pointer member(pointer);
  j[member.parent_pointer()].erase(member.back());
  expect_invalid(j, field);
}

TEST(ExecutionJsonMalformed, NotAnObject) {
  expect_invalid(json::array(), "execution");
  expect_invalid(json("text"), "execution");
}

TEST(ExecutionJsonMalformed, MissingOrBadId) {
  expect_invalid_without("/id", "id");
  expect_invalid_with("/id", "", "id");
  expect_invalid_with("/id", 42, "id");
}

TEST(ExecutionJsonMalformed, MissingAgentName) {
  expect_invalid_without("/agent_name", "agent_name");
}

TEST(ExecutionJsonMalformed, EventsNotAnArray) {
  expect_invalid_with("/events", json::object(), "events");
  expect_invalid_with("/events", "[]", "events");
}

TEST(ExecutionJsonMalformed, BadStatus) {
  expect_invalid_with("/status", "exploded", "status");
  expect_invalid_with("/status", 3, "status");
}

TEST(ExecutionJsonMalformed, BadNumbers) {
  expect_invalid_with("/started_at", "yesterday", "started_at");
  expect_invalid_with("/events/0/data/prompt_tokens", "many", "prompt_tokens");
  expect_invalid_with("/events/0/timestamp", "now", "timestamp");
}

TEST(ExecutionJsonMalformed, EventWithoutType) {
  expect_invalid_without("/events/5/type", "type");
  expect_invalid_with("/events/0", 17, "event");
}

TEST(ExecutionJsonMalformed, BadMetrics) {
  expect_invalid_with("/metrics", json::array(), "metrics");
  expect_invalid_with("/metrics/llm_calls", "two", "llm_calls");
  expect_invalid_with("/metrics/total_cost", "a lot", "total_cost");
}

TEST(ExecutionJsonMalformed, BadBooleansAndEventData) {
  expect_invalid_with("/events/0/data/priced", "yes", "priced");
  expect_invalid_with("/events/2/data/success", 1, "success");
  expect_invalid_with("/events/0/data", "not an object", "data");
}

TEST(ExecutionJsonMalformed, StoredEventsTextThatIsNotAnArray) {
  EXPECT_THROW((void)detail::parse_events_json("{}"), std::invalid_argument);
  EXPECT_THROW((void)detail::parse_tags_json("[]"), std::invalid_argument);
}

}  // namespace
}  // namespace kagura::telemetry
