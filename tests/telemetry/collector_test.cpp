#include "kagura/telemetry/collector.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <future>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kagura/pipeline/async_writer.hpp"
#include "kagura/pipeline/batch_destination.hpp"
#include "kagura/pricing/price_table.hpp"
#include "kagura/telemetry/fan_out_sink.hpp"
#include "kagura/telemetry/ids.hpp"
#include "kagura/telemetry/json_reuse.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/test_support.hpp"

namespace kagura::telemetry {
namespace {

using kagura::test::NoticeCapture;

// Stores what the collector submits, so tests can look at finished executions.
class CapturingSink final : public ExecutionSink {
 public:
  void submit(std::shared_ptr<const Execution> execution) noexcept override {
    std::lock_guard lock(mutex_);
    executions_.push_back(std::move(execution));
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return executions_.size();
  }
  // A copy of the index-th submitted execution.
  Execution at(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return *executions_.at(index);
  }
  std::vector<Execution> all() const {
    std::lock_guard lock(mutex_);
    std::vector<Execution> out;
    for (const auto& e : executions_) out.push_back(*e);
    return out;
  }
  Execution find(const std::string& id) const {
    std::lock_guard lock(mutex_);
    for (const auto& e : executions_) {
      if (e->id == id) return *e;
    }
    throw std::runtime_error("no execution " + id + " was submitted");
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const Execution>> executions_;
};

// Turns the global switch back on whatever a test does.
struct GlobalSwitchRestorer {
  ~GlobalSwitchRestorer() { set_telemetry_enabled(true); }
};

class CollectorTest : public ::testing::Test {
 protected:
  std::shared_ptr<CapturingSink> sink = std::make_shared<CapturingSink>();
  std::shared_ptr<const pricing::PriceTable> prices =
      std::make_shared<const pricing::PriceTable>(pricing::PriceTable::builtin());
  Collector collector{sink, prices};

