// One conformance suite run unchanged against every backend (storage/backend_cases.cpp lists
// them), then the SQLite store's own file handling.

#include <SQLiteCpp/Database.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kagura/storage/sqlite_store.hpp"
#include "storage/aggregate.hpp"
#include "storage/backend_cases.hpp"
#include "support/record_expectations.hpp"
#include "support/test_support.hpp"

namespace kagura::storage {
namespace {

using telemetry::Event;
using telemetry::Execution;
using telemetry::ExecutionStatus;
using telemetry::LlmCall;
using telemetry::MemoryOperation;
using telemetry::ToolCall;
using test::expect_same_execution;
using ::testing::HasSubstr;

constexpr double kDay0 = 1699920000.0;  // 2023-11-14T00:00:00Z
constexpr double kHour = 3600.0;
// The sketch promises 1% relative error; allow for rounding in the last bits.
constexpr double kPercentileTolerance = DurationSketch::kRelativeAccuracy * (1.0 + 1e-9);

std::string make_id(std::uint64_t high, std::uint64_t low) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(high),
                static_cast<unsigned long long>(low));
  return text;
}

LlmCall llm_call(std::string model, std::int64_t prompt, std::int64_t completion,
                 telemetry::NanoUsd cost, bool priced = true) {
  LlmCall call;
  call.model = std::move(model);
  call.prompt_tokens = prompt;
  call.completion_tokens = completion;
  call.cost_nanos = cost;
  call.priced = priced;
  return call;
}

// A finished execution with consistent metrics for its LLM calls.
Execution make_execution(std::string id, std::string agent, ExecutionStatus status,
                         double started_at, std::optional<double> duration,
                         std::vector<LlmCall> calls = {}) {
  Execution e;
  e.id = std::move(id);
  e.trace_id = e.id;
  e.agent_name = std::move(agent);
  e.status = status;
  e.started_at = started_at;
  e.duration = duration;
  if (duration) e.ended_at = started_at + *duration;
  if (status == ExecutionStatus::failed) e.error = "failed";
  double t = started_at;
  for (auto& call : calls) {
    t += 0.001;
    e.metrics.add(call);
    e.events.push_back(Event{t, std::move(call)});
  }
  return e;
}

std::size_t save_all(StorageAdapter& store, const std::vector<Execution>& executions) {
  std::vector<const Execution*> batch;
  for (const auto& e : executions) batch.push_back(&e);
  return store.save_executions(batch);
}

// ---------------------------------------------------------------------------------------------
// Brute force over the executions a test saved

bool matches(const Execution& e, const ExecutionFilter& f) {
  if (f.agent_name && e.agent_name != *f.agent_name) return false;
  if (f.status && e.status != *f.status) return false;
  if (f.since && !(e.started_at >= *f.since)) return false;
  if (f.until && !(e.started_at < *f.until)) return false;
  return true;
}

// The exact quantile the sketch approximates: the value of rank floor(q * (n - 1)).
double exact_quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  return sorted[static_cast<std::size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

struct Expected {
  SummaryStats stats;
  std::vector<double> durations;  // sorted
};

Expected brute_force_stats(const std::vector<Execution>& all, const ExecutionFilter& f) {
  Expected x;
  SummaryStats& s = x.stats;
  double duration_sum = 0.0;
  for (const auto& e : all) {
    if (!matches(e, f)) continue;
    ++s.total_executions;
    if (e.status == ExecutionStatus::completed) ++s.completed;
    if (e.status == ExecutionStatus::failed) ++s.failed;
    if (e.status == ExecutionStatus::running) ++s.running;
    if (e.duration) {
      x.durations.push_back(*e.duration);
      duration_sum += *e.duration;
    }
    s.llm_calls += e.metrics.llm_calls;
    s.tool_calls += e.metrics.tool_calls;
    s.memory_operations += e.metrics.memory_operations;
    s.prompt_tokens += e.metrics.prompt_tokens;
    s.completion_tokens += e.metrics.completion_tokens;
    s.cached_tokens += e.metrics.cached_tokens;
    s.reasoning_tokens += e.metrics.reasoning_tokens;
    s.unpriced_llm_calls += e.metrics.unpriced_llm_calls;
    s.cost_nanos += e.metrics.cost_nanos;
    if (!s.first_started_at || e.started_at < *s.first_started_at)
      s.first_started_at = e.started_at;
    if (!s.last_started_at || e.started_at > *s.last_started_at) s.last_started_at = e.started_at;
  }
  s.total_tokens = s.prompt_tokens + s.completion_tokens;
  const auto finished = s.completed + s.failed;
  s.success_rate = finished == 0 ? 0.0 : static_cast<double>(s.completed) / finished;
  std::sort(x.durations.begin(), x.durations.end());
  if (!x.durations.empty()) {
    s.avg_duration = duration_sum / static_cast<double>(x.durations.size());
    s.max_duration = x.durations.back();
  }
  s.p50_duration = exact_quantile(x.durations, 0.50);
  s.p95_duration = exact_quantile(x.durations, 0.95);
  s.p99_duration = exact_quantile(x.durations, 0.99);
  return x;
}

void expect_percentile(double actual, double exact, const char* name) {
  if (exact == 0.0) {
    EXPECT_EQ(actual, 0.0) << name;
  } else {
    EXPECT_LE(std::abs(actual - exact) / exact, kPercentileTolerance)
        << name << ": got " << actual << ", exact " << exact;
  }
}

void expect_stats(const SummaryStats& actual, const Expected& expected) {
  const SummaryStats& x = expected.stats;
  EXPECT_EQ(actual.total_executions, x.total_executions);
  EXPECT_EQ(actual.completed, x.completed);
  EXPECT_EQ(actual.failed, x.failed);
  EXPECT_EQ(actual.running, x.running);
  EXPECT_DOUBLE_EQ(actual.success_rate, x.success_rate);
  EXPECT_NEAR(actual.avg_duration, x.avg_duration, 1e-9 * std::max(1.0, x.avg_duration));
  expect_percentile(actual.p50_duration, x.p50_duration, "p50");
  expect_percentile(actual.p95_duration, x.p95_duration, "p95");
  expect_percentile(actual.p99_duration, x.p99_duration, "p99");
  EXPECT_EQ(actual.max_duration, x.max_duration);
  EXPECT_EQ(actual.llm_calls, x.llm_calls);
  EXPECT_EQ(actual.tool_calls, x.tool_calls);
  EXPECT_EQ(actual.memory_operations, x.memory_operations);
  EXPECT_EQ(actual.prompt_tokens, x.prompt_tokens);
  EXPECT_EQ(actual.completion_tokens, x.completion_tokens);
  EXPECT_EQ(actual.total_tokens, x.total_tokens);
  EXPECT_EQ(actual.cached_tokens, x.cached_tokens);
  EXPECT_EQ(actual.reasoning_tokens, x.reasoning_tokens);
  EXPECT_EQ(actual.unpriced_llm_calls, x.unpriced_llm_calls);
  EXPECT_EQ(actual.cost_nanos, x.cost_nanos);
  EXPECT_EQ(actual.first_started_at, x.first_started_at);
  EXPECT_EQ(actual.last_started_at, x.last_started_at);
}

std::vector<CostGroup> brute_force_breakdown(const std::vector<Execution>& all,
                                             CostGrouping grouping, const ExecutionFilter& f) {
  std::map<std::string, CostGroup> groups;
  for (const auto& e : all) {
    if (!matches(e, f)) continue;
    if (grouping == CostGrouping::model) {
      for (const auto& event : e.events) {
        const auto* call = std::get_if<LlmCall>(&event.payload);
        if (call == nullptr) continue;
        CostGroup& g = groups[call->model];
        g.key = call->model;
        ++g.llm_calls;
        g.prompt_tokens += call->prompt_tokens;
        g.completion_tokens += call->completion_tokens;
        g.cached_tokens += call->cached_tokens;
        if (!call->priced) ++g.unpriced_llm_calls;
        g.cost_nanos += call->cost_nanos;
      }
      continue;
    }
    const std::string key =
        grouping == CostGrouping::agent
            ? e.agent_name
            : detail::utc_day(static_cast<std::int64_t>(std::floor(e.started_at)));
    CostGroup& g = groups[key];
    g.key = key;
    ++g.executions;
    g.llm_calls += e.metrics.llm_calls;
    g.prompt_tokens += e.metrics.prompt_tokens;
    g.completion_tokens += e.metrics.completion_tokens;
    g.cached_tokens += e.metrics.cached_tokens;
    g.unpriced_llm_calls += e.metrics.unpriced_llm_calls;
    g.cost_nanos += e.metrics.cost_nanos;
  }
  std::vector<CostGroup> result;
  for (auto& [key, group] : groups) result.push_back(group);
  if (grouping != CostGrouping::day) {
    std::stable_sort(result.begin(), result.end(), [](const CostGroup& a, const CostGroup& b) {
      return a.cost_nanos > b.cost_nanos;
    });
  }
  return result;
}

void expect_breakdown(const std::vector<CostGroup>& actual,
                      const std::vector<CostGroup>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    SCOPED_TRACE("group " + std::to_string(i) + " " + expected[i].key);
    EXPECT_EQ(actual[i].key, expected[i].key);
    EXPECT_EQ(actual[i].executions, expected[i].executions);
    EXPECT_EQ(actual[i].llm_calls, expected[i].llm_calls);
    EXPECT_EQ(actual[i].prompt_tokens, expected[i].prompt_tokens);
    EXPECT_EQ(actual[i].completion_tokens, expected[i].completion_tokens);
    EXPECT_EQ(actual[i].cached_tokens, expected[i].cached_tokens);
    EXPECT_EQ(actual[i].unpriced_llm_calls, expected[i].unpriced_llm_calls);
    EXPECT_EQ(actual[i].cost_nanos, expected[i].cost_nanos);
  }
}

