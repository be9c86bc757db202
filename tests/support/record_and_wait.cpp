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
    for (;;) pause();
  }
  return 0;
}