  NanoUsd price_of(std::string_view model, std::int64_t prompt, std::int64_t completion,
                   std::int64_t cached = 0) const {
    const auto result = prices->cost(
        model, {.prompt_tokens = prompt, .completion_tokens = completion, .cached_tokens = cached});
    EXPECT_TRUE(result.priced) << model;
    return result.cost_nanos;
  }
};

const LlmCall& llm_of(const Event& event) {
  return std::get<LlmCall>(event.payload);
}
const ToolCall& tool_of(const Event& event) {
  return std::get<ToolCall>(event.payload);
}

TEST_F(CollectorTest, ScopeRecordsEventsInOrderWithTimestamps) {
  const double before = unix_now();
  std::string id;
  {
    auto scope = collector.track_execution("translator", {{"text", "hello"}});
    ASSERT_TRUE(scope.active());
    id = scope.id();
    scope.record_llm_call({.model = "gpt-4o-mini",
                           .provider = "openai",
                           .prompt_tokens = 12,
                           .completion_tokens = 7,
                           .duration = 0.25,
                           .time_to_first_token = 0.05,
                           .finish_reason = "stop",
                           .retries = 1});
    scope.record_tool_call(
        {.tool_name = "search", .kwargs = {{"query", "kagura"}}, .duration = 0.5});
    scope.record_memory_operation(
        {.operation = "add", .memory_type = "working", .duration = 0.001, .items = 3});
    scope.record_event("checkpoint", {{"step", 4}});
    EXPECT_EQ(sink->size(), 0U) << "nothing is submitted before the scope ends";
  }
  const double after = unix_now();

  ASSERT_EQ(sink->size(), 1U);
  const Execution e = sink->at(0);
  EXPECT_EQ(e.id, id);
  EXPECT_EQ(e.id.size(), 32U);
  EXPECT_EQ(e.trace_id, e.id);
  EXPECT_TRUE(e.parent_id.empty());
  EXPECT_EQ(e.agent_name, "translator");
  EXPECT_EQ(e.kwargs, nlohmann::json({{"text", "hello"}}));
  EXPECT_EQ(e.status, ExecutionStatus::completed);
  EXPECT_TRUE(e.error.empty());

  ASSERT_EQ(e.events.size(), 4U);
  EXPECT_EQ(e.events[0].type(), "llm_call");
  EXPECT_EQ(e.events[1].type(), "tool_call");
  EXPECT_EQ(e.events[2].type(), "memory_operation");
  EXPECT_EQ(e.events[3].type(), "checkpoint");
  for (std::size_t i = 0; i < e.events.size(); ++i) {
    EXPECT_GE(e.events[i].timestamp, before);
    EXPECT_LE(e.events[i].timestamp, after);
    EXPECT_GE(e.events[i].timestamp, e.started_at);
    if (i > 0) {
      EXPECT_GE(e.events[i].timestamp, e.events[i - 1].timestamp);
    }
  }

  const LlmCall& llm = llm_of(e.events[0]);
  EXPECT_EQ(llm.model, "gpt-4o-mini");
  EXPECT_EQ(llm.provider, "openai");
  EXPECT_EQ(llm.prompt_tokens, 12);
  EXPECT_EQ(llm.completion_tokens, 7);
  EXPECT_DOUBLE_EQ(llm.duration, 0.25);
  ASSERT_TRUE(llm.time_to_first_token.has_value());
  EXPECT_DOUBLE_EQ(*llm.time_to_first_token, 0.05);
  EXPECT_EQ(llm.finish_reason, "stop");
  EXPECT_EQ(llm.retries, 1);

  const ToolCall& tool = tool_of(e.events[1]);
  EXPECT_EQ(tool.tool_name, "search");
  EXPECT_EQ(tool.kwargs, nlohmann::json({{"query", "kagura"}}));
  EXPECT_DOUBLE_EQ(tool.duration, 0.5);
  EXPECT_TRUE(tool.success);

  const auto& memory = std::get<MemoryOperation>(e.events[2].payload);
  EXPECT_EQ(memory.operation, "add");
  EXPECT_EQ(memory.memory_type, "working");
  EXPECT_EQ(memory.items, 3);

  const auto& custom = std::get<CustomEvent>(e.events[3].payload);
  EXPECT_EQ(custom.type, "checkpoint");
  EXPECT_EQ(custom.data, nlohmann::json({{"step", 4}}));

  EXPECT_EQ(e.metrics.llm_calls, 1);
  EXPECT_EQ(e.metrics.tool_calls, 1);
  EXPECT_EQ(e.metrics.memory_operations, 1);
}

// Copies each execution and lets it go at once, as the pipeline does once a batch is encoded,
// so that the collector's recycled records come back to the next execution.
class CopyingSink final : public ExecutionSink {
 public:
  void submit(std::shared_ptr<const Execution> execution) noexcept override {
    records.push_back(execution.get());
    copies.push_back(*execution);
  }
  std::vector<const Execution*> records;
  std::vector<Execution> copies;
};

// An execution's JSON without what differs from one run to the next (ids, times).
nlohmann::json without_ids_and_times(const Execution& e) {
  nlohmann::json json = to_json(e);
  for (const char* field : {"id", "trace_id", "started_at", "ended_at", "duration"}) {
    json.erase(field);
  }
  for (auto& event : json.at("events")) event.erase("timestamp");
  return json;
}

// Upper-cases every string it copies, to show that the recorded arguments are what the
// filter wrote.
void upper_case_strings(nlohmann::json& recorded, const nlohmann::json& arguments) {
  copy_json_reusing(recorded, arguments);
  std::vector<nlohmann::json*> pending{&recorded};
  while (!pending.empty()) {
    nlohmann::json* value = pending.back();
    pending.pop_back();
    if (value->is_string()) {
      for (char& c : value->get_ref<std::string&>()) c = static_cast<char>(std::toupper(c));
    } else if (value->is_structured()) {
      for (auto& item : *value) pending.push_back(&item);
    }
  }
}

// Executions of different shapes, so that a recycled record holds another shape than the one
// recorded into it: events of other kinds, more or fewer of them, other argument trees.
void record_scenario(Collector& collector, int scenario) {
  switch (scenario) {
    case 0: {
      auto scope = collector.track_execution(
          "researcher", {{"topic", "a topic long enough to live on the heap"}, {"depth", 2}},
          &upper_case_strings);
      scope.record_llm_call(
          {.model = "gpt-4o-mini", .prompt_tokens = 100, .completion_tokens = 20, .duration = 1});
      scope.record_tool_call({.tool_name = "search", .duration = 0.5},
                             {{"query", "kagura history"}, {"limit", 5}}, nullptr);
      scope.record_event("checkpoint", {{"step", 1}});
      scope.record_memory_operation({.operation = "add", .memory_type = "conversation"});
      scope.record_llm_call({.model = "gpt-4o",
                             .prompt_tokens = 10,
                             .completion_tokens = 5,
                             .time_to_first_token = 0.1,
                             .finish_reason = "stop"});
      break;
    }
    case 1: {
      auto scope = collector.track_execution("coder", {{"task", {"one", "two", "three"}}}, nullptr);
      scope.record_tool_call({.tool_name = "compile", .success = false, .error = "syntax error"},
                             {{"files", {"a.cpp", "b.cpp"}}}, &upper_case_strings);
      scope.record_tool_call({.tool_name = "run", .kwargs = {{"argv", {"--fast"}}}});
      scope.fail("did not compile");
      break;
    }
    case 2: {
      auto scope = collector.track_execution("idle", nullptr, nullptr);
      break;
    }
    case 3: {
      auto scope = collector.track_execution("chatter", "not an object", nullptr);
      scope.record_memory_operation(
          {.operation = "read", .memory_type = "conversation", .items = 4, .details = {{"k", 1}}});
      scope.record_llm_call({.model = "claude-sonnet-4-5",
                             .provider = "anthropic",
                             .prompt_tokens = 7,
                             .completion_tokens = 3,
                             .cost_usd = 0.25});
      scope.record_event("note", {{"text", "a note long enough to live on the heap"}});
      scope.add_tag("team", "blue");
      break;
    }
  }
}

TEST_F(CollectorTest, ARecycledRecordHoldsOnlyWhatItsOwnExecutionRecorded) {
  // Each scenario recorded once into records that are kept, as a reference.
  constexpr int kScenarios = 4;
  for (int scenario = 0; scenario < kScenarios; ++scenario) record_scenario(collector, scenario);
  ASSERT_EQ(sink->size(), static_cast<std::size_t>(kScenarios));

  // Then in an order where each shape follows each other one, records coming straight back.
  auto copying = std::make_shared<CopyingSink>();
  Collector recycling{copying, prices};
  const std::vector<int> order = {0, 1, 2, 3, 0, 2, 1, 3, 1, 0, 3, 2, 0, 0, 3, 3};
  for (int scenario : order) record_scenario(recycling, scenario);
  ASSERT_EQ(copying->copies.size(), order.size());

  std::set<const Execution*> distinct(copying->records.begin(), copying->records.end());
  EXPECT_LT(distinct.size(), order.size()) << "the records were not recycled";
  const std::vector<std::vector<std::string>> types = {
      {"llm_call", "tool_call", "checkpoint", "memory_operation", "llm_call"},
      {"tool_call", "tool_call"},
      {},
      {"memory_operation", "llm_call", "note"}};
  for (std::size_t i = 0; i < order.size(); ++i) {
    SCOPED_TRACE("execution " + std::to_string(i) + ", scenario " + std::to_string(order[i]));
    const Execution& recorded = copying->copies[i];
    std::vector<std::string> recorded_types;
    for (const auto& event : recorded.events) recorded_types.emplace_back(event.type());
    EXPECT_EQ(recorded_types, types[order[i]]);
    EXPECT_EQ(without_ids_and_times(recorded),
              without_ids_and_times(sink->at(static_cast<std::size_t>(order[i]))));
  }
  // What the filters wrote, and what is kept as given.
  const Execution& first = copying->copies[0];
  EXPECT_EQ(first.kwargs,
            nlohmann::json({{"topic", "A TOPIC LONG ENOUGH TO LIVE ON THE HEAP"}, {"depth", 2}}));
  EXPECT_EQ(tool_of(first.events[1]).kwargs,
            nlohmann::json({{"query", "kagura history"}, {"limit", 5}}));
  const Execution& second = copying->copies[1];
  EXPECT_EQ(tool_of(second.events[0]).kwargs, nlohmann::json({{"files", {"A.CPP", "B.CPP"}}}));
  EXPECT_EQ(tool_of(second.events[0]).error, "syntax error");
  EXPECT_FALSE(tool_of(second.events[0]).success);
  EXPECT_TRUE(tool_of(second.events[1]).success);
  EXPECT_EQ(tool_of(second.events[1]).error, "");
  EXPECT_EQ(copying->copies[2].kwargs, nlohmann::json::object()) << "null arguments";
  EXPECT_EQ(copying->copies[3].kwargs, "not an object");
  EXPECT_EQ(copying->copies[3].metrics.cost_nanos, 250'000'000);
}

// Keeps a copy of every execution it is given: by the asynchronous writer, once its encoder
// has completed them.
class CopyingDestination final : public pipeline::BatchDestination {
 public:
  std::string backend_name() const override { return "copies"; }
  std::string location() const override { return "memory"; }
  std::size_t save_executions(std::span<const Execution* const> batch) override {
    std::lock_guard lock(mutex);
    for (const Execution* execution : batch) copies.push_back(*execution);
    return batch.size();
  }
  std::mutex mutex;
  std::vector<Execution> copies;
};

// The asynchronous writer takes executions whose record is still in the collector's journal
// and completes them on its encoder's thread: what it stores is what a sink that takes
// complete executions gets (each scenario recorded once beforehand into such a sink).
TEST_F(CollectorTest, TheAsynchronousWriterCompletesWhatTheJournalHolds) {
  constexpr int kScenarios = 4;
  for (int scenario = 0; scenario < kScenarios; ++scenario) record_scenario(collector, scenario);
  ASSERT_EQ(sink->size(), static_cast<std::size_t>(kScenarios));
  EXPECT_FALSE(sink->takes_incomplete());

  auto destination = std::make_shared<CopyingDestination>();
  auto writer = std::make_shared<pipeline::AsyncWriter>(destination);
  ASSERT_TRUE(writer->takes_incomplete());
  {
    Collector through_writer{writer, prices};
    const std::vector<int> order = {0, 1, 2, 3, 0, 2, 1, 3, 1, 0, 3, 2, 0, 0, 3, 3};
    for (int scenario : order) record_scenario(through_writer, scenario);
    ASSERT_TRUE(writer->flush());
    std::lock_guard lock(destination->mutex);
    ASSERT_EQ(destination->copies.size(), order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      SCOPED_TRACE("execution " + std::to_string(i) + ", scenario " + std::to_string(order[i]));
      EXPECT_EQ(without_ids_and_times(destination->copies[i]),
                without_ids_and_times(sink->at(static_cast<std::size_t>(order[i]))));
    }
  }
  writer->shutdown();
}

// A fan-out to sinks that all complete executions on their own threads leaves the completing
// to them (the store's writer and an exporter's, say): each stores what a sink that takes
// complete executions gets. A fan-out with one sink that does not takes complete executions.
TEST_F(CollectorTest, AFanOutToWritersLeavesTheCompletingToThem) {
  for (int scenario = 0; scenario < 4; ++scenario) record_scenario(collector, scenario);

  auto store = std::make_shared<CopyingDestination>();
  auto exporter = std::make_shared<CopyingDestination>();
  auto store_writer = std::make_shared<pipeline::AsyncWriter>(store);
  auto exporter_writer = std::make_shared<pipeline::AsyncWriter>(exporter);
  auto fan_out = std::make_shared<FanOutSink>(
      std::vector<std::shared_ptr<ExecutionSink>>{store_writer, exporter_writer});
  ASSERT_TRUE(fan_out->takes_incomplete());
  EXPECT_FALSE(FanOutSink(std::vector<std::shared_ptr<ExecutionSink>>{store_writer, sink})
                   .takes_incomplete());
  {
    Collector through_both{fan_out, prices};
    const std::vector<int> order = {3, 1, 0, 2, 2, 0, 1, 3};
    for (int scenario : order) record_scenario(through_both, scenario);
    ASSERT_TRUE(store_writer->flush());
    ASSERT_TRUE(exporter_writer->flush());
    for (auto* destination : {store.get(), exporter.get()}) {
      std::lock_guard lock(destination->mutex);
      ASSERT_EQ(destination->copies.size(), order.size());
      for (std::size_t i = 0; i < order.size(); ++i) {
        SCOPED_TRACE("execution " + std::to_string(i) + ", scenario " + std::to_string(order[i]));
        EXPECT_EQ(without_ids_and_times(destination->copies[i]),
                  without_ids_and_times(sink->at(static_cast<std::size_t>(order[i]))));
      }
    }
  }
  store_writer->shutdown();
  exporter_writer->shutdown();
}

bool is_secret_for_test(std::string_view key) {
  return key == "password" || key == "token";
}

// RedactKeys: arguments written into the journal as they are read, secrets replaced at any
// depth, long strings cut as everywhere else, every JSON type kept as it was.
TEST_F(CollectorTest, RedactKeysRecordsTheArgumentsWithTheirSecretsRedacted) {
  const std::string huge(kMaxRecordedValueBytes + 10, 'x');
  const nlohmann::json arguments = {
      {"password", "hunter2"},
      {"nested", {{"token", {{"deep", "value"}}}, {"list", {1, {{"password", "p"}}, "x"}}}},
      {"numbers",
       {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::uint64_t>::max(), 0.1,
        -0.0, 1e308}},
      {"flags", {true, false, nullptr}},
      {"bytes", nlohmann::json::binary({1, 2, 3}, 42)},
      {"huge", huge},
      {"empty", nlohmann::json::object()}};
  {
    auto scope = collector.track_execution("redacting", arguments, RedactKeys{&is_secret_for_test});
    scope.record_tool_call({.tool_name = "login", .duration = 0.25}, arguments,
                           RedactKeys{&is_secret_for_test});
    scope.record_tool_call({.tool_name = "none"}, nullptr, RedactKeys{});
  }
  ASSERT_EQ(sink->size(), 1U);
  const Execution e = sink->at(0);
  nlohmann::json expected = arguments;
  expected["password"] = "[REDACTED]";
  expected["nested"]["token"] = "[REDACTED]";
  expected["nested"]["list"][1]["password"] = "[REDACTED]";
  expected["huge"] = huge.substr(0, kMaxRecordedValueBytes) + "...[truncated 10 bytes]";
  EXPECT_EQ(e.kwargs, expected);
  EXPECT_EQ(e.kwargs["numbers"][1].get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(e.kwargs["numbers"][3].get<double>() == 0.0 &&
              std::signbit(e.kwargs["numbers"][3].get<double>()));
  EXPECT_EQ(e.kwargs["bytes"].get_binary().subtype(), 42U);
  ASSERT_EQ(e.events.size(), 2U);
  const auto& tool = std::get<ToolCall>(e.events[0].payload);
  EXPECT_EQ(tool.tool_name, "login");
  EXPECT_EQ(tool.duration, 0.25);
  EXPECT_EQ(tool.kwargs, expected);
  EXPECT_EQ(std::get<ToolCall>(e.events[1].payload).kwargs, nlohmann::json::object())
      << "null arguments are recorded as an empty object";
  EXPECT_EQ(e.metrics.tool_calls, 2);
}

// A sink may keep a weak_ptr to an execution after letting it go. The record shares its memory
// with the owner's control block, so it must not go to another execution while such a weak_ptr
// lives; once they are gone, it does.
class WatchingSink final : public ExecutionSink {
 public:
  void submit(std::shared_ptr<const Execution> execution) noexcept override {
    records.push_back(execution.get());
    ids.push_back(execution->id);
    watched.push_back(execution);
  }
  std::vector<const Execution*> records;
  std::vector<std::string> ids;
  std::vector<std::weak_ptr<const Execution>> watched;
};

// A thread takes back the running execution it let go of for its next one, but not while a
// context still refers to it.
TEST_F(CollectorTest, ARunningExecutionIsNotReusedWhileAContextHoldsIt) {
  ExecutionContext context;
  {
    auto scope = collector.track_execution("held");
    context = scope.context();
  }
  const std::string held = context.id();
  for (int i = 0; i < 40; ++i) {
    auto scope = collector.track_execution("next");
    ASSERT_NE(scope.id(), held);
    ASSERT_EQ(context.id(), held) << "execution " << i << " took the held one's memory";
  }
  EXPECT_EQ(context.trace_id(), held);
  ASSERT_EQ(sink->size(), 41U);
  EXPECT_EQ(sink->at(0).id, held);
}

TEST_F(CollectorTest, ARecordIsNotReusedWhileASinkStillWatchesIt) {
  auto watching = std::make_shared<WatchingSink>();
  Collector recording{watching, prices};
  constexpr std::size_t kExecutions = 40;  // more than a thread takes from the recycler at once
  for (std::size_t i = 0; i < kExecutions; ++i) {
    auto scope = recording.track_execution("watched", {{"i", i}});
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 1});
  }
  ASSERT_EQ(watching->records.size(), kExecutions);
  const std::set<const Execution*> distinct(watching->records.begin(), watching->records.end());
  EXPECT_EQ(distinct.size(), kExecutions) << "a record was reused while a weak_ptr watched it";
  for (std::size_t i = 0; i < kExecutions; ++i) {
    EXPECT_TRUE(watching->watched[i].expired()) << "the sink's own reference only is weak";
  }

