// Ingest and query speed of the SQLite store on a large database, in one run:
//
//   1. baseline: a plain loop of prepared-statement inserts of the same rows (JSON columns
//      serialised beforehand) into the same table and indexes, in transactions of the same size
//      as the pipeline's batches;
//   2. Kagura: the same executions submitted by an agent thread to the AsyncWriter (overflow
//      policy block, so the figure is the sustained rate), serialised, inserted and rolled up
//      on the pipeline's threads; once copied from templates, and once recorded through the
//      collector as agents record them;
//   3. queries on the resulting database: latest 100, summary stats, cost by model/agent/day.
//
// Executions are spread over 30 days in start order, as they arrive from running agents.
//
//   store_bench [executions=1000000] [repetitions=3] [directory=/tmp/kagura_store_bench] [only]
//
// `only` = "collector" or "templates" runs just that ingest, for profiling it alone.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench_data.hpp"
#include "bench_util.hpp"
#include "kagura/pipeline/async_writer.hpp"
#include "kagura/pricing/price_table.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/collector.hpp"
#include "kagura/telemetry/ids.hpp"
#include "telemetry/execution_json.hpp"

namespace {

using kagura::telemetry::Execution;
namespace fs = std::filesystem;

using kagura::bench::kSpanSeconds;
using kagura::bench::make_templates;
using kagura::bench::stamp;

void remove_db(const fs::path& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
}

// A plain insert loop: prepared statement, bound columns, as many rows per transaction as the
// pipeline writes.
double plain_insert_loop(const fs::path& path, const std::vector<Execution>& templates,
                         std::size_t n, double t0) {
  remove_db(path);
  { kagura::storage::SqliteStore create_schema(path.string()); }
  SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA cache_size = -16384");
  struct Row {
    std::string kwargs, events;
  };
  std::vector<Row> rows(templates.size());
  for (std::size_t i = 0; i < templates.size(); ++i) {
    // Same size as the stamped rows of the pipeline run: real timestamps in the events.
    Execution stamped = templates[i];
    stamp(stamped, i, n, t0);
    kagura::telemetry::detail::write_value_json(stamped.kwargs, rows[i].kwargs);
    kagura::telemetry::detail::write_events_storage(stamped.events, rows[i].events);
  }
  SQLite::Statement insert(
      db,
      "INSERT INTO executions (seq, id, trace_id, parent_id, agent_name, started_at, duration, "
      "status, error, error_type, model, llm_calls, tool_calls, memory_operations, "
      "prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, unpriced_llm_calls, "
      "cost_nanos, kwargs, events, custom_metrics, tags) VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, "
      "?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)");
  const auto start = std::chrono::steady_clock::now();
  std::size_t i = 0;
  while (i < n) {
    SQLite::Transaction transaction(db);
    for (std::size_t k = 0; k < kagura::pipeline::AsyncWriterOptions{}.max_batch && i < n;
         ++k, ++i) {
      const auto& t = templates[i % templates.size()];
      const auto& row = rows[i % templates.size()];
      const std::string id = kagura::telemetry::new_execution_id();
      const double started = t0 + kSpanSeconds * static_cast<double>(i) / static_cast<double>(n);
      insert.bind(1, static_cast<std::int64_t>(std::floor(started * 1e6)) * 1024 +
                         static_cast<std::int64_t>(i % 1024));
      insert.bind(2, id);
      insert.bind(3, t.agent_name);
      insert.bind(4, started);
      insert.bind(5, *t.duration);
      insert.bind(6, std::string(kagura::telemetry::to_string(t.status)));
      if (t.error.empty()) {
        insert.bind(7);
      } else {
        insert.bind(7, t.error);
      }
      insert.bind(8, std::string(t.primary_model()));
      insert.bind(9, t.metrics.llm_calls);
      insert.bind(10, t.metrics.tool_calls);
      insert.bind(11, t.metrics.memory_operations);
      insert.bind(12, t.metrics.prompt_tokens);
      insert.bind(13, t.metrics.completion_tokens);
      insert.bind(14, t.metrics.cached_tokens);
      insert.bind(15, t.metrics.reasoning_tokens);
      insert.bind(16, t.metrics.unpriced_llm_calls);
      insert.bind(17, t.metrics.cost_nanos);
      insert.bindNoCopy(18, row.kwargs);
      insert.bindNoCopy(19, row.events);
      insert.exec();
      insert.reset();
    }
    transaction.commit();
  }
  return static_cast<double>(n) / kagura::bench::seconds_since(start);
}

struct IngestResult {
  double rate;
  double peak_mib;
  kagura::pipeline::PipelineStats stats;
  std::string cpu;  // CPU seconds per thread during the run
};

IngestResult pipeline_ingest(const fs::path& path, const std::vector<Execution>& templates,
                             std::size_t n, double t0) {
  remove_db(path);
  kagura::bench::reset_peak_rss();
  auto store = std::make_shared<kagura::storage::SqliteStore>(path.string());
  kagura::pipeline::AsyncWriterOptions options;
  options.overflow = kagura::pipeline::OverflowPolicy::block;
  kagura::pipeline::AsyncWriter writer(store, options);
  const double producer_cpu_start = kagura::bench::this_thread_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto e = std::make_shared<Execution>(templates[i % templates.size()]);
    stamp(*e, i, n, t0);
    writer.submit(std::move(e));
  }
  const double producer_cpu = kagura::bench::this_thread_cpu_seconds() - producer_cpu_start;
  writer.flush(std::chrono::hours(1));
  const double rate = static_cast<double>(n) / kagura::bench::seconds_since(start);
  std::string cpu = " producer " + std::to_string(producer_cpu) + "s";
  for (const auto& [name, seconds] : kagura::bench::thread_cpu_seconds()) {
    if (name.rfind("kagura-", 0) == 0) cpu += " " + name + " " + std::to_string(seconds) + "s";
  }
  return {rate, kagura::bench::peak_rss_mib(), writer.stats(), cpu};
}