std::string describe(const ExecutionFilter& f) {
  std::string text = "filter:";
  if (f.agent_name) text += " agent=" + *f.agent_name;
  if (f.status) text += " status=" + std::string(telemetry::to_string(*f.status));
  char number[64];
  if (f.since) {
    std::snprintf(number, sizeof number, " since=%.17g", *f.since);
    text += number;
  }
  if (f.until) {
    std::snprintf(number, sizeof number, " until=%.17g", *f.until);
    text += number;
  }
  return text;
}

// Every read of the store agrees with brute force over `all` for this filter.
void expect_consistent(StorageAdapter& store, const std::vector<Execution>& all,
                       const ExecutionFilter& filter) {
  SCOPED_TRACE(describe(filter));
  const Expected expected = brute_force_stats(all, filter);
  expect_stats(store.get_summary_stats(filter), expected);
  EXPECT_EQ(store.count_executions(filter), expected.stats.total_executions);
  for (const auto grouping : {CostGrouping::model, CostGrouping::agent, CostGrouping::day}) {
    SCOPED_TRACE("grouping " + std::to_string(static_cast<int>(grouping)));
    expect_breakdown(store.get_cost_breakdown(grouping, filter),
                     brute_force_breakdown(all, grouping, filter));
  }
}

// ---------------------------------------------------------------------------------------------
// A random workload

const std::vector<std::string> kAgents = {"planner", "coder", "reviewer", "searcher",
                                          "エージェント"};
const std::vector<std::string> kModels = {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5",
                                          "llama-local"};

class Workload {
 public:
  explicit Workload(std::uint64_t seed) : random_(seed) {}

  // A time in [kDay0 - 2h, kDay0 + days): aligned hours, just either side of them, and
  // anywhere in between.
  double time(int days) {
    const double span = days * 86400.0 + 2 * kHour;
    const double t = kDay0 - 2 * kHour + uniform(0.0, span);
    const double boundary = std::floor(t / kHour) * kHour;
    switch (pick(20)) {
      case 0:
        return boundary;
      case 1:
        return std::nextafter(boundary, -1e300);
      case 2:
        return std::nextafter(boundary, 1e300);
      default:
        return t;
    }
  }

  Execution execution(int days) {
    const int status_pick = pick(10);
    const ExecutionStatus status = status_pick < 7   ? ExecutionStatus::completed
                                   : status_pick < 9 ? ExecutionStatus::failed
                                                     : ExecutionStatus::running;
    std::optional<double> duration;
    if (status != ExecutionStatus::running) {
      duration = pick(100) == 0 ? 0.0 : std::lognormal_distribution<double>(0.0, 1.5)(random_);
    }
    std::vector<LlmCall> calls;
    const int n_calls = pick(4);
    for (int i = 0; i < n_calls; ++i) {
      const std::string& model = kModels[static_cast<std::size_t>(pick(4))];
      const bool priced = model != "llama-local";
      LlmCall call =
          llm_call(model, pick(5000), pick(2000),
                   priced ? static_cast<telemetry::NanoUsd>(pick(50'000'000)) : 0, priced);
      call.cached_tokens = call.prompt_tokens / 3;
      call.reasoning_tokens = call.completion_tokens / 4;
      call.duration = uniform(0.1, 5.0);
      calls.push_back(call);
    }
    Execution e = make_execution(make_id(0x0192000000000000ULL, ++counter_),
                                 kAgents[static_cast<std::size_t>(pick(5))], status, time(days),
                                 duration, std::move(calls));
    for (int i = pick(3); i > 0; --i) {
      ToolCall tool;
      tool.tool_name = "search";
      tool.kwargs = {{"q", "x"}};
      tool.success = pick(5) != 0;
      if (!tool.success) tool.error = "boom";
      e.events.push_back(Event{e.started_at + 0.5, tool});
      ++e.metrics.tool_calls;
    }
    if (pick(3) == 0) {
      MemoryOperation op;
      op.operation = "add";
      op.items = 2;
      e.events.push_back(Event{e.started_at + 0.6, op});
      ++e.metrics.memory_operations;
    }
    return e;
  }