  watching->watched.clear();  // the records go back to the recycler
  const std::size_t before = watching->records.size();
  for (std::size_t i = 0; i < kExecutions; ++i) {
    auto scope = recording.track_execution("again", {{"i", i}});
  }
  std::size_t reused = 0;
  for (std::size_t i = before; i < watching->records.size(); ++i) {
    reused += distinct.count(watching->records[i]);
  }
  EXPECT_GT(reused, 0U) << "the records let go of were not recycled";
  const std::set<std::string> ids(watching->ids.begin(), watching->ids.end());
  EXPECT_EQ(ids.size(), watching->ids.size()) << "every execution has its own id";
}

TEST_F(CollectorTest, AThrowingArgumentsFilterLeavesTheArgumentsOutNotTheExecution) {
  NoticeCapture notices;
  const ArgumentsFilter throwing = [](nlohmann::json&, const nlohmann::json&) {
    throw std::runtime_error("filter failed");
  };
  {
    auto scope = collector.track_execution("agent", {{"a", 1}}, throwing);
    ASSERT_TRUE(scope.active());
    EXPECT_NO_THROW(scope.record_tool_call({.tool_name = "t"}, {{"b", 2}}, throwing));
    scope.record_tool_call({.tool_name = "u"}, {{"c", 3}}, nullptr);
  }
  ASSERT_EQ(sink->size(), 1U);
  const Execution e = sink->at(0);
  EXPECT_EQ(e.status, ExecutionStatus::completed);
  EXPECT_TRUE(e.kwargs.is_null());
  ASSERT_EQ(e.events.size(), 2U);
  EXPECT_TRUE(tool_of(e.events[0]).kwargs.is_null());
  EXPECT_EQ(tool_of(e.events[1]).kwargs, nlohmann::json({{"c", 3}}));
  const auto messages = notices.messages();
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.front().find("ArgumentsFilter threw"), std::string::npos) << messages.front();
}

TEST_F(CollectorTest, NullKwargsBecomeAnEmptyObject) {
  { auto scope = collector.track_execution("a", nullptr); }
  ASSERT_EQ(sink->size(), 1U);
  EXPECT_EQ(sink->at(0).kwargs, nlohmann::json::object());
}

TEST_F(CollectorTest, MetricsSumTokensAndExactPriceTableCost) {
  {
    auto scope = collector.track_execution("summer");
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 10, .completion_tokens = 5});
    scope.record_llm_call({.model = "gpt-4o-mini",
                           .prompt_tokens = 1000,
                           .completion_tokens = 300,
                           .cached_tokens = 400,
                           .reasoning_tokens = 100});
    scope.record_llm_call({.model = "gpt-4.1", .prompt_tokens = 2048, .completion_tokens = 512});
    scope.record_tool_call({.tool_name = "t"});
    scope.record_tool_call({.tool_name = "t"});
  }
  const Execution e = sink->at(0);
  const Metrics& m = e.metrics;
  EXPECT_EQ(m.llm_calls, 3);
  EXPECT_EQ(m.tool_calls, 2);
  EXPECT_EQ(m.prompt_tokens, 10 + 1000 + 2048);
  EXPECT_EQ(m.completion_tokens, 5 + 300 + 512);
  EXPECT_EQ(m.total_tokens(), 10 + 1000 + 2048 + 5 + 300 + 512);
  EXPECT_EQ(m.cached_tokens, 400);
  EXPECT_EQ(m.reasoning_tokens, 100);
  EXPECT_EQ(m.unpriced_llm_calls, 0);

  // gpt-4o-mini: $0.15 and $0.60 per million prompt and completion tokens, so 10 + 5 tokens
  // cost exactly 1500 + 3000 nano-dollars.
  EXPECT_EQ(llm_of(e.events[0]).cost_nanos, 4500);
  EXPECT_TRUE(llm_of(e.events[0]).priced);
  const NanoUsd expected = price_of("gpt-4o-mini", 10, 5) +
                           price_of("gpt-4o-mini", 1000, 300, 400) + price_of("gpt-4.1", 2048, 512);
  EXPECT_EQ(llm_of(e.events[1]).cost_nanos, price_of("gpt-4o-mini", 1000, 300, 400));
  EXPECT_EQ(llm_of(e.events[2]).cost_nanos, price_of("gpt-4.1", 2048, 512));
  EXPECT_EQ(m.cost_nanos, expected);
  EXPECT_DOUBLE_EQ(m.total_cost(), nano_usd_to_usd(expected));
}

