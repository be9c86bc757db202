// The price of the durable mode (KAGURA_TELEMETRY_DURABLE=1): the agent's time per execution
// with one LLM call, one tool call and one memory operation, recorded into a file SQLite store
//   - by the default asynchronous writer (the call returns once the execution is queued),
//   - in durable mode (the call returns once the execution is committed with
//     synchronous=FULL, so that it survives a power loss),
//   - in durable mode with synchronous=NORMAL instead (survives a killed process, not a power
//     loss), to show what the sync of each commit costs,
// all in the same run, one thread and then several threads at once (whose commits the durable
// mode groups).
//
//   durable_bench [executions_per_thread=2000] [threads=8] [directory=/tmp]

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "kagura/pricing/price_table.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"

namespace {

namespace fs = std::filesystem;
using kagura::storage::StorageAdapter;

// A store that keeps its own synchronous setting when asked for durable commits.
class NormalSyncStore final : public StorageAdapter {
 public:
  explicit NormalSyncStore(std::shared_ptr<StorageAdapter> inner) : inner_(std::move(inner)) {}
  std::string backend_name() const override { return inner_->backend_name(); }
  std::string location() const override { return inner_->location(); }
  std::size_t save_executions(std::span<const kagura::telemetry::Execution* const> b) override {
    return inner_->save_executions(b);
  }
  std::optional<kagura::telemetry::Execution> get_execution(std::string_view id) override {
    return inner_->get_execution(id);
  }
  std::vector<kagura::telemetry::Execution> get_executions(
      const kagura::storage::ExecutionQuery& q) override {
    return inner_->get_executions(q);
  }
  std::int64_t count_executions(const kagura::storage::ExecutionFilter& f) override {
    return inner_->count_executions(f);
  }
  kagura::storage::SummaryStats get_summary_stats(
      const kagura::storage::ExecutionFilter& f) override {
    return inner_->get_summary_stats(f);
  }
  std::vector<kagura::storage::CostGroup> get_cost_breakdown(
      kagura::storage::CostGrouping g, const kagura::storage::ExecutionFilter& f) override {
    return inner_->get_cost_breakdown(g, f);
  }
  std::size_t delete_old_executions(double t) override { return inner_->delete_old_executions(t); }
  void clear_all() override { inner_->clear_all(); }

 private:
  std::shared_ptr<StorageAdapter> inner_;
};

void one_agent_call(kagura::telemetry::Collector& collector, int i) {
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

enum class Mode { async, durable_full, durable_normal };

struct Result {
  double us_per_call = 0;  // the agent's wait, per execution and thread
  double per_second = 0;   // executions per second, all threads, flushed
  std::uint64_t stored = 0;
};

Result run(Mode mode, int threads, int per_thread, const fs::path& directory) {
  const fs::path db = directory / "kagura_durable_bench.db";
  for (const auto* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
  std::shared_ptr<StorageAdapter> store = std::make_shared<kagura::storage::SqliteStore>(db);
  if (mode == Mode::durable_normal) store = std::make_shared<NormalSyncStore>(store);
  kagura::telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.durable = mode != Mode::async;
  // Nothing dropped, so that every mode stores the same executions.
  options.pipeline.overflow = kagura::pipeline::OverflowPolicy::block;
  options.prices =
      std::make_shared<const kagura::pricing::PriceTable>(kagura::pricing::PriceTable::builtin());
  kagura::telemetry::Telemetry telemetry(store, options);
  auto& collector = telemetry.collector();
  for (int i = 0; i < 50; ++i) one_agent_call(collector, i);  // warm up
  telemetry.flush();

  std::vector<double> waits(static_cast<std::size_t>(threads));
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const auto thread_start = std::chrono::steady_clock::now();
      for (int i = 0; i < per_thread; ++i) one_agent_call(collector, i);
      waits[static_cast<std::size_t>(t)] = kagura::bench::seconds_since(thread_start);
    });
  }
  for (auto& worker : workers) worker.join();
  telemetry.flush();
  const double total = kagura::bench::seconds_since(start);
  Result result;
  result.us_per_call = kagura::bench::median(waits) / per_thread * 1e6;
  result.per_second = threads * per_thread / total;
  result.stored = telemetry.stats().written;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const int per_thread = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  const fs::path directory = argc > 3 ? argv[3] : "/tmp";

  std::printf("durable mode vs the default, file SQLite in %s, %d executions per thread\n",
              directory.c_str(), per_thread);
  std::printf("%-34s %8s %14s %14s %9s\n", "mode", "threads", "us/call", "exec/s", "ratio");
  for (const int n : {1, threads}) {
    const Result base = run(Mode::async, n, per_thread, directory);
    const Result full = run(Mode::durable_full, n, per_thread, directory);
    const Result normal = run(Mode::durable_normal, n, per_thread, directory);
    const auto line = [&](const char* name, const Result& r) {
      std::printf("%-34s %8d %14.1f %14.0f %8.1fx\n", name, n, r.us_per_call, r.per_second,
                  r.us_per_call / base.us_per_call);
    };
    line("default (asynchronous)", base);
    line("durable, synchronous=FULL", full);
    line("durable, synchronous=NORMAL", normal);
    const auto expected = static_cast<std::uint64_t>(n) * per_thread + 50;
    if (base.stored != expected || full.stored != expected || normal.stored != expected) {
      std::fprintf(stderr, "stored %llu/%llu/%llu executions, expected %llu each\n",
                   static_cast<unsigned long long>(base.stored),
                   static_cast<unsigned long long>(full.stored),
                   static_cast<unsigned long long>(normal.stored),
                   static_cast<unsigned long long>(expected));
      return 1;
    }
  }
  return 0;
}
