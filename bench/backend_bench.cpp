// Ingest rate and the step-1 queries for each storage backend, on the same executions, in one
// run. The first store given is the baseline: every other backend's ingest rate is printed as a
// ratio to it (the machines are shared and noisy, so only figures from one run compare).
//
//   backend_bench EXECUTIONS REPETITIONS NAME=BACKEND=CONNECTION[=EXECUTIONS] ...
//
// e.g. backend_bench 1000000 5 sqlite=sqlite=/tmp/b.db postgresql=postgresql=postgresql://...
// bench/backend_bench.sh starts the servers and runs it. Each store is cleared first.
// Executions go through the asynchronous pipeline (overflow policy block, so the figure is the
// sustained rate), as agents' executions do.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_data.hpp"
#include "bench_util.hpp"
#include "kagura/pipeline/async_writer.hpp"
#include "kagura/storage/factory.hpp"
#include "kagura/telemetry/ids.hpp"

namespace {

using kagura::telemetry::Execution;
namespace storage = kagura::storage;

struct Target {
  std::string name;
  std::string backend;
  std::string connection;
  std::size_t executions = 0;
};

Target parse_target(const std::string& spec, std::size_t default_count) {
  const auto first = spec.find('=');
  const auto second = first == std::string::npos ? first : spec.find('=', first + 1);
  if (second == std::string::npos) {
    std::fprintf(stderr, "backend_bench: '%s' is not NAME=BACKEND=CONNECTION[=EXECUTIONS]\n",
                 spec.c_str());
    std::exit(2);
  }
  Target target{spec.substr(0, first), spec.substr(first + 1, second - first - 1),
                spec.substr(second + 1), default_count};
  // A connection string may itself contain '=' (URI options): only a purely numeric last
  // field is a count.
  const auto last = target.connection.rfind('=');
  if (last != std::string::npos && last + 1 < target.connection.size() &&
      target.connection.find_first_not_of("0123456789", last + 1) == std::string::npos) {
    target.executions = std::strtoull(target.connection.c_str() + last + 1, nullptr, 10);
    target.connection.resize(last);
  }
  return target;
}

double ingest(const std::shared_ptr<storage::StorageAdapter>& store,
              const std::vector<Execution>& templates, std::size_t n, double t0) {
  kagura::pipeline::AsyncWriterOptions options;
  options.overflow = kagura::pipeline::OverflowPolicy::block;
  kagura::pipeline::AsyncWriter writer(store, options);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto e = std::make_shared<Execution>(templates[i % templates.size()]);
    kagura::bench::stamp(*e, i, n, t0);
    writer.submit(std::move(e));
  }
  writer.flush(std::chrono::hours(4));
  const double seconds = kagura::bench::seconds_since(start);
  const auto stats = writer.stats();
  if (stats.written != n) {
    std::fprintf(stderr, "backend_bench: %llu of %zu written (failed %llu, dropped %llu): %s\n",
                 static_cast<unsigned long long>(stats.written), n,
                 static_cast<unsigned long long>(stats.failed),
                 static_cast<unsigned long long>(stats.dropped), stats.last_error.c_str());
  }
  return static_cast<double>(n) / seconds;
}

double time_query_ms(int repetitions, const std::function<void()>& query) {
  query();  // warm caches and statement paths
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
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: backend_bench EXECUTIONS REPETITIONS NAME=BACKEND=CONNECTION[=N] ...\n");
    return 2;
  }
  const std::size_t n = std::strtoull(argv[1], nullptr, 10);
  const int repetitions = std::atoi(argv[2]);
  std::vector<Target> targets;
  for (int i = 3; i < argc; ++i) targets.push_back(parse_target(argv[i], n));

  const auto templates = kagura::bench::make_templates();
  const double t0 = kagura::telemetry::unix_now() - kagura::bench::kSpanSeconds;
  double baseline_rate = 0.0;
  for (const Target& target : targets) {
    std::printf("== %s (%s) ==\n", target.name.c_str(), target.backend.c_str());
    std::fflush(stdout);
    auto store = storage::create_storage_adapter(target.backend, target.connection);
    store->clear_all();
    const double rate = ingest(store, templates, target.executions, t0);
    if (baseline_rate == 0.0) baseline_rate = rate;
    std::printf("  ingest of %zu executions: %.0f executions/s, ratio %.3f of %s\n",
                target.executions, rate, rate / baseline_rate, targets[0].name.c_str());

    using storage::CostGrouping;
    using storage::ExecutionFilter;
    using storage::ExecutionQuery;
    const auto report = [&](const char* query, const std::function<void()>& run) {
      std::printf("  %-36s %10.3f ms\n", query, time_query_ms(repetitions, run));
      std::fflush(stdout);
    };
    std::printf("  queries on %zu executions (medians of %d)\n", target.executions, repetitions);
    report("latest 100 (list, no events)", [&] {
      ExecutionQuery q;
      q.include_events = false;
      store->get_executions(q);
    });
    report("latest 100 (with events)", [&] { store->get_executions(ExecutionQuery{}); });
    ExecutionQuery newest_query;
    newest_query.limit = 1;
    newest_query.include_events = false;
    const auto newest = store->get_executions(newest_query);
    // Ids made in the same millisecond share their first 12 digits: 20 are unique.
    const std::string prefix = newest.empty() ? std::string("0") : newest[0].id.substr(0, 20);
    report("get by id prefix (trace)", [&] { store->get_execution(prefix); });
    report("summary stats (all)", [&] { store->get_summary_stats({}); });
    report("summary stats (--since 24h)", [&] {
      ExecutionFilter f;
      f.since = kagura::telemetry::unix_now() - 86400;
      store->get_summary_stats(f);
    });
    report("summary stats (--agent researcher)", [&] {
      ExecutionFilter f;
      f.agent_name = "researcher";
      store->get_summary_stats(f);
    });
    report("cost by model (all)", [&] { store->get_cost_breakdown(CostGrouping::model, {}); });
    report("cost by agent (all)", [&] { store->get_cost_breakdown(CostGrouping::agent, {}); });
    report("cost by day (all)", [&] { store->get_cost_breakdown(CostGrouping::day, {}); });
    std::printf("  peak RSS of this process so far %.1f MiB\n", kagura::bench::peak_rss_mib());
  }
  return 0;
}