TEST_F(CollectorTest, UnpricedModelIsCountedAndReportedOncePerModel) {
  NoticeCapture notices;
  for (int i = 0; i < 3; ++i) {
    auto scope = collector.track_execution("local");
    scope.record_llm_call(
        {.model = "my-private-model-x", .prompt_tokens = 100, .completion_tokens = 50});
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 10, .completion_tokens = 5});
    scope.record_llm_call(
        {.model = "another-unknown-model", .prompt_tokens = 1, .completion_tokens = 1});
  }
  ASSERT_EQ(sink->size(), 3U);
  for (const auto& e : sink->all()) {
    const LlmCall& unpriced = llm_of(e.events[0]);
    EXPECT_FALSE(unpriced.priced);
    EXPECT_EQ(unpriced.cost_nanos, 0);
    EXPECT_TRUE(llm_of(e.events[1]).priced);
    EXPECT_EQ(e.metrics.unpriced_llm_calls, 2);
    EXPECT_EQ(e.metrics.llm_calls, 3);
    EXPECT_EQ(e.metrics.prompt_tokens, 111);
    EXPECT_EQ(e.metrics.cost_nanos, 4500) << "unpriced calls add nothing to the cost";
  }
  EXPECT_EQ(notices.count_containing("my-private-model-x"), 1U);
  EXPECT_EQ(notices.count_containing("another-unknown-model"), 1U);
  EXPECT_EQ(notices.messages().size(), 2U);
}