// The same ingest fed the way agents feed it: each execution recorded through the collector (at
// the current time, so its rollups fall in one or two hours), instead of copied from a template.
IngestResult collector_ingest(const fs::path& path, const std::vector<Execution>& templates,
                              std::size_t n) {
  remove_db(path);
  kagura::bench::reset_peak_rss();
  auto store = std::make_shared<kagura::storage::SqliteStore>(path.string());
  kagura::pipeline::AsyncWriterOptions options;
  options.overflow = kagura::pipeline::OverflowPolicy::block;
  auto writer = std::make_shared<kagura::pipeline::AsyncWriter>(store, options);
  kagura::telemetry::Collector collector(
      writer,
      std::make_shared<const kagura::pricing::PriceTable>(kagura::pricing::PriceTable::builtin()));
  const double producer_cpu_start = kagura::bench::this_thread_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& t = templates[i % templates.size()];
    const auto& llm = std::get<kagura::telemetry::LlmCall>(t.events[0].payload);
    auto scope = collector.track_execution(t.agent_name, t.kwargs);
    scope.record_llm_call({.model = llm.model,
                           .provider = llm.provider,
                           .prompt_tokens = llm.prompt_tokens,
                           .completion_tokens = llm.completion_tokens,
                           .duration = llm.duration,
                           .finish_reason = llm.finish_reason});
    scope.record_tool_call(
        {.tool_name = "web_search", .kwargs = {{"q", "kagura"}}, .duration = 0.05});
    scope.record_memory_operation({.operation = "add", .memory_type = "conversation", .items = 1});
    if (t.status == kagura::telemetry::ExecutionStatus::failed) scope.fail(t.error);
  }
  const double producer_cpu = kagura::bench::this_thread_cpu_seconds() - producer_cpu_start;
  writer->flush(std::chrono::hours(1));
  const double rate = static_cast<double>(n) / kagura::bench::seconds_since(start);
  std::string cpu = " agent thread " + std::to_string(producer_cpu) + "s";
  for (const auto& [name, seconds] : kagura::bench::thread_cpu_seconds()) {
    if (name.rfind("kagura-", 0) == 0) cpu += " " + name + " " + std::to_string(seconds) + "s";
  }
  return {rate, kagura::bench::peak_rss_mib(), writer->stats(), cpu};
}