  std::vector<Execution> executions(int count, int days) {
    std::vector<Execution> result;
    result.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) result.push_back(execution(days));
    return result;
  }

  // A filter on a random agent, status and time range, including ranges inside one hour,
  // aligned bounds, bounds equal to a stored started_at, and empty ranges.
  ExecutionFilter filter(const std::vector<Execution>& all, int days) {
    ExecutionFilter f;
    if (pick(3) == 0) {
      f.agent_name = pick(8) == 0 ? std::string("nobody") : kAgents[std::size_t(pick(5))];
    }
    if (pick(3) == 0) f.status = static_cast<ExecutionStatus>(pick(3));
    auto bound = [&]() -> double {
      switch (pick(4)) {
        case 0:
          return all.empty() ? time(days) : all[std::size_t(pick(int(all.size())))].started_at;
        case 1:
          return kDay0 + (pick(days * 24 + 4) - 2) * kHour;  // aligned
        default:
          return time(days);
      }
    };
    switch (pick(6)) {
      case 0:
        break;
      case 1:
        f.since = bound();
        break;
      case 2:
        f.until = bound();
        break;
      case 3: {  // within one hour
        const double hour = std::floor(bound() / kHour) * kHour;
        double a = uniform(0.0, kHour);
        double b = uniform(0.0, kHour);
        if (a > b) std::swap(a, b);
        f.since = pick(4) == 0 ? hour : hour + a;
        f.until = hour + b;
        break;
      }
      default:
        f.since = bound();
        f.until = pick(8) == 0 ? *f.since - uniform(0.0, 3 * kHour) : bound();
        if (*f.until < *f.since && pick(2) == 0) std::swap(*f.since, *f.until);
        break;
    }
    return f;
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(random_); }
  double uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(random_);
  }

 private:
  std::mt19937_64 random_;
  std::uint64_t counter_ = 0;
};

// Saves in batches of random sizes, so rollup cells are merged across many transactions.
std::size_t save_in_batches(StorageAdapter& store, const std::vector<Execution>& all,
                            Workload& workload) {
  std::size_t inserted = 0;
  std::size_t i = 0;
  while (i < all.size()) {
    const auto n = std::min<std::size_t>(all.size() - i, 1 + std::size_t(workload.pick(150)));
    std::vector<const Execution*> batch;
    for (std::size_t k = i; k < i + n; ++k) batch.push_back(&all[k]);
    inserted += store.save_executions(batch);
    i += n;
  }
  return inserted;
}

// ---------------------------------------------------------------------------------------------
// Fixture: every backend, each test on a fresh, empty store

class StoreConformanceTest : public ::testing::TestWithParam<test::BackendCase> {
 protected:
  void SetUp() override { store_ = GetParam().open(); }
  void TearDown() override { store_.reset(); }
  StorageAdapter& store() { return *store_; }
  // Backends with derived tables that can be rebuilt from the rows (SQLite's rollups) rebuild
  // them, so that the test checks the rebuilt ones too.
  void rebuild_derived_tables() {
    if (auto* sqlite = dynamic_cast<SqliteStore*>(store_.get())) sqlite->rebuild_rollups();
  }

 private:
  std::shared_ptr<StorageAdapter> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::ValuesIn(test::conformance_backends()),
                         [](const auto& info) { return info.param.name; });

TEST_P(StoreConformanceTest, SaveAndGetByIdAndPrefix) {
  const Execution e =
      make_execution(make_id(0x0192abcdef012345ULL, 1), "agent", ExecutionStatus::completed,
                     kDay0 + 10.5, 1.25, {llm_call("gpt-4o", 10, 20, 12345)});
  EXPECT_EQ(store().save_execution(e), 1u);

  const auto by_id = store().get_execution(e.id);
  ASSERT_TRUE(by_id);
  expect_same_execution(e, *by_id);

  const auto by_prefix = store().get_execution(e.id.substr(0, 8));
  ASSERT_TRUE(by_prefix);
  EXPECT_EQ(by_prefix->id, e.id);

  // Prefixes are matched case-insensitively, as ids are lowercase.
  std::string upper = e.id.substr(0, 10);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const auto by_upper = store().get_execution(upper);
  ASSERT_TRUE(by_upper);
  EXPECT_EQ(by_upper->id, e.id);

  EXPECT_FALSE(store().get_execution(make_id(0x0192abcdef012345ULL, 2)));
  EXPECT_FALSE(store().get_execution("ffff"));
  EXPECT_FALSE(store().get_execution(""));
  EXPECT_FALSE(store().get_execution(e.id + "0"));
}

TEST_P(StoreConformanceTest, AmbiguousPrefixThrows) {
  const Execution a = make_execution(make_id(0x0192aaaa00000000ULL, 0x1111), "agent",
                                     ExecutionStatus::completed, kDay0, 1.0);
  const Execution b = make_execution(make_id(0x0192aaaa00000000ULL, 0x2222), "agent",
                                     ExecutionStatus::completed, kDay0, 1.0);
  const Execution c = make_execution(make_id(0x0192bbbb00000000ULL, 0x3333), "agent",
                                     ExecutionStatus::completed, kDay0, 1.0);
  EXPECT_EQ(save_all(store(), {a, b, c}), 3u);

  EXPECT_THROW((void)store().get_execution("0192aaaa"), AmbiguousIdError);
  EXPECT_THROW((void)store().get_execution("0192"), AmbiguousIdError);
  try {
    (void)store().get_execution("0192aaaa");
  } catch (const AmbiguousIdError& error) {
    EXPECT_THAT(error.what(), HasSubstr("0192aaaa"));
  }
  // An AmbiguousIdError is a StorageError.
  EXPECT_THROW((void)store().get_execution("0192a"), StorageError);

  // Enough characters to be unique, or the full id, find one execution.
  EXPECT_EQ(store().get_execution("0192b")->id, c.id);
  EXPECT_EQ(store().get_execution(a.id.substr(0, 30))->id, a.id);
  EXPECT_EQ(store().get_execution(a.id)->id, a.id);
  EXPECT_EQ(store().get_execution(b.id)->id, b.id);
  EXPECT_FALSE(store().get_execution("0192c"));
}