TEST_F(CollectorTest, CostUsdOverridesThePriceTable) {
  NoticeCapture notices;
  {
    auto scope = collector.track_execution("billed");
    scope.record_llm_call(
        {.model = "gpt-4o-mini", .prompt_tokens = 10, .completion_tokens = 5, .cost_usd = 0.0123});
    scope.record_llm_call({.model = "provider-billed-model",
                           .prompt_tokens = 10,
                           .completion_tokens = 5,
                           .cost_usd = 0.000002});
  }
  const Execution e = sink->at(0);
  EXPECT_EQ(llm_of(e.events[0]).cost_nanos, 12'300'000);
  EXPECT_TRUE(llm_of(e.events[0]).priced);
  EXPECT_EQ(llm_of(e.events[1]).cost_nanos, 2'000);
  EXPECT_TRUE(llm_of(e.events[1]).priced) << "a reported charge prices the call";
  EXPECT_EQ(e.metrics.cost_nanos, 12'302'000);
  EXPECT_EQ(e.metrics.unpriced_llm_calls, 0);
  EXPECT_TRUE(notices.messages().empty());
}

TEST_F(CollectorTest, RecordMetricRefusesBuiltInNamesAndStoresCustomOnes) {
  NoticeCapture notices;
  {
    auto scope = collector.track_execution("metrics");
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 10, .completion_tokens = 5});
    scope.record_metric("total_tokens", 999);
    scope.record_metric("llm_calls", 42);
    scope.record_metric("total_cost", 1.5);
    scope.record_metric("quality", 0.875);
    scope.record_metric("memory_enabled", true);
    scope.record_metric("variant", "b");
    collector.record_metric("retries_seen", 2);  // through the thread's current execution
  }
  const Execution e = sink->at(0);
  EXPECT_EQ(e.metrics.custom.size(), 4U);
  EXPECT_FALSE(e.metrics.custom.contains("total_tokens"));
  EXPECT_FALSE(e.metrics.custom.contains("llm_calls"));
  EXPECT_FALSE(e.metrics.custom.contains("total_cost"));
  EXPECT_EQ(e.metrics.custom.at("quality"), 0.875);
  EXPECT_EQ(e.metrics.custom.at("memory_enabled"), true);
  EXPECT_EQ(e.metrics.custom.at("variant"), "b");
  EXPECT_EQ(e.metrics.custom.at("retries_seen"), 2);
  EXPECT_EQ(e.metrics.llm_calls, 1);
  EXPECT_EQ(e.metrics.total_tokens(), 15);
  EXPECT_EQ(notices.messages().size(), 3U);
  EXPECT_EQ(notices.count_containing("'total_tokens'"), 1U);
  EXPECT_EQ(notices.count_containing("'llm_calls'"), 1U);
  EXPECT_EQ(notices.count_containing("'total_cost'"), 1U);
}

TEST_F(CollectorTest, RecordEventRefusesBuiltInAndEmptyTypes) {
  NoticeCapture notices;
  {
    auto scope = collector.track_execution("events");
    scope.record_event("llm_call", {{"fake", true}});
    scope.record_event("tool_call");
    scope.record_event("memory_operation");
    scope.record_event("");
    scope.record_event("handoff", {{"to", "reviewer"}});
  }
  const Execution e = sink->at(0);
  ASSERT_EQ(e.events.size(), 1U);
  EXPECT_EQ(e.events[0].type(), "handoff");
  EXPECT_EQ(e.metrics.llm_calls, 0);
  EXPECT_EQ(notices.messages().size(), 4U);
}

TEST_F(CollectorTest, AddTagStoresTagsLastValueWins) {
  {
    auto scope = collector.track_execution("tagged");
    scope.add_tag("env", "staging");
    scope.add_tag("user", "alice");
    scope.add_tag("env", "production");
    collector.add_tag("region", "eu");
  }
  const Execution e = sink->at(0);
  const std::map<std::string, std::string, std::less<>> expected = {
      {"env", "production"}, {"region", "eu"}, {"user", "alice"}};
  EXPECT_EQ(e.tags, expected);
}

TEST_F(CollectorTest, FailMarksTheExecutionFailedWithTheError) {
  {
    auto scope = collector.track_execution("faulty");
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 1, .completion_tokens = 1});
    scope.fail("rate limited by provider", "RateLimitError");
  }
  {
    auto scope = collector.track_execution("faulty2");
    scope.fail(std::runtime_error("parse failure"));
  }
  const Execution first = sink->at(0);
  EXPECT_EQ(first.status, ExecutionStatus::failed);
  EXPECT_EQ(first.error, "rate limited by provider");
  EXPECT_EQ(first.error_type, "RateLimitError");
  EXPECT_EQ(first.metrics.llm_calls, 1) << "a failed execution keeps what it recorded";
  ASSERT_TRUE(first.duration.has_value());
  const Execution second = sink->at(1);
  EXPECT_EQ(second.status, ExecutionStatus::failed);
  EXPECT_EQ(second.error, "parse failure");
}

TEST_F(CollectorTest, ExceptionLeavingTheScopeMarksItFailed) {
  EXPECT_THROW(
      {
        auto scope = collector.track_execution("thrower");
        scope.record_tool_call({.tool_name = "t"});
        throw std::runtime_error("boom");
      },
      std::runtime_error);
  ASSERT_EQ(sink->size(), 1U);
  const Execution e = sink->at(0);
  EXPECT_EQ(e.status, ExecutionStatus::failed);
  EXPECT_FALSE(e.error.empty());
  EXPECT_EQ(e.metrics.tool_calls, 1);
}

