// Caller-side cost of telemetry: one execution with one LLM call, one tool call and one memory
// operation, recorded through the collector into an asynchronous writer over a file SQLite
// store, against the same calls with telemetry off (the collector disabled, so every call is a
// no-op), in the same run. Each repetition records a round of executions that fits in the queue
// and is flushed untimed afterwards, so the figure is the agent thread's cost, not the writer's.
//
//   overhead_bench [repetitions] [executions_per_repetition] [db_path]

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "bench_util.hpp"
#include "kagura/pricing/price_table.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"

namespace {

using kagura::telemetry::Collector;

void one_agent_call(Collector& collector, int i) {
  auto scope = collector.track_execution("translator", {{"text", "hello"}, {"n", i}});
  scope.record_llm_call({.model = "openai/gpt-4o-mini",
                         .provider = "openai",
                         .prompt_tokens = 120,
                         .completion_tokens = 48,
                         .duration = 0.8,
                         .finish_reason = "stop"});
  scope.record_tool_call(
      {.tool_name = "web_search", .kwargs = {{"query", "kagura"}}, .duration = 0.01});
  scope.record_memory_operation({.operation = "add", .memory_type = "conversation", .items = 1});
}

double run_round(Collector& collector, int executions) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < executions; ++i) one_agent_call(collector, i);
  return kagura::bench::seconds_since(start) / executions;
}

}  // namespace

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 21;
  const int per_round = argc > 2 ? std::atoi(argv[2]) : 10000;
  const std::string db = argc > 3 ? argv[3] : "/tmp/kagura_overhead_bench.db";
  std::filesystem::remove(db);
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");

  auto store = std::make_shared<kagura::storage::SqliteStore>(db);
  kagura::telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.prices =
      std::make_shared<const kagura::pricing::PriceTable>(kagura::pricing::PriceTable::builtin());
  kagura::telemetry::Telemetry telemetry(store, options);
  auto& collector = telemetry.collector();

  // Warm up both paths (allocator, price lookup, SQLite pages).
  run_round(collector, per_round);
  telemetry.flush();

  std::vector<double> on, off;
  for (int r = 0; r < repetitions; ++r) {
    // Alternate so drift in machine load hits both sides alike.
    collector.set_enabled(false);
    off.push_back(run_round(collector, per_round));
    collector.set_enabled(true);
    on.push_back(run_round(collector, per_round));
    telemetry.flush();
  }
  const auto stats = telemetry.stats();
  const double on_us = kagura::bench::median(on) * 1e6;
  const double off_us = kagura::bench::median(off) * 1e6;
  std::printf("caller-side overhead, %d repetitions x %d executions (medians)\n", repetitions,
              per_round);
  std::printf("  telemetry off  %8.3f us per execution\n", off_us);
  std::printf("  telemetry on   %8.3f us per execution\n", on_us);
  std::printf("  overhead       %8.3f us per execution (target <= 2 us)  ratio on/off %.1fx\n",
              on_us - off_us, off_us > 0 ? on_us / off_us : 0.0);
  std::printf("  pipeline: queued %llu written %llu dropped %llu failed %llu\n",
              static_cast<unsigned long long>(stats.queued),
              static_cast<unsigned long long>(stats.written),
              static_cast<unsigned long long>(stats.dropped),
              static_cast<unsigned long long>(stats.failed));
  return 0;
}