TEST_P(StoreConformanceTest, BatchSaveIsExactlyOnce) {
  std::vector<Execution> first;
  for (int i = 0; i < 10; ++i) {
    first.push_back(make_execution(make_id(0x0192, std::uint64_t(i)), "agent",
                                   ExecutionStatus::completed, kDay0 + i * 1000.0, 1.0 + i,
                                   {llm_call("gpt-4o", 100, 50, 1'000'001)}));
  }
  EXPECT_EQ(save_all(store(), first), 10u);
  EXPECT_EQ(save_all(store(), first), 0u);  // a retried batch stores nothing twice
  EXPECT_EQ(store().save_execution(first[3]), 0u);
  EXPECT_EQ(store().save_executions({}), 0u);

  // Half old, half new.
  std::vector<Execution> mixed(first.begin(), first.begin() + 5);
  for (int i = 10; i < 15; ++i) {
    mixed.push_back(make_execution(make_id(0x0192, std::uint64_t(i)), "agent",
                                   ExecutionStatus::failed, kDay0 + i * 1000.0, 2.0,
                                   {llm_call("gpt-4o", 100, 50, 1'000'001)}));
  }
  EXPECT_EQ(save_all(store(), mixed), 5u);

  // The same id twice in one batch is stored once.
  const Execution twice = make_execution(make_id(0x0192, 99), "agent", ExecutionStatus::completed,
                                         kDay0 + 20000.0, 1.0, {llm_call("gpt-4o", 1, 1, 7)});
  EXPECT_EQ(save_all(store(), {twice, twice}), 1u);

  std::vector<Execution> all = first;
  all.insert(all.end(), mixed.begin() + 5, mixed.end());
  all.push_back(twice);
  for (const auto& filter : {ExecutionFilter{}, ExecutionFilter{{}, {}, kDay0 + 500.0, {}},
                             ExecutionFilter{{}, {}, kDay0, kDay0 + 7200.0}}) {
    expect_consistent(store(), all, filter);
  }
  const SummaryStats stats = store().get_summary_stats({});
  EXPECT_EQ(stats.total_executions, 16);
  EXPECT_EQ(stats.llm_calls, 16);
  EXPECT_EQ(stats.cost_nanos, 15 * 1'000'001 + 7);
}

// The pipeline's two-phase path: a batch prepared in pieces where the backend can, the
// executions it hands back when the pipeline has to spool it, the oldest dropped while it
// waited, a retry after a commit the writer never saw, and a batch half stored already.
TEST_P(StoreConformanceTest, PreparedBatchesAreWrittenExactlyOnce) {
  using Shared = std::vector<std::shared_ptr<const Execution>>;
  const auto shared = [](auto first, auto last) {
    Shared result;
    for (auto it = first; it != last; ++it) result.push_back(std::make_shared<Execution>(*it));
    return result;
  };
  std::vector<Execution> made{test::make_full_execution()};
  for (int i = 0; i < 12; ++i) {
    made.push_back(make_execution(
        make_id(0x0197, std::uint64_t(i)), i % 2 == 0 ? "a" : "b",
        i % 3 == 0 ? ExecutionStatus::failed : ExecutionStatus::completed, kDay0 + i * 1500.0,
        1.0 + i, {llm_call("gpt-4o", 100 + i, 50, 1'000'001 + i), llm_call("claude", 10, 5, 77)}));
  }
  std::unique_ptr<PreparedBatch> prepared;
  if (store().prepares_in_pieces()) {
    prepared = store().prepare(shared(made.begin(), made.begin() + 5));
    store().prepare_more(*prepared, shared(made.begin() + 5, made.begin() + 6));
    store().prepare_more(*prepared, shared(made.begin() + 6, made.end()));
  } else {
    prepared = store().prepare(shared(made.begin(), made.end()));
  }
  ASSERT_EQ(prepared->size(), made.size());
  const auto& handed_back = prepared->executions();
  ASSERT_EQ(handed_back.size(), made.size());
  for (std::size_t i = 0; i < made.size(); ++i) {
    SCOPED_TRACE("execution " + std::to_string(i));
    expect_same_execution(made[i], *handed_back[i]);
  }
  prepared->skip_front(1);
  EXPECT_EQ(store().write_prepared(*prepared), made.size() - 1);
  EXPECT_EQ(store().write_prepared(*prepared), 0u);
  EXPECT_FALSE(store().get_execution(made[0].id));

  std::vector<Execution> more;
  for (int i = 0; i < 4; ++i) {
    more.push_back(make_execution(make_id(0x0198, std::uint64_t(i)), "c",
                                  ExecutionStatus::completed, kDay0 + i * 700.0, 0.5,
                                  {llm_call("gpt-4o", 1, 1, 3)}));
  }
  Shared mixed = shared(made.begin() + 1, made.begin() + 4);
  for (auto& e : shared(more.begin(), more.end())) mixed.push_back(std::move(e));
  EXPECT_EQ(store().write_prepared(*store().prepare(std::move(mixed))), more.size());

  std::vector<Execution> all(made.begin() + 1, made.end());
  all.insert(all.end(), more.begin(), more.end());
  for (const auto& e : all) {
    const auto back = store().get_execution(e.id);
    ASSERT_TRUE(back) << e.id;
    expect_same_execution(e, *back);
  }
  for (const auto& filter : {ExecutionFilter{}, ExecutionFilter{{}, {}, kDay0 + 2000.0, {}}}) {
    expect_consistent(store(), all, filter);
  }
  rebuild_derived_tables();
  expect_consistent(store(), all, {});
}