// A failure recorded before an exception leaves the scope keeps its own message; a later
// failure replaces an earlier one.
TEST_F(CollectorTest, AnExceptionLeavingAFailedScopeKeepsItsError) {
  EXPECT_THROW(
      {
        auto scope = collector.track_execution("failed-then-thrown");
        scope.fail("first", "FirstError");
        scope.fail("rate limited", "RateLimitError");
        throw std::runtime_error("boom");
      },
      std::runtime_error);
  const Execution e = sink->at(0);
  EXPECT_EQ(e.status, ExecutionStatus::failed);
  EXPECT_EQ(e.error, "rate limited");
  EXPECT_EQ(e.error_type, "RateLimitError");
}

// A custom metric's long string is cut like every other recorded value; its name is not.
TEST_F(CollectorTest, ALongMetricValueIsCut) {
  const std::string name(100, 'm');
  const std::string huge(kMaxRecordedValueBytes + 7, 'v');
  {
    auto scope = collector.track_execution("metrics");
    scope.record_metric(name, huge);
  }
  const Execution e = sink->at(0);
  EXPECT_EQ(e.metrics.custom.at(name),
            huge.substr(0, kMaxRecordedValueBytes) + "...[truncated 7 bytes]");
}

TEST_F(CollectorTest, ScopeCreatedWhileAnExceptionIsInFlightStillCompletes) {
  // A scope started in a destructor during unwinding must not mistake that exception for its own.
  struct RecordsOnUnwind {
    Collector& collector;
    ~RecordsOnUnwind() { auto scope = collector.track_execution("cleanup"); }
  };
  try {
    RecordsOnUnwind guard{collector};
    throw std::runtime_error("outer");
  } catch (const std::runtime_error&) {
  }
  ASSERT_EQ(sink->size(), 1U);
  EXPECT_EQ(sink->at(0).status, ExecutionStatus::completed);
}

TEST_F(CollectorTest, TrackRecordsTheExceptionMessageAndRethrows) {
  try {
    collector.track("faulty_agent", {{"query", "test"}}, [](ExecutionScope& scope) -> int {
      scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 3, .completion_tokens = 0});
      throw std::runtime_error("API Error");
    });
    FAIL() << "track() swallowed the exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "API Error") << "the exception is rethrown unchanged";
  }
  ASSERT_EQ(sink->size(), 1U);
  const Execution e = sink->at(0);
  EXPECT_EQ(e.agent_name, "faulty_agent");
  EXPECT_EQ(e.status, ExecutionStatus::failed);
  EXPECT_NE(e.error.find("API Error"), std::string::npos) << e.error;
  EXPECT_EQ(e.error_type, "std::runtime_error") << "the exception's dynamic type, demangled";
  EXPECT_EQ(e.metrics.llm_calls, 1);
}

TEST_F(CollectorTest, AnEmptyContextGuardKeepsRecordsOutOfTheEnclosingExecution) {
  {
    auto outer = collector.track_execution("outer");
    Collector::record_tool_call({.tool_name = "counted"});
    {
      ContextGuard none{ExecutionContext{}};
      EXPECT_FALSE(Collector::current().valid());
      Collector::record_tool_call({.tool_name = "not_counted"});
      Collector::record_memory_operation({.operation = "add"});
    }
    EXPECT_TRUE(Collector::current().valid()) << "the guard restores the outer execution";
    Collector::record_tool_call({.tool_name = "counted_too"});
  }
  ASSERT_EQ(sink->size(), 1U);
  const Execution e = sink->at(0);
  ASSERT_EQ(e.events.size(), 2U);
  EXPECT_EQ(tool_of(e.events[0]).tool_name, "counted");
  EXPECT_EQ(tool_of(e.events[1]).tool_name, "counted_too");
  EXPECT_EQ(e.metrics.memory_operations, 0);
}

TEST_F(CollectorTest, TrackRethrowsNonStandardExceptions) {
  EXPECT_THROW(collector.track("odd", {}, [](ExecutionScope&) { throw 42; }), int);
  ASSERT_EQ(sink->size(), 1U);
  EXPECT_EQ(sink->at(0).status, ExecutionStatus::failed);
  EXPECT_FALSE(sink->at(0).error.empty());
}

TEST_F(CollectorTest, TrackReturnsTheResultAndCompletes) {
  const std::string result =
      collector.track("hello", {{"name", "Alice"}}, [](ExecutionScope& scope) {
        EXPECT_TRUE(scope.active());
        EXPECT_EQ(Collector::current().id(), scope.id());
        return std::string("Hello, Alice!");
      });
  EXPECT_EQ(result, "Hello, Alice!");
  int calls = 0;
  collector.track("void_agent", {}, [&](ExecutionScope&) { ++calls; });
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(sink->size(), 2U);
  EXPECT_EQ(sink->at(0).status, ExecutionStatus::completed);
  EXPECT_EQ(sink->at(0).kwargs["name"], "Alice");
  EXPECT_EQ(sink->at(1).agent_name, "void_agent");
  EXPECT_FALSE(Collector::current().valid());
}

TEST_F(CollectorTest, NestedExecutionsFormOneTrace) {
  std::string parent_id;
  std::string child_id;
  std::string grandchild_id;
  {
    auto parent = collector.track_execution("orchestrator");
    parent_id = parent.id();
    EXPECT_EQ(parent.trace_id(), parent_id);
    {
      auto child = collector.track_execution("researcher");
      child_id = child.id();
      EXPECT_EQ(child.trace_id(), parent_id);
      EXPECT_EQ(Collector::current().id(), child_id);
      collector.record_tool_call({.tool_name = "child-tool"});
      {
        auto grandchild = collector.track_execution("summariser");
        grandchild_id = grandchild.id();
        EXPECT_EQ(grandchild.trace_id(), parent_id);
      }
    }
    EXPECT_EQ(Collector::current().id(), parent_id) << "the parent is current again";
    collector.record_tool_call({.tool_name = "parent-tool"});
  }
  EXPECT_FALSE(Collector::current().valid());

  ASSERT_EQ(sink->size(), 3U);
  const Execution grandchild = sink->at(0);
  const Execution child = sink->at(1);
  const Execution parent = sink->at(2);
  EXPECT_EQ(grandchild.id, grandchild_id);
  EXPECT_EQ(child.id, child_id);
  EXPECT_EQ(parent.id, parent_id);

  EXPECT_TRUE(parent.parent_id.empty());
  EXPECT_EQ(parent.trace_id, parent.id);
  EXPECT_EQ(child.parent_id, parent.id);
  EXPECT_EQ(child.trace_id, parent.id);
  EXPECT_EQ(grandchild.parent_id, child.id);
  EXPECT_EQ(grandchild.trace_id, parent.id);

  ASSERT_EQ(child.events.size(), 1U);
  EXPECT_EQ(tool_of(child.events[0]).tool_name, "child-tool");
  ASSERT_EQ(parent.events.size(), 1U);
  EXPECT_EQ(tool_of(parent.events[0]).tool_name, "parent-tool");
  EXPECT_TRUE(grandchild.events.empty());
}

