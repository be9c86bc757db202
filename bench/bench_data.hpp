#pragma once

// The executions the storage benchmarks write: 1,024 templates (five agents, three models, an
// LLM call, a tool call and a memory operation each, one in twenty failed) stamped with fresh
// ids and start times spread over 30 days in start order, as they arrive from running agents.

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "kagura/pricing/price_table.hpp"
#include "kagura/telemetry/execution.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::bench {

using kagura::telemetry::Execution;

inline constexpr double kSpanSeconds = 30 * 86400.0;
inline constexpr std::size_t kTemplates = 1024;

inline std::vector<Execution> make_templates() {
  const auto prices = kagura::pricing::PriceTable::builtin();
  const char* agents[] = {"translator", "researcher", "summarizer", "planner", "coder"};
  const char* models[] = {"gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"};
  std::mt19937 random(42);
  std::uniform_int_distribution<int> tokens(50, 2000);
  std::lognormal_distribution<double> seconds(0.0, 0.6);
  std::vector<Execution> templates;
  for (std::size_t i = 0; i < kTemplates; ++i) {
    Execution e;
    e.agent_name = agents[i % 5];
    e.kwargs = {{"query", "question number " + std::to_string(i)}, {"lang", "en"}};
    kagura::telemetry::LlmCall call;
    call.model = models[(i / 5) % 3];
    call.provider = "openai";
    call.prompt_tokens = tokens(random);
    call.completion_tokens = tokens(random) / 4;
    call.duration = seconds(random);
    call.finish_reason = "stop";
    const auto cost = prices.cost(call.model, {.prompt_tokens = call.prompt_tokens,
                                               .completion_tokens = call.completion_tokens});
    call.cost_nanos = cost.cost_nanos;
    e.metrics.add(call);
    e.events.push_back({0.0, call});
    e.events.push_back(
        {0.0, kagura::telemetry::ToolCall{"web_search", {{"q", "kagura"}}, 0.05, true, ""}});
    e.events.push_back(
        {0.0, kagura::telemetry::MemoryOperation{"add", "conversation", 0.0001, 1, nullptr}});
    e.metrics.tool_calls = 1;
    e.metrics.memory_operations = 1;
    e.duration = call.duration + 0.06;
    if (i % 20 == 7) {
      e.status = kagura::telemetry::ExecutionStatus::failed;
      e.error = "upstream timeout";
    } else {
      e.status = kagura::telemetry::ExecutionStatus::completed;
    }
    templates.push_back(std::move(e));
  }
  return templates;
}

inline void stamp(Execution& e, std::size_t i, std::size_t n, double t0) {
  e.id = kagura::telemetry::new_execution_id();
  e.trace_id = e.id;
  e.started_at = t0 + kSpanSeconds * static_cast<double>(i) / static_cast<double>(n);
  e.ended_at = e.started_at + *e.duration;
  for (auto& event : e.events) event.timestamp = e.started_at;
}

}  // namespace kagura::bench