// Imported records often carry timestamps in whole seconds: thousands may share one start
// time, and each is stored, found by time and deleted like any other.
TEST_P(StoreConformanceTest, ThousandsOfExecutionsWithOneStartTime) {
  const double t = kDay0 + 3600.0;
  std::vector<Execution> same;
  for (int i = 0; i < 2500; ++i) {
    same.push_back(make_execution(make_id(0x0193, std::uint64_t(i)), "importer",
                                  ExecutionStatus::completed, t, 1.0,
                                  {llm_call("gpt-4o", 10, 5, 1'000)}));
  }
  const Execution later =
      make_execution(make_id(0x0194, 1), "importer", ExecutionStatus::completed, t + 0.5, 1.0, {});
  const Execution earlier =
      make_execution(make_id(0x0192, 1), "importer", ExecutionStatus::completed, t - 0.5, 1.0, {});
  std::vector<Execution> all = same;
  all.push_back(later);
  all.push_back(earlier);
  ASSERT_EQ(save_all(store(), all), all.size());
  EXPECT_EQ(save_all(store(), same), 0u) << "still exactly once";

  EXPECT_EQ(store().count_executions({}), 2502);
  EXPECT_EQ(store().count_executions({{}, {}, t, t + 1e-3}), 2500);
  EXPECT_EQ(store().count_executions({{}, {}, {}, t}), 1);
  EXPECT_EQ(store().count_executions({{}, {}, t + 1e-3, {}}), 1);
  EXPECT_EQ(store().get_summary_stats({{}, {}, t, t + 1e-3}).cost_nanos, 2500 * 1'000);
  ExecutionQuery newest;
  newest.limit = 1;
  EXPECT_EQ(store().get_executions(newest).at(0).id, later.id);
  for (const auto& filter : {ExecutionFilter{}, ExecutionFilter{{}, {}, t, t + 1e-3}}) {
    expect_consistent(store(), all, filter);
  }

  EXPECT_EQ(store().delete_old_executions(t), 1u);
  EXPECT_EQ(store().delete_old_executions(t + 0.25), 2500u);
  EXPECT_EQ(store().count_executions({}), 1);
  EXPECT_TRUE(store().get_execution(later.id));
}

TEST_P(StoreConformanceTest, GetExecutionsFiltersAndOrders) {
  std::vector<Execution> all;
  for (int i = 0; i < 30; ++i) {
    Execution e =
        make_execution(make_id(0x0192, std::uint64_t(100 + i)), i % 3 == 0 ? "alpha" : "beta",
                       i % 4 == 0 ? ExecutionStatus::failed : ExecutionStatus::completed,
                       kDay0 + i * 600.0, 1.0, {llm_call("gpt-4o", 5, 5, 5)});
    all.push_back(e);
  }
  // A trace: a root, a child and a grandchild.
  Execution root =
      make_execution(make_id(0x0193, 1), "root", ExecutionStatus::completed, kDay0 + 100.0, 3.0);
  Execution child =
      make_execution(make_id(0x0193, 2), "child", ExecutionStatus::completed, kDay0 + 101.0, 1.0);
  child.trace_id = root.id;
  child.parent_id = root.id;
  Execution grandchild = make_execution(make_id(0x0193, 3), "grandchild", ExecutionStatus::running,
                                        kDay0 + 102.0, std::nullopt);
  grandchild.trace_id = root.id;
  grandchild.parent_id = child.id;
  all.push_back(root);
  all.push_back(child);
  all.push_back(grandchild);
  ASSERT_EQ(save_all(store(), all), all.size());

  auto ids_of = [](const std::vector<Execution>& list) {
    std::vector<std::string> ids;
    for (const auto& e : list) ids.push_back(e.id);
    return ids;
  };
  // Brute force: the matching executions newest first (ties by id, descending).
  auto expected_ids = [&](const ExecutionQuery& q) {
    std::vector<Execution> hits;
    for (const auto& e : all) {
      if (!matches(e, q)) continue;
      if (q.trace_id && e.trace_id != *q.trace_id) continue;
      hits.push_back(e);
    }
    std::sort(hits.begin(), hits.end(), [](const Execution& a, const Execution& b) {
      return a.started_at != b.started_at ? a.started_at > b.started_at : a.id > b.id;
    });
    std::vector<std::string> ids = ids_of(hits);
    const auto from = std::min<std::size_t>(ids.size(), std::size_t(q.offset));
    const auto to = std::min<std::size_t>(ids.size(), from + std::size_t(q.limit));
    return std::vector<std::string>(ids.begin() + std::ptrdiff_t(from),
                                    ids.begin() + std::ptrdiff_t(to));
  };

  ExecutionQuery q;
  q.limit = 1000;
  EXPECT_EQ(ids_of(store().get_executions(q)), expected_ids(q));
  EXPECT_EQ(store().get_executions(q).size(), all.size());

  q.agent_name = "alpha";
  EXPECT_EQ(ids_of(store().get_executions(q)), expected_ids(q));
  EXPECT_EQ(store().get_executions(q).size(), 10u);

  q = {};
  q.limit = 1000;
  q.status = ExecutionStatus::failed;
  EXPECT_EQ(ids_of(store().get_executions(q)), expected_ids(q));
  EXPECT_EQ(store().get_executions(q).size(), 8u);

  q = {};
  q.limit = 1000;
  q.since = kDay0 + 1200.0;  // inclusive
  q.until = kDay0 + 6000.0;  // exclusive
  EXPECT_EQ(ids_of(store().get_executions(q)), expected_ids(q));
  EXPECT_EQ(store().get_executions(q).size(), 8u);

  q = {};
  q.limit = 1000;
  q.trace_id = root.id;
  EXPECT_EQ(ids_of(store().get_executions(q)),
            (std::vector<std::string>{grandchild.id, child.id, root.id}));

  q = {};
  q.limit = 5;
  q.offset = 5;
  EXPECT_EQ(ids_of(store().get_executions(q)), expected_ids(q));
  EXPECT_EQ(store().get_executions(q).size(), 5u);

  q.offset = 31;  // past the end but one
  EXPECT_EQ(ids_of(store().get_executions(q)), expected_ids(q));
  EXPECT_EQ(store().get_executions(q).size(), 2u);

  q = {};
  q.limit = 0;
  EXPECT_TRUE(store().get_executions(q).empty());

  // Default limit is 100; include_events=false leaves events empty but keeps the rest.
  q = {};
  q.include_events = false;
  q.agent_name = "beta";
  const auto listing = store().get_executions(q);
  ASSERT_EQ(listing.size(), 20u);
  for (const auto& e : listing) {
    EXPECT_TRUE(e.events.empty());
    EXPECT_EQ(e.metrics.llm_calls, 1);
    EXPECT_EQ(e.metrics.cost_nanos, 5);
  }
  q.include_events = true;
  for (const auto& e : store().get_executions(q)) EXPECT_EQ(e.events.size(), 1u);
}

TEST_P(StoreConformanceTest, FullRecordRoundTrip) {
  Execution e = test::make_full_execution();
  // Arguments of every JSON kind, and text beyond ASCII.
  e.kwargs = {{"query", "weather in 京都"},
              {"max_steps", 5},
              {"ratio", 0.25},
              {"flags", {true, false, nullptr}},
              {"nested", {{"a", {1, 2, 3}}}}};

  ASSERT_EQ(store().save_execution(e), 1u);
  const auto back = store().get_execution(e.id);
  ASSERT_TRUE(back);
  expect_same_execution(e, *back);
  EXPECT_EQ(back->metrics.cost_nanos, 123456789);

  ExecutionQuery q;
  q.trace_id = e.trace_id;
  const auto listed = store().get_executions(q);
  ASSERT_EQ(listed.size(), 1u);
  expect_same_execution(e, listed[0]);

  // A root with nothing optional set.
  Execution bare;
  bare.id = make_id(0x0192f0a1b2c37d4eULL, 1);
  bare.trace_id = bare.id;
  bare.agent_name = "bare";
  bare.started_at = 1700000000.0;
  ASSERT_EQ(store().save_execution(bare), 1u);
  const auto bare_back = store().get_execution(bare.id);
  ASSERT_TRUE(bare_back);
  expect_same_execution(bare, *bare_back);
}

TEST_P(StoreConformanceTest, InvalidUtf8IsStoredSanitised) {
  Execution e = make_execution(make_id(0x0192, 5), "agent", ExecutionStatus::completed, kDay0, 1.0);
  e.kwargs = {{"text", std::string("bad \xC0\xAF byte")}};
  ToolCall tool;
  tool.tool_name = "t";
  tool.kwargs = {{"arg", std::string("\xFF")}};
  e.events.push_back(Event{kDay0, tool});
  e.metrics.tool_calls = 1;
  ASSERT_EQ(store().save_execution(e), 1u);
  const auto back = store().get_execution(e.id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kwargs["text"], "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
  EXPECT_EQ(std::get<ToolCall>(back->events.at(0).payload).kwargs["arg"], "\xEF\xBF\xBD");
}

TEST_P(StoreConformanceTest, SummaryStats) {
  std::vector<Execution> all;
  std::vector<double> durations;
  // 100 completed of 1..100 s, 20 failed of 0.5 s, 5 running.
  for (int i = 1; i <= 100; ++i) {
    all.push_back(make_execution(make_id(0x0194, std::uint64_t(i)), "a", ExecutionStatus::completed,
                                 kDay0 + i * 97.0, double(i),
                                 {llm_call("gpt-4o", 1000, 100, 123456789)}));
  }
  for (int i = 0; i < 20; ++i) {
    all.push_back(make_execution(make_id(0x0195, std::uint64_t(i)), "b", ExecutionStatus::failed,
                                 kDay0 + 50000.0 + i, 0.5, {llm_call("mystery", 7, 3, 0, false)}));
  }
  for (int i = 0; i < 5; ++i) {
    all.push_back(make_execution(make_id(0x0196, std::uint64_t(i)), "c", ExecutionStatus::running,
                                 kDay0 + 60000.5 + i, std::nullopt));
  }
  ASSERT_EQ(save_all(store(), all), all.size());

  const SummaryStats s = store().get_summary_stats({});
  EXPECT_EQ(s.total_executions, 125);
  EXPECT_EQ(s.completed, 100);
  EXPECT_EQ(s.failed, 20);
  EXPECT_EQ(s.running, 5);
  EXPECT_DOUBLE_EQ(s.success_rate, 100.0 / 120.0);
  EXPECT_NEAR(s.avg_duration, (5050.0 + 10.0) / 120.0, 1e-9);
  // Sorted durations: twenty 0.5s, then 1..100; rank floor(q * 119).
  expect_percentile(s.p50_duration, 40.0, "p50");  // rank 59 -> 40
  expect_percentile(s.p95_duration, 94.0, "p95");  // rank 113 -> 94
  expect_percentile(s.p99_duration, 98.0, "p99");  // rank 117 -> 98
  EXPECT_EQ(s.max_duration, 100.0);
  EXPECT_EQ(s.llm_calls, 120);
  EXPECT_EQ(s.prompt_tokens, 100 * 1000 + 20 * 7);
  EXPECT_EQ(s.completion_tokens, 100 * 100 + 20 * 3);
  EXPECT_EQ(s.total_tokens, s.prompt_tokens + s.completion_tokens);
  EXPECT_EQ(s.unpriced_llm_calls, 20);
  EXPECT_EQ(s.cost_nanos, 100 * 123456789LL);
  EXPECT_DOUBLE_EQ(s.total_cost(), 12.3456789);
  EXPECT_EQ(s.first_started_at, kDay0 + 97.0);
  EXPECT_EQ(s.last_started_at, kDay0 + 60004.5);
  expect_consistent(store(), all, {});

  ExecutionFilter failed_only;
  failed_only.status = ExecutionStatus::failed;
  const SummaryStats f = store().get_summary_stats(failed_only);
  EXPECT_EQ(f.total_executions, 20);
  EXPECT_EQ(f.success_rate, 0.0);
  EXPECT_EQ(f.p50_duration, 0.5);

  ExecutionFilter nobody;
  nobody.agent_name = "nobody";
  const SummaryStats none = store().get_summary_stats(nobody);
  EXPECT_EQ(none.total_executions, 0);
  EXPECT_EQ(none.avg_duration, 0.0);
  EXPECT_EQ(none.p99_duration, 0.0);
  EXPECT_FALSE(none.first_started_at);
  EXPECT_TRUE(store().get_cost_breakdown(CostGrouping::model, nobody).empty());

  const auto by_model = store().get_cost_breakdown(CostGrouping::model, {});
  ASSERT_EQ(by_model.size(), 2u);
  EXPECT_EQ(by_model[0].key, "gpt-4o");
  EXPECT_EQ(by_model[0].cost_nanos, 100 * 123456789LL);
  EXPECT_EQ(by_model[0].executions, 0);
  EXPECT_EQ(by_model[1].key, "mystery");
  EXPECT_EQ(by_model[1].unpriced_llm_calls, 20);
}

TEST_P(StoreConformanceTest, RandomizedConsistencyWithBruteForce) {
  constexpr int kDays = 4;
  // The in-memory store takes the large workload; stores that reach a disk or a server a
  // smaller one, to keep the suite fast.
  const bool in_memory = GetParam().name == "sqlite_memory";
  Workload workload(in_memory ? 20240601 : 20240602);
  std::vector<Execution> all = workload.executions(in_memory ? 3000 : 1500, kDays);
  // Written out of time order, as several agents' batches would be.
  std::shuffle(all.begin(), all.end(), std::mt19937(7));
  ASSERT_EQ(save_in_batches(store(), all, workload), all.size());

  const int filters = in_memory ? 250 : 80;
  // The filters must exercise every way a time range splits into rollups and rows.
  int with_buckets = 0, with_head = 0, with_tail = 0, with_whole = 0, empty_range = 0;
  int non_empty = 0;
  for (int i = 0; i < filters; ++i) {
    const ExecutionFilter filter = workload.filter(all, kDays);
    const auto split = detail::split_time_range(filter.since, filter.until);
    with_buckets += split.has_buckets;
    with_head += split.head.has_value();
    with_tail += split.tail.has_value();
    with_whole += split.whole.has_value();
    empty_range += !split.has_buckets && !split.whole;
    non_empty += brute_force_stats(all, filter).stats.total_executions > 0;
    expect_consistent(store(), all, filter);
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GE(with_buckets, filters / 4);
  EXPECT_GE(with_head, filters / 10);
  EXPECT_GE(with_tail, filters / 10);
  EXPECT_GE(with_whole, filters / 20);
  EXPECT_GE(empty_range, 1);
  EXPECT_GE(non_empty, filters / 2);

  // Re-saving everything, mixed with new executions, inserts only the new ones and leaves the
  // stats exact.
  std::vector<Execution> more = workload.executions(200, kDays);
  std::vector<Execution> resave = all;
  resave.insert(resave.end(), more.begin(), more.end());
  std::shuffle(resave.begin(), resave.end(), std::mt19937(8));
  ASSERT_EQ(save_in_batches(store(), resave, workload), more.size());
  all.insert(all.end(), more.begin(), more.end());
  expect_consistent(store(), all, {});
  for (int i = 0; i < 30; ++i) expect_consistent(store(), all, workload.filter(all, kDays));

  // Deleting at an unaligned time, then at an aligned one.
  for (const double cut : {kDay0 + 86400.0 + 1234.5678, kDay0 + 2 * 86400.0}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const auto older = static_cast<std::size_t>(std::count_if(
        all.begin(), all.end(), [&](const Execution& e) { return e.started_at < cut; }));
    ASSERT_GT(older, 0u);
    EXPECT_EQ(store().delete_old_executions(cut), older);
    std::erase_if(all, [&](const Execution& e) { return e.started_at < cut; });
    EXPECT_EQ(store().count_executions({}), std::int64_t(all.size()));
    expect_consistent(store(), all, {});
    ExecutionFilter around_cut;
    around_cut.since = cut - kHour;
    around_cut.until = cut + kHour;
    expect_consistent(store(), all, around_cut);
    for (int i = 0; i < 40; ++i) expect_consistent(store(), all, workload.filter(all, kDays));
    // The rows themselves are gone.
    ExecutionQuery q;
    q.limit = 100000;
    q.include_events = false;
    const auto rows = store().get_executions(q);
    EXPECT_EQ(rows.size(), all.size());
    for (const auto& e : rows) EXPECT_GE(e.started_at, cut);
  }
  EXPECT_EQ(store().delete_old_executions(kDay0 - 10 * 86400.0), 0u);

  // Rebuilding the rollups from the rows gives the same answers.
  const SummaryStats before = store().get_summary_stats({});
  rebuild_derived_tables();
  const SummaryStats after = store().get_summary_stats({});
  EXPECT_EQ(after.total_executions, before.total_executions);
  EXPECT_EQ(after.cost_nanos, before.cost_nanos);
  EXPECT_EQ(after.p50_duration, before.p50_duration);
  EXPECT_EQ(after.p99_duration, before.p99_duration);
  expect_consistent(store(), all, {});
  for (int i = 0; i < 40; ++i) expect_consistent(store(), all, workload.filter(all, kDays));

  store().clear_all();
  EXPECT_EQ(store().count_executions({}), 0);
  EXPECT_EQ(store().get_summary_stats({}).total_executions, 0);
  EXPECT_TRUE(store().get_executions({}).empty());
  EXPECT_TRUE(store().get_cost_breakdown(CostGrouping::day, {}).empty());
  EXPECT_FALSE(store().get_execution(all.front().id));
  for (int i = 0; i < 10; ++i) expect_consistent(store(), {}, workload.filter(all, kDays));

  // The store is usable again after clearing, and the old ids can be stored anew.
  ASSERT_EQ(save_in_batches(store(), all, workload), all.size());
  expect_consistent(store(), all, {});
}

TEST_P(StoreConformanceTest, ClearAllEmptiesEverything) {
  Workload workload(3);
  const auto all = workload.executions(100, 2);
  ASSERT_EQ(save_all(store(), all), 100u);
  store().clear_all();
  EXPECT_EQ(store().count_executions({}), 0);
  EXPECT_TRUE(store().get_executions({}).empty());
  for (const auto g : {CostGrouping::model, CostGrouping::agent, CostGrouping::day}) {
    EXPECT_TRUE(store().get_cost_breakdown(g, {}).empty());
  }
  EXPECT_EQ(store().get_summary_stats({}).cost_nanos, 0);
  rebuild_derived_tables();
  EXPECT_EQ(store().count_executions({}), 0);
}

TEST_P(StoreConformanceTest, BackendNameAndLocation) {
  EXPECT_EQ(store().backend_name(), GetParam().backend);
  EXPECT_FALSE(store().location().empty());
}

TEST(SqliteStoreLocation, NamesTheFileAndSchema) {
  SqliteStore memory(SqliteStore::kMemory);
  EXPECT_EQ(memory.location(), ":memory:");
  test::TempDir dir("kagura_sqlite_store_test");
  SqliteStore file((dir.path() / "telemetry.db").string());
  EXPECT_THAT(file.location(), HasSubstr("telemetry.db"));
  EXPECT_EQ(file.schema_version(), SqliteStore::kSchemaVersion);
}

// ---------------------------------------------------------------------------------------------
// Files

TEST(SqliteStoreFile, ReopenedStoreKeepsData) {
  test::TempDir dir("kagura_sqlite_store_test");
  const std::string path = (dir.path() / "nested" / "dir" / "telemetry.db").string();
  Workload workload(4);
  const auto all = workload.executions(300, 2);
  {
    SqliteStore store(path);  // creates the missing directories
    EXPECT_EQ(store.schema_version(), SqliteStore::kSchemaVersion);
    ASSERT_EQ(save_all(store, all), all.size());
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  SqliteStore reopened(path);
  EXPECT_EQ(reopened.schema_version(), SqliteStore::kSchemaVersion);
  EXPECT_EQ(reopened.count_executions({}), 300);
  expect_consistent(reopened, all, {});
  const auto back = reopened.get_execution(all[17].id);
  ASSERT_TRUE(back);
  expect_same_execution(all[17], *back);
  EXPECT_EQ(save_all(reopened, all), 0u);  // exactly-once holds across opens
}

// Found by fuzz/dashboard_params_fuzzer.cpp: a time after the year 2255 (until=7732-11-26)
// overflowed the row order key (undefined behaviour; a wrapped key in practice).
TEST(SqliteStoreTimes, TimesUpToYear9999AreStoredAndFilteredExactly) {
  SqliteStore store(":memory:");
  const auto far = make_execution(make_id(0x0192000000000000ULL, 1), "far",
                                  ExecutionStatus::completed, 253402300000.0, 1.0);
  const auto near = make_execution(make_id(0x0192000000000000ULL, 2), "near",
                                   ExecutionStatus::completed, 1764115200.0, 1.0);
  ASSERT_EQ(save_all(store, {far, near}), 2u);
  ExecutionQuery late;
  late.since = 7000000000.0;  // 2191
  late.until = 253402300799.0;
  const auto found = store.get_executions(late);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].agent_name, "far");
  ExecutionFilter all;
  all.until = 253402300799.0;
  EXPECT_EQ(store.count_executions(all), 2);
  ExecutionFilter early;
  early.until = 9000000000.0;  // 2255
  EXPECT_EQ(store.count_executions(early), 1);
  EXPECT_EQ(store.get_summary_stats(all).total_executions, 2);
}

TEST(SqliteStoreFile, UsesWalMode) {
  test::TempDir dir("kagura_sqlite_store_test");
  const std::string path = (dir.path() / "telemetry.db").string();
  {
    SqliteStore store(path);
    Workload workload(5);
    ASSERT_EQ(save_all(store, workload.executions(10, 1)), 10u);
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
    EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), SqliteStore::kSchemaVersion);
  }
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");  // persistent
}

TEST(SqliteStoreFile, NotADatabaseThrowsNamingThePath) {
  test::TempDir dir("kagura_sqlite_store_test");
  const std::string path = (dir.path() / "garbage.db").string();
  {
    std::mt19937 random(9);
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(random() & 0xFF));
  }
  const auto size_before = std::filesystem::file_size(path);
  try {
    SqliteStore store(path);
    FAIL() << "opened a file of random bytes";
  } catch (const StorageError& error) {
    EXPECT_THAT(error.what(), HasSubstr(path));
    EXPECT_THAT(error.what(), HasSubstr("not a SQLite database"));
  }
  EXPECT_EQ(std::filesystem::file_size(path), size_before);  // left alone
}

TEST(SqliteStoreFile, NewerSchemaThrows) {
  test::TempDir dir("kagura_sqlite_store_test");
  const std::string path = (dir.path() / "telemetry.db").string();
  { SqliteStore store(path); }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = " + std::to_string(SqliteStore::kSchemaVersion + 1));
  }
  try {
    SqliteStore store(path);
    FAIL() << "opened a store of a newer schema";
  } catch (const StorageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("newer"));
    EXPECT_THAT(error.what(), HasSubstr(path));
  }
}

TEST(SqliteStoreFile, ForeignDatabaseThrows) {
  test::TempDir dir("kagura_sqlite_store_test");
  const std::string path = (dir.path() / "other.db").string();
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)");
    db.exec("INSERT INTO invoices (amount) VALUES (12.5)");
  }
  try {
    SqliteStore store(path);
    FAIL() << "took over a foreign database";
  } catch (const StorageError& error) {
    EXPECT_THAT(error.what(), HasSubstr(path));
  }
  // The foreign data is untouched.
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM invoices").getInt(), 1);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM sqlite_master WHERE name = 'executions'").getInt(),
            0);
}

