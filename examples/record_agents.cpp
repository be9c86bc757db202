// Records a few simulated agents into the default telemetry store (~/.kagura/telemetry.db, or
// what KAGURA_TELEMETRY_CONNECTION names) through the global telemetry, the way the agent
// runtime does: no store is set up by hand, the first use initialises itself.
//
// Until the agent runtime exists this drives the collector directly, with made-up token counts
// and short sleeps standing in for real LLM responses.

#include <chrono>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kagura/telemetry/telemetry.hpp"

namespace {

using kagura::telemetry::Collector;

// Stands in for the network round trip of an LLM or tool call; returns its length in seconds.
double pretend_to_wait(std::mt19937& random, int min_ms, int max_ms) {
  const auto ms = std::uniform_int_distribution<int>(min_ms, max_ms)(random);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms / 1000.0;
}
using kagura::telemetry::ExecutionScope;

std::string translate(Collector& collector, const std::string& text, std::mt19937& random) {
  return collector.track("translator", {{"text", text}, {"target", "ja"}},
                         [&](ExecutionScope& scope) {
                           scope.record_memory_operation(
                               {.operation = "read", .memory_type = "conversation", .items = 2});
                           std::uniform_int_distribution<int> tokens(40, 400);
                           scope.record_llm_call({.model = "openai/gpt-4o-mini",
                                                  .provider = "openai",
                                                  .prompt_tokens = tokens(random),
                                                  .completion_tokens = tokens(random) / 2,
                                                  .duration = pretend_to_wait(random, 5, 25),
                                                  .finish_reason = "stop"});
                           scope.record_memory_operation(
                               {.operation = "add", .memory_type = "conversation", .items = 1});
                           return std::string("翻訳: ") + text;
                         });
}

std::string research(Collector& collector, const std::string& topic, std::mt19937& random) {
  return collector.track("researcher", {{"topic", topic}}, [&](ExecutionScope& scope) {
    std::uniform_int_distribution<int> tokens(200, 2000);
    scope.record_llm_call({.model = "anthropic/claude-sonnet-4-5",
                           .provider = "anthropic",
                           .prompt_tokens = tokens(random),
                           .completion_tokens = 60,
                           .cached_tokens = 100,
                           .duration = pretend_to_wait(random, 10, 40),
                           .finish_reason = "tool_use"});
    scope.record_tool_call({.tool_name = "web_search",
                            .kwargs = {{"query", topic}},
                            .duration = pretend_to_wait(random, 2, 10)});
    // A nested agent: recorded as a child execution in the same trace.
    const auto summary = translate(collector, "summary of " + topic, random);
    scope.record_llm_call({.model = "anthropic/claude-sonnet-4-5",
                           .provider = "anthropic",
                           .prompt_tokens = tokens(random),
                           .completion_tokens = tokens(random) / 4,
                           .duration = pretend_to_wait(random, 10, 40),
                           .finish_reason = "end_turn"});
    scope.add_tag("team", "research");
    if (topic == "unreachable") throw std::runtime_error("search backend timed out");
    return summary;
  });
}

}  // namespace

int main() {
  auto telemetry = kagura::telemetry::get_global_telemetry();
  auto& collector = telemetry->collector();
  std::vector<std::thread> workers;
  for (int worker = 0; worker < 4; ++worker) {
    workers.emplace_back([&collector, worker] {
      std::mt19937 random(static_cast<unsigned>(worker));
      for (int i = 0; i < 25; ++i) {
        translate(collector, "hello " + std::to_string(i), random);
        try {
          research(collector, i % 10 == 9 ? "unreachable" : "topic " + std::to_string(i), random);
        } catch (const std::exception&) {
          // The failure is recorded; the example carries on.
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  telemetry->flush();
  const auto stats = telemetry->stats();
  std::printf("recorded %llu executions (%llu written, %llu dropped, %llu failed)\n",
              static_cast<unsigned long long>(stats.queued),
              static_cast<unsigned long long>(stats.written),
              static_cast<unsigned long long>(stats.dropped),
              static_cast<unsigned long long>(stats.failed));
  return stats.failed == 0 && stats.dropped == 0 ? 0 : 1;
}
