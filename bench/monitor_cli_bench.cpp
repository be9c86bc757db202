// `kagura monitor stats` and `kagura monitor list` as users run them: whole processes (start,
// open the store, query, print, exit) on a large SQLite store, against the start-up of the same
// binary doing nothing (`kagura --version`) as the baseline. Target: under 150 ms wall each on
// 1,000,000 executions.
//
//   monitor_cli_bench [executions=1000000] [runs=15] [database=/tmp/kagura_monitor_bench/<n>.db]
//
// The store is built once from store_bench's executions (bench_data.hpp: 30 days up to now in
// start order, five agents, three models, an LLM call, a tool call and a memory operation each,
// one in twenty failed), one in ten with a child execution, and reused by later runs with the
// same path and size. The kagura binary is the one built with this benchmark, or $KAGURA_BIN.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_data.hpp"
#include "bench_util.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"

namespace {

using kagura::telemetry::Execution;
namespace fs = std::filesystem;

constexpr std::size_t kBatch = 4096;

void build_store(const fs::path& path, std::size_t n) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  const auto templates = kagura::bench::make_templates();
  kagura::storage::SqliteStore store(path.string());
  const double t0 = kagura::telemetry::unix_now() - kagura::bench::kSpanSeconds;
  std::vector<Execution> batch;
  std::vector<const Execution*> pointers;
  const auto write = [&] {
    pointers.clear();
    for (const auto& e : batch) pointers.push_back(&e);
    store.save_executions(pointers);
    batch.clear();
  };
  for (std::size_t i = 0; i < n; ++i) {
    batch.push_back(templates[i % templates.size()]);
    kagura::bench::stamp(batch.back(), i, n, t0);
    // One in ten runs a child agent (an execution of its own in the same trace) within itself.
    if (i % 10 == 3 && i + 1 < n) {
      ++i;
      const Execution& parent = batch.back();
      Execution child = templates[i % templates.size()];
      kagura::bench::stamp(child, i, n, t0);
      child.started_at = parent.started_at + 0.01;
      child.ended_at = child.started_at + *child.duration;
      for (auto& event : child.events) event.timestamp = child.started_at;
      child.trace_id = parent.id;
      child.parent_id = parent.id;
      batch.push_back(std::move(child));
    }
    if (batch.size() >= kBatch) write();
  }
  if (!batch.empty()) write();
}

struct Timing {
  double median_ms;
  double min_ms;
  int failures;  // runs whose exit code was not the expected one
};

// Runs the command `runs` times (after one warm-up run) with its output to /dev/null.
Timing time_process(const std::vector<std::string>& argv, int runs, const fs::path& home,
                    int expected_exit = 0) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string home_env = "HOME=" + home.string();
  std::vector<double> times;
  int failures = 0;
  for (int r = -1; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::putenv(const_cast<char*>(home_env.c_str()));
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    const double ms = kagura::bench::seconds_since(start) * 1e3;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != expected_exit) ++failures;
    if (r >= 0) times.push_back(ms);
  }
  return {kagura::bench::median(times), *std::min_element(times.begin(), times.end()), failures};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 15;
  const fs::path db =
      argc > 3 ? fs::path(argv[3])
               : fs::path("/tmp/kagura_monitor_bench") / ("monitor_" + std::to_string(n) + ".db");
  const char* bin_env = std::getenv("KAGURA_BIN");
  const std::string kagura = bin_env != nullptr && *bin_env != '\0' ? bin_env : KAGURA_CLI_PATH;
  if (db.has_parent_path()) fs::create_directories(db.parent_path());
  const fs::path home = db.parent_path() / "home";
  fs::create_directories(home);

  bool reuse = false;
  if (fs::exists(db)) {
    kagura::storage::SqliteStore store(db.string());
    reuse = store.get_summary_stats({}).total_executions == static_cast<std::int64_t>(n);
  }
  if (reuse) {
    std::printf("reusing %s (%zu executions)\n", db.c_str(), n);
  } else {
    std::printf("building %s with %zu executions...\n", db.c_str(), n);
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    build_store(db, n);
    std::printf("  built in %.1f s\n", kagura::bench::seconds_since(start));
  }
  std::printf("store size %.1f MiB; %s; %d runs each after one warm-up, output to /dev/null\n",
              static_cast<double>(fs::file_size(db)) / (1024.0 * 1024.0), kagura.c_str(), runs);

  const Timing baseline = time_process({kagura, "--version"}, runs, home);
  std::printf("%-58s %8.1f ms median %8.1f ms min\n", "baseline: kagura --version",
              baseline.median_ms, baseline.min_ms);
  struct Case {
    std::vector<std::string> args;
    bool target;  // the 150 ms target applies
    int expected_exit = 0;
  };
  const std::vector<Case> cases = {
      {{"monitor", "stats"}, true},
      {{"monitor", "list"}, true},
      {{"monitor", "stats", "--since", "24h"}, false},
      {{"monitor", "stats", "--agent", "researcher"}, false},
      {{"monitor", "stats", "--status", "failed"}, false},
      {{"monitor", "list", "--agent", "researcher"}, false},
      {{"monitor", "list", "--status", "failed"}, false},
      // A status no row has (exit 1, "no executions"): the worst case of a status filter.
      {{"monitor", "list", "--status", "running"}, false, 1},
      {{"monitor", "list", "--since", "7d", "--until", "6d"}, false},
      {{"monitor", "list", "--agent", "summarizer", "--status", "failed", "-n", "50"}, false},
      {{"monitor", "cost", "--by", "model"}, false},
      {{"monitor", "cost", "--by", "day", "--since", "7d"}, false},
      {{"monitor", "compare", "researcher", "coder"}, false},
  };
  int over_target = 0;
  for (const auto& c : cases) {
    std::vector<std::string> argv = {kagura};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    argv.insert(argv.end(), {"--db", db.string()});
    const Timing t = time_process(argv, runs, home, c.expected_exit);
    std::string name = "kagura";
    for (const auto& a : c.args) name += " " + a;
    std::printf("%-58s %8.1f ms median %8.1f ms min  %5.1fx baseline%s%s\n", name.c_str(),
                t.median_ms, t.min_ms, t.median_ms / baseline.median_ms,
                c.target ? (t.median_ms < 150.0 ? "  (target < 150 ms: met)"
                                                : "  (target < 150 ms: MISSED)")
                         : "",
                t.failures > 0 ? "  FAILED RUNS" : "");
    if (c.target && t.median_ms >= 150.0) ++over_target;
    if (t.failures > 0) ++over_target;
  }
  return over_target == 0 ? 0 : 1;
}