TEST(SqliteStoreFile, UnwritableLocationThrows) {
  test::TempDir dir("kagura_sqlite_store_test");
  // A regular file where a directory is needed.
  const auto blocker = dir.write("blocker", "x");
  const std::string path = (blocker / "telemetry.db").string();
  try {
    SqliteStore store(path);
    FAIL() << "opened a store below a regular file";
  } catch (const StorageError& error) {
    EXPECT_THAT(error.what(), HasSubstr(path));
  }
}

TEST(SqliteStoreFile, ProcessesOpeningANewFileAtOnceAllSucceed) {
  // Several "processes" starting at the same moment on a store that does not exist yet: each
  // must open it (one creates the schema, the others wait for it) and write.
  test::TempDir dir("kagura_sqlite_store_test");
  Workload workload(10);
  constexpr int kRounds = 25;
  constexpr int kOpeners = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = (dir.path() / ("new" + std::to_string(round) + ".db")).string();
    const auto executions = workload.executions(kOpeners, 1);
    std::latch start(kOpeners);
    std::atomic<int> failures{0};
    std::vector<std::thread> openers;
    for (int p = 0; p < kOpeners; ++p) {
      openers.emplace_back([&, p] {
        start.arrive_and_wait();
        try {
          SqliteStore store(path);
          if (store.save_execution(executions[std::size_t(p)]) != 1) ++failures;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "round " << round << ": " << e.what();
          ++failures;
        }
      });
    }
    for (auto& opener : openers) opener.join();
    ASSERT_EQ(failures.load(), 0) << "round " << round;
    SqliteStore check(path);
    EXPECT_EQ(check.count_executions({}), kOpeners);
    EXPECT_EQ(check.schema_version(), SqliteStore::kSchemaVersion);
  }
}