double time_query_ms(int repetitions, const std::function<void()>& query) {
  query();  // warm the page cache and statement paths
  std::vector<double> times;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    query();
    times.push_back(kagura::bench::seconds_since(start) * 1e3);
  }
  return kagura::bench::median(times);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const int repetitions = argc > 2 ? std::atoi(argv[2]) : 3;
  const fs::path dir = argc > 3 ? argv[3] : "/tmp/kagura_store_bench";
  const std::string only = argc > 4 ? argv[4] : "";
  const bool collector_only = only == "collector";
  const bool templates_only = only == "templates";
  fs::create_directories(dir);
  const auto templates = make_templates();
  const double t0 = kagura::telemetry::unix_now() - kSpanSeconds;

  std::vector<double> plain_rates, kagura_rates, peaks, collector_rates, collector_peaks;
  kagura::pipeline::PipelineStats last_stats;
  for (int r = 0; r < repetitions && !collector_only; ++r) {
    if (!templates_only) {
      plain_rates.push_back(plain_insert_loop(dir / "plain.db", templates, n, t0));
    }
    const auto result = pipeline_ingest(dir / "kagura.db", templates, n, t0);
    kagura_rates.push_back(result.rate);
    peaks.push_back(result.peak_mib);
    last_stats = result.stats;
    const std::string plain =
        templates_only ? "" : "plain " + std::to_string(std::lround(plain_rates.back())) + "/s, ";
    std::printf("  repetition %d: %skagura %.0f/s, peak %.1f MiB, cpu:%s\n", r + 1, plain.c_str(),
                kagura_rates.back(), peaks.back(), result.cpu.c_str());
  }
  if (templates_only) return 0;
  // After the template runs, so that the recycled executions the collector keeps do not weigh
  // on their memory figures.
  for (int r = 0; r < repetitions; ++r) {
    const auto fed = collector_ingest(dir / "collector.db", templates, n);
    collector_rates.push_back(fed.rate);
    collector_peaks.push_back(fed.peak_mib);
    std::printf("  repetition %d: recorded through the collector %.0f/s, peak %.1f MiB, cpu:%s\n",
                r + 1, fed.rate, fed.peak_mib, fed.cpu.c_str());
    remove_db(dir / "collector.db");
  }
  if (collector_only) return 0;
  const double plain = kagura::bench::median(plain_rates);
  const double ours = kagura::bench::median(kagura_rates);
  std::printf("ingest of %zu executions (1 LLM + 1 tool + 1 memory event each), medians of %d\n", n,
              repetitions);
  std::printf("  plain insert loop   %9.0f executions/s\n", plain);
  std::printf(
      "  kagura pipeline     %9.0f executions/s (target >= 150000)  ratio %.2f of plain "
      "(target >= 0.50)\n",
      ours, ours / plain);
  std::printf("  peak RSS while ingesting %.1f MiB (target <= 100)\n",
              kagura::bench::median(peaks));
  std::printf(
      "  recorded through the collector (the agents' path, at the current time): "
      "%.0f executions/s, ratio %.2f of plain, peak RSS %.1f MiB\n",
      kagura::bench::median(collector_rates), kagura::bench::median(collector_rates) / plain,
      kagura::bench::median(collector_peaks));
  std::printf("  pipeline: written %llu dropped %llu failed %llu batches %llu\n",
              static_cast<unsigned long long>(last_stats.written),
              static_cast<unsigned long long>(last_stats.dropped),
              static_cast<unsigned long long>(last_stats.failed),
              static_cast<unsigned long long>(last_stats.batches));

  kagura::storage::SqliteStore store((dir / "kagura.db").string());
  const int query_reps = 15;
  using namespace kagura::storage;
  std::printf("queries on %zu executions (medians of %d)\n", n, query_reps);
  auto report = [](const char* name, double ms, double target) {
    std::printf("  %-34s %9.3f ms (target <= %.0f ms)\n", name, ms, target);
  };
  report("latest 100 (list, no events)",
         time_query_ms(query_reps,
                       [&] {
                         ExecutionQuery q;
                         q.include_events = false;
                         store.get_executions(q);
                       }),
         5);
  report("latest 100 (with events)",
         time_query_ms(query_reps,
                       [&] {
                         ExecutionQuery q;
                         store.get_executions(q);
                       }),
         5);
  report("summary stats (all)", time_query_ms(query_reps, [&] { store.get_summary_stats({}); }),
         100);
  report("summary stats (--since 24h)",
         time_query_ms(query_reps,
                       [&] {
                         ExecutionFilter f;
                         f.since = kagura::telemetry::unix_now() - 86400;
                         store.get_summary_stats(f);
                       }),
         100);
  report("summary stats (--agent researcher)",
         time_query_ms(query_reps,
                       [&] {
                         ExecutionFilter f;
                         f.agent_name = "researcher";
                         store.get_summary_stats(f);
                       }),
         100);
  report("cost by model (all)",
         time_query_ms(query_reps, [&] { store.get_cost_breakdown(CostGrouping::model, {}); }),
         100);
  report("cost by model (--since 7d)",
         time_query_ms(query_reps,
                       [&] {
                         ExecutionFilter f;
                         f.since = kagura::telemetry::unix_now() - 7 * 86400;
                         store.get_cost_breakdown(CostGrouping::model, f);
                       }),
         100);
  report("cost by agent (all)",
         time_query_ms(query_reps, [&] { store.get_cost_breakdown(CostGrouping::agent, {}); }),
         100);
  report("cost by day (all)",
         time_query_ms(query_reps, [&] { store.get_cost_breakdown(CostGrouping::day, {}); }), 100);
  return 0;
}
