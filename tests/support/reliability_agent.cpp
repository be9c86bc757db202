// Test helper for the reliability suite: agents on several threads recording through the global
// telemetry (configured from the environment, like any program), each execution's content
// derived from its key (process, thread, sequence; see reliability_keys.hpp) so that a test can
// tell that every stored execution holds its own events, metrics, tags and arguments.
//
//   reliability_agent --process P --threads T (--count N | --forever)
//                     [--ack] [--pace-us U] [--wait-spool-ms MS]
//
// --count N       executions per thread; --forever: until killed
// --ack           print "ack <id>" (flushed) once each agent call has returned, preceded by
//                 "dropped <n>" when the pipeline's count of executions it refused has grown
// --pace-us U     pause U microseconds after each execution
// --wait-spool-ms before exiting, wait up to MS for the spool to be delivered
//
// Before exiting it flushes and prints one line "stats <json>" with the pipeline's counters.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kagura/telemetry/telemetry.hpp"
#include "support/reliability_keys.hpp"

namespace {

std::mutex g_stdout;

void print_line(const std::string& line) {
  std::lock_guard lock(g_stdout);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr,
               "reliability_agent: %s\nusage: reliability_agent --process P --threads T "
               "(--count N | --forever) [--ack] [--pace-us U] [--wait-spool-ms MS]\n",
               problem);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int process = -1;
  int threads = 0;
  long count = -1;
  bool forever = false;
  bool ack = false;
  long pace_us = 0;
  long wait_spool_ms = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) usage("a value is missing");
      return std::atol(argv[++i]);
    };
    if (arg == "--process") {
      process = static_cast<int>(value());
    } else if (arg == "--threads") {
      threads = static_cast<int>(value());
    } else if (arg == "--count") {
      count = value();
    } else if (arg == "--forever") {
      forever = true;
    } else if (arg == "--ack") {
      ack = true;
    } else if (arg == "--pace-us") {
      pace_us = value();
    } else if (arg == "--wait-spool-ms") {
      wait_spool_ms = value();
    } else {
      usage("unknown argument");
    }
  }
  if (process < 0 || threads <= 0 || (count < 0 && !forever)) usage("missing arguments");

  const auto telemetry = kagura::telemetry::get_global_telemetry();
  auto& collector = telemetry->collector();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (long s = 0; forever || s < count; ++s) {
        const kagura::test::ReliabilityKey key{process, t, s};
        std::string id;
        {
          auto scope = collector.track_execution(key.agent_name(), key.kwargs());
          kagura::test::record_key_content(scope, key);
          id = scope.id();
        }  // the agent call returns here: the execution is handed to the pipeline
        if (ack) {
          // Executions the queue refused are counted, not lost in silence: the count goes out
          // before the acknowledgement, so it covers every acknowledged execution.
          thread_local std::uint64_t reported_dropped = 0;
          const std::uint64_t dropped = telemetry->stats().dropped;
          if (dropped > reported_dropped) {
            print_line("dropped " + std::to_string(dropped));
            reported_dropped = dropped;
          }
          print_line("ack " + id);
        }
        if (pace_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pace_us));
      }
    });
  }
  for (auto& worker : workers) worker.join();

  telemetry->flush(std::chrono::seconds(120));
  const auto wait_start = std::chrono::steady_clock::now();
  const auto deadline = wait_start + std::chrono::milliseconds(wait_spool_ms);
  while (telemetry->stats().spool_pending > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto spool_wait = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - wait_start);
  const auto stats = telemetry->stats();
  const nlohmann::json figures = {{"queued", stats.queued},
                                  {"written", stats.written},
                                  {"duplicates", stats.duplicates},
                                  {"dropped", stats.dropped},
                                  {"failed", stats.failed},
                                  {"spooled", stats.spooled},
                                  {"unspooled", stats.unspooled},
                                  {"spool_pending", stats.spool_pending},
                                  {"batches", stats.batches},
                                  {"last_error", stats.last_error},
                                  {"spool_wait_ms", spool_wait.count()}};
  print_line("stats " + figures.dump());
  return 0;
}