TEST_F(CollectorTest, MovedScopeEndsTheExecutionOnce) {
  std::string id;
  {
    auto first = collector.track_execution("moved");
    id = first.id();
    ExecutionScope second(std::move(first));
    EXPECT_FALSE(first.active());  // NOLINT(bugprone-use-after-move): a moved-from scope is empty
    EXPECT_TRUE(second.active());
    EXPECT_EQ(second.id(), id);
    EXPECT_EQ(Collector::current().id(), id);
    second.record_tool_call({.tool_name = "after-move"});
  }
  ASSERT_EQ(sink->size(), 1U);
  EXPECT_EQ(sink->at(0).id, id);
  EXPECT_EQ(sink->at(0).events.size(), 1U);
  EXPECT_FALSE(Collector::current().valid());
}

TEST_F(CollectorTest, CollectorRecordsWithoutCurrentExecutionAreNoOps) {
  NoticeCapture notices;
  ASSERT_FALSE(Collector::current().valid());
  collector.record_llm_call({.model = "unknown-model-zzz", .prompt_tokens = 1});
  collector.record_tool_call({.tool_name = "t"});
  collector.record_memory_operation({.operation = "add"});
  collector.record_event("custom");
  collector.record_metric("m", 1);
  collector.add_tag("k", "v");
  EXPECT_EQ(sink->size(), 0U);
  EXPECT_EQ(collector.late_events(), 0U);
  EXPECT_TRUE(notices.messages().empty());

  // An inactive scope is just as harmless.
  ExecutionScope inactive;
  EXPECT_FALSE(inactive.active());
  EXPECT_TRUE(inactive.id().empty());
  EXPECT_FALSE(inactive.context().valid());
  inactive.record_llm_call({.model = "gpt-4o-mini"});
  inactive.fail("nothing");
  inactive.finish();
  EXPECT_EQ(sink->size(), 0U);
}

TEST_F(CollectorTest, ConcurrentExecutionsOnThreadsNeverMixEvents) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();  // all threads record at the same time
      for (int i = 0; i < kPerThread; ++i) {
        auto scope =
            collector.track_execution("agent-" + std::to_string(t), {{"thread", t}, {"i", i}});
        // Half through the scope, half through the collector's current execution.
        scope.record_tool_call({.tool_name = "lookup", .kwargs = {{"thread", t}, {"i", i}}});
        collector.record_llm_call(
            {.model = "gpt-4o-mini", .prompt_tokens = 10 + t, .completion_tokens = i});
        collector.record_tool_call({.tool_name = "fetch", .kwargs = {{"thread", t}, {"i", i}}});
        scope.record_event("marker", {{"thread", t}, {"i", i}});
        collector.add_tag("thread", std::to_string(t));
      }
    });
  }
  for (auto& thread : threads) thread.join();

  const auto executions = sink->all();
  ASSERT_EQ(executions.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  std::set<std::pair<int, int>> seen;
  for (const auto& e : executions) {
    ids.insert(e.id);
    const int t = e.kwargs.at("thread").get<int>();
    const int i = e.kwargs.at("i").get<int>();
    seen.emplace(t, i);
    EXPECT_EQ(e.agent_name, "agent-" + std::to_string(t));
    EXPECT_TRUE(e.parent_id.empty()) << "an execution on another thread is never a parent";
    EXPECT_EQ(e.trace_id, e.id);
    EXPECT_EQ(e.tags.at("thread"), std::to_string(t));
    ASSERT_EQ(e.events.size(), 4U);
    EXPECT_EQ(tool_of(e.events[0]).kwargs, nlohmann::json({{"thread", t}, {"i", i}}));
    EXPECT_EQ(llm_of(e.events[1]).prompt_tokens, 10 + t);
    EXPECT_EQ(llm_of(e.events[1]).completion_tokens, i);
    EXPECT_EQ(tool_of(e.events[2]).kwargs, nlohmann::json({{"thread", t}, {"i", i}}));
    EXPECT_EQ(std::get<CustomEvent>(e.events[3].payload).data,
              nlohmann::json({{"thread", t}, {"i", i}}));
    EXPECT_EQ(e.metrics.llm_calls, 1);
    EXPECT_EQ(e.metrics.tool_calls, 2);
    EXPECT_EQ(e.status, ExecutionStatus::completed);
  }
  EXPECT_EQ(ids.size(), executions.size()) << "every execution has its own id";
  EXPECT_EQ(seen.size(), executions.size());
  EXPECT_EQ(collector.late_events(), 0U);
}

TEST_F(CollectorTest, ContextGuardCarriesTheExecutionToAnotherThread) {
  std::string id;
  std::string worker_child_id;
  {
    auto scope = collector.track_execution("coordinator");
    id = scope.id();
    const ExecutionContext context = scope.context();
    ASSERT_TRUE(context.valid());
    EXPECT_EQ(context.id(), id);
    EXPECT_EQ(context.trace_id(), scope.trace_id());

    std::thread worker([&] {
      EXPECT_FALSE(Collector::current().valid()) << "a new thread has no current execution";
      {
        ContextGuard guard(context);
        EXPECT_EQ(Collector::current().id(), id);
        collector.record_tool_call({.tool_name = "worker-tool", .kwargs = {{"from", "worker"}}});
        collector.record_memory_operation({.operation = "read", .items = 2});
        {
          auto child = collector.track_execution("worker-child");
          worker_child_id = child.id();
        }
      }
      EXPECT_FALSE(Collector::current().valid()) << "the guard restores the previous state";
    });
    worker.join();
    scope.record_tool_call({.tool_name = "main-tool"});
  }
  ASSERT_EQ(sink->size(), 2U);
  const Execution child = sink->at(0);
  const Execution e = sink->at(1);
  EXPECT_EQ(e.id, id);
  ASSERT_EQ(e.events.size(), 3U);
  EXPECT_EQ(tool_of(e.events[0]).tool_name, "worker-tool");
  EXPECT_EQ(e.events[1].type(), "memory_operation");
  EXPECT_EQ(tool_of(e.events[2]).tool_name, "main-tool");
  EXPECT_EQ(e.metrics.tool_calls, 2);
  EXPECT_EQ(e.metrics.memory_operations, 1);
  EXPECT_EQ(child.agent_name, "worker-child");
  EXPECT_EQ(child.id, worker_child_id);
  EXPECT_EQ(child.parent_id, id) << "an execution started under a guard is a child";
  EXPECT_EQ(child.trace_id, e.trace_id);
  EXPECT_EQ(collector.late_events(), 0U);
}