TEST(SqliteStoreFile, TwoStoresOnOneFileWriteExactlyOnce) {
  test::TempDir dir("kagura_sqlite_store_test");
  const std::string path = (dir.path() / "shared.db").string();
  Workload workload(6);
  const auto all = workload.executions(1600, 2);

  // Two "processes", each opening the new file at the same time, each with two threads. Every
  // execution is written by two threads, one through each store, as a retried batch would be.
  std::atomic<std::size_t> inserted{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> processes;
  for (int p = 0; p < 2; ++p) {
    processes.emplace_back([&, p] {
      try {
        SqliteStore store(path);
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t) {
          threads.emplace_back([&, t] {
            try {
              // Thread t of each store writes half t of the executions, in a different order.
              const std::size_t half = all.size() / 2;
              std::vector<const Execution*> mine;
              for (std::size_t i = t * half; i < (t + 1) * half; ++i) mine.push_back(&all[i]);
              if (p == 1) std::reverse(mine.begin(), mine.end());
              for (std::size_t i = 0; i < mine.size(); i += 40) {
                const auto n = std::min<std::size_t>(40, mine.size() - i);
                inserted += store.save_executions(std::span(mine).subspan(i, n));
              }
            } catch (const std::exception& e) {
              ADD_FAILURE() << "writer: " << e.what();
              ++errors;
            }
          });
        }
        for (auto& thread : threads) thread.join();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "open: " << e.what();
        ++errors;
      }
    });
  }
  for (auto& process : processes) process.join();
  ASSERT_EQ(errors.load(), 0);
  EXPECT_EQ(inserted.load(), all.size());

  SqliteStore reader(path);
  EXPECT_EQ(reader.count_executions({}), std::int64_t(all.size()));
  expect_consistent(reader, all, {});
  for (int i = 0; i < 20; ++i) expect_consistent(reader, all, workload.filter(all, 2));
  // The rollups written by both connections match a rebuild from the rows.
  reader.rebuild_rollups();
  expect_consistent(reader, all, {});
}

}  // namespace
}  // namespace kagura::storage
