// Test helper: records N executions through the global telemetry, prints "recorded" and then
// either waits to be signalled or returns from main, so tests can check that the pipeline's
// exit and signal paths write everything that was recorded.
//
//   record_and_wait <count> wait|exit

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kagura/telemetry/telemetry.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: record_and_wait <count> wait|exit\n");
    return 2;
  }
  const int count = std::atoi(argv[1]);
  const std::string mode = argv[2];
  auto& collector = kagura::telemetry::get_global_telemetry()->collector();
  for (int i = 0; i < count; ++i) {
    auto scope = collector.track_execution("helper", {{"i", i}});
    scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 10, .completion_tokens = 5});
  }
  std::printf("recorded\n");
  std::fflush(stdout);
  if (mode == "wait") {
    // Waits in one-second sleeps rather than in pause(): ThreadSanitizer's runtime may hold back
    // a signal that arrives while this thread is between two of its intercepted calls until the
    // thread makes the next one, and a thread parked in pause() never does (seen in the TSan
    // runs: the signal taken, the flush handler installed and never run). A program's handler
    // runs at once without the sanitizer.
    for (;;) sleep(1);
  }
  return 0;
}