TEST_F(CollectorTest, CurrentContextIsUsableWhileTheThreadsScopeContinues) {
  std::promise<ExecutionContext> handed_over;
  std::promise<void> worker_recorded;
  std::promise<void> main_recorded;
  auto main_recorded_future = main_recorded.get_future().share();
  std::thread worker([&] {
    const ExecutionContext context = handed_over.get_future().get();
    main_recorded_future.wait();  // the owning thread has recorded after handing over
    ContextGuard guard(context);
    collector.record_event("from-worker");
    worker_recorded.set_value();
  });

  std::string id;
  {
    auto scope = collector.track_execution("owner");
    id = scope.id();
    const ExecutionContext context = Collector::current();
    ASSERT_TRUE(context.valid());
    EXPECT_EQ(context.id(), id);
    handed_over.set_value(context);
    scope.record_event("from-owner-1");
    main_recorded.set_value();
    worker_recorded.get_future().wait();
    scope.record_event("from-owner-2");
  }
  worker.join();
  const Execution e = sink->at(0);
  ASSERT_EQ(e.events.size(), 3U);
  EXPECT_EQ(e.events[0].type(), "from-owner-1");
  EXPECT_EQ(e.events[1].type(), "from-worker");
  EXPECT_EQ(e.events[2].type(), "from-owner-2");
}

TEST_F(CollectorTest, EventsAfterTheExecutionEndedAreCountedAsLate) {
  ExecutionContext context;
  {
    auto scope = collector.track_execution("short-lived");
    context = scope.context();
    scope.record_tool_call({.tool_name = "in-time"});
  }
  ASSERT_EQ(sink->size(), 1U);
  EXPECT_TRUE(context.valid()) << "a context keeps naming its execution";
  EXPECT_EQ(context.id(), sink->at(0).id);

  std::thread late([&] {
    ContextGuard guard(context);
    collector.record_tool_call({.tool_name = "too-late"});
    collector.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 1});
    collector.record_event("late-event");
    collector.add_tag("late", "yes");
    collector.record_metric("late_metric", 1);
  });
  late.join();
  EXPECT_EQ(collector.late_events(), 5U);
  ASSERT_EQ(sink->size(), 1U) << "a late event never resubmits the execution";
  const Execution e = sink->at(0);
  ASSERT_EQ(e.events.size(), 1U);
  EXPECT_EQ(tool_of(e.events[0]).tool_name, "in-time");
  EXPECT_TRUE(e.tags.empty());
  EXPECT_TRUE(e.metrics.custom.empty());
  EXPECT_EQ(e.metrics.llm_calls, 0);
}

TEST_F(CollectorTest, FinishEndsTheExecutionBeforeTheScopeDoes) {
  auto scope = collector.track_execution("early");
  const std::string id = scope.id();
  scope.finish();
  EXPECT_FALSE(scope.active());
  EXPECT_FALSE(Collector::current().valid());
  ASSERT_EQ(sink->size(), 1U);
  EXPECT_EQ(sink->at(0).id, id);
  EXPECT_EQ(sink->at(0).status, ExecutionStatus::completed);
  scope.record_tool_call({.tool_name = "ignored"});  // the scope is inactive now
  scope.finish();
  EXPECT_EQ(sink->size(), 1U);
  EXPECT_TRUE(sink->at(0).events.empty());
}

TEST_F(CollectorTest, DisabledCollectorGivesInactiveScopes) {
  collector.set_enabled(false);
  EXPECT_FALSE(collector.enabled());
  {
    auto scope = collector.track_execution("off");
    EXPECT_FALSE(scope.active());
    EXPECT_TRUE(scope.id().empty());
    EXPECT_FALSE(Collector::current().valid());
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 10});
    collector.record_tool_call({.tool_name = "t"});
    EXPECT_FALSE(collector.track("off", {}, [](ExecutionScope& s) { return s.active(); }));
  }
  EXPECT_EQ(sink->size(), 0U);

  collector.set_enabled(true);
  { auto scope = collector.track_execution("on"); }
  EXPECT_EQ(sink->size(), 1U);
}

TEST_F(CollectorTest, GlobalSwitchTurnsEveryCollectorOff) {
  GlobalSwitchRestorer restore;
  Collector other(sink, prices);
  set_telemetry_enabled(false);
  EXPECT_FALSE(telemetry_enabled());
  {
    auto a = collector.track_execution("off-a");
    auto b = other.track_execution("off-b");
    EXPECT_FALSE(a.active());
    EXPECT_FALSE(b.active());
    collector.record_llm_call({.model = "gpt-4o-mini"});
  }
  EXPECT_EQ(sink->size(), 0U);

  set_telemetry_enabled(true);
  EXPECT_TRUE(telemetry_enabled());
  { auto scope = other.track_execution("on"); }
  EXPECT_EQ(sink->size(), 1U);
}

TEST_F(CollectorTest, SwitchingOffDuringAnExecutionStillEndsIt) {
  GlobalSwitchRestorer restore;
  {
    auto scope = collector.track_execution("running");
    set_telemetry_enabled(false);
    scope.record_tool_call({.tool_name = "t"});
  }
  ASSERT_EQ(sink->size(), 1U);
  EXPECT_EQ(sink->at(0).status, ExecutionStatus::completed);
}

TEST_F(CollectorTest, DurationAndEndTimeAreSetAndConsistent) {
  const double before = unix_now();
  {
    auto scope = collector.track_execution("timed");
    // sleep_for waits at least this long on the steady clock, so the duration's lower bound
    // holds however the test is scheduled.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double after = unix_now();
  const Execution e = sink->at(0);
  EXPECT_GE(e.started_at, before);
  EXPECT_LE(e.started_at, after);
  ASSERT_TRUE(e.duration.has_value());
  ASSERT_TRUE(e.ended_at.has_value());
  EXPECT_GE(*e.duration, 0.020);
  EXPECT_LE(*e.duration, after - before + 0.5);
  EXPECT_DOUBLE_EQ(*e.ended_at, e.started_at + *e.duration);
  EXPECT_GE(*e.ended_at, e.started_at);
}

TEST_F(CollectorTest, PricesAreTheTableGiven) {
  EXPECT_EQ(&collector.prices(), prices.get());
}

}  // namespace
}  // namespace kagura::telemetry
