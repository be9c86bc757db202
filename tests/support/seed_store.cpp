// Seeds a SQLite store for the web dashboard's browser test (tests/web/dashboard.spec.mjs):
//
//   seed_store DB             writes the fixed set below and prints, as JSON, what it wrote
//   seed_store DB --add NAME  adds one completed execution of agent NAME, started now
//
// The fixed set, all within the last hour: five runs of researcher (one failed), three of
// coder, one of an agent named <script>alert(1)</script> whose error and tool name are markup
// too, and a planner whose trace has a researcher and a coder as children and a summarizer
// under the researcher.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"

namespace {

using kagura::telemetry::Execution;
using kagura::telemetry::ExecutionStatus;

struct Seeded {
  std::vector<Execution> executions;
};

Execution make(const std::string& agent, double started_at, double duration, ExecutionStatus status,
               const std::string& model, kagura::telemetry::NanoUsd cost_nanos, std::int64_t prompt,
               std::int64_t completion) {
  Execution e;
  e.id = kagura::telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = started_at;
  e.duration = duration;
  e.ended_at = started_at + duration;
  e.status = status;
  e.kwargs = {{"topic", "solar power"}};
  kagura::telemetry::LlmCall call;
  call.model = model;
  call.provider = model.substr(0, model.find('/'));
  call.prompt_tokens = prompt;
  call.completion_tokens = completion;
  call.duration = duration * 0.6;
  call.finish_reason = "stop";
  call.cost_nanos = cost_nanos;
  e.metrics.add(call);
  e.events.push_back({started_at + 0.01, call});
  e.events.push_back(
      {started_at + duration * 0.7,
       kagura::telemetry::ToolCall{"web_search", {{"query", "kagura"}}, duration * 0.2, true, ""}});
  e.metrics.tool_calls = 1;
  e.events.push_back(
      {started_at + duration * 0.95,
       kagura::telemetry::MemoryOperation{"add", "conversation", 0.0002, 2, nullptr}});
  e.metrics.memory_operations = 1;
  if (status == ExecutionStatus::failed) {
    e.error = "upstream timeout";
    e.error_type = "kagura::llm::LlmError";
  }
  return e;
}

void make_child(Execution& child, const Execution& parent) {
  child.trace_id = parent.trace_id;
  child.parent_id = parent.id;
}

std::vector<Execution> fixed_set(double now) {
  constexpr const char* kMini = "openai/gpt-4o-mini";
  constexpr const char* kSonnet = "anthropic/claude-sonnet-4-5";
  std::vector<Execution> out;
  const double base = now - 3000;  // 50 minutes ago
  const double durations[] = {1.2, 0.8, 2.5, 1.0, 3.1};
  for (int i = 0; i < 5; ++i) {
    out.push_back(make("researcher", base + 60.0 * i, durations[i],
                       i == 4 ? ExecutionStatus::failed : ExecutionStatus::completed, kMini,
                       150'000 + 10'000 * i, 800 + 10 * i, 200));
  }
  for (int i = 0; i < 3; ++i) {
    out.push_back(make("coder", base + 400.0 + 60.0 * i, 4.0 + i, ExecutionStatus::completed,
                       kSonnet, 9'000'000 + 500'000 * i, 2000, 600 + 100 * i));
  }
  // Hostile text from the store: it must show as text and never run.
  Execution hostile = make("<script>alert(1)</script>", base + 700.0, 0.5, ExecutionStatus::failed,
                           kMini, 50'000, 100, 20);
  hostile.error = "<img src=x onerror=alert(2)>";
  hostile.error_type = "<b>bold</b>";
  hostile.events.push_back(
      {hostile.started_at + 0.3, kagura::telemetry::ToolCall{"<img src=x onerror=alert(3)>",
                                                             {{"q", "<script>alert(4)</script>"}},
                                                             0.1,
                                                             false,
                                                             "<svg onload=alert(5)>"}});
  hostile.metrics.tool_calls += 1;
  hostile.tags["note"] = "\"><script>alert(6)</script>";
  out.push_back(std::move(hostile));

  // planner -> researcher -> summarizer, and planner -> coder.
  Execution planner = make("planner", base + 900.0, 12.0, ExecutionStatus::completed, kSonnet,
                           20'000'000, 3000, 900);
  Execution research =
      make("researcher", base + 901.0, 5.0, ExecutionStatus::completed, kMini, 300'000, 1200, 300);
  Execution summary =
      make("summarizer", base + 903.0, 1.5, ExecutionStatus::completed, kMini, 90'000, 600, 150);
  Execution code =
      make("coder", base + 907.0, 4.0, ExecutionStatus::completed, kSonnet, 8'000'000, 1800, 500);
  make_child(research, planner);
  make_child(summary, research);
  make_child(code, planner);
  out.push_back(std::move(planner));
  out.push_back(std::move(research));
  out.push_back(std::move(summary));
  out.push_back(std::move(code));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::strcmp(argv[2], "--add") == 0)) {
    std::fprintf(stderr, "usage: seed_store DB [--add AGENT]\n");
    return 2;
  }
  try {
    kagura::storage::SqliteStore store(argv[1]);
    const double now = kagura::telemetry::unix_now();
    if (argc == 4) {
      const Execution e = make(argv[3], now, 0.7, ExecutionStatus::completed, "openai/gpt-4o-mini",
                               120'000, 500, 100);
      store.save_execution(e);
      std::printf("%s\n", nlohmann::json{{"id", e.id}}.dump().c_str());
      return 0;
    }
    const auto executions = fixed_set(now);
    std::vector<const Execution*> batch;
    for (const auto& e : executions) batch.push_back(&e);
    store.save_executions(batch);

    // What was written, computed here rather than read back, so that the test checks the page
    // against the seed and not the store against itself.
    kagura::telemetry::NanoUsd cost = 0;
    std::int64_t completed = 0;
    std::int64_t failed = 0;
    nlohmann::json ids = nlohmann::json::object();
    for (const auto& e : executions) {
      cost += e.metrics.cost_nanos;
      (e.status == ExecutionStatus::failed ? failed : completed) += 1;
      if (e.parent_id.empty() && e.agent_name == "planner") ids["planner"] = e.id;
      if (e.agent_name == "summarizer") ids["summarizer"] = e.id;
    }
    const nlohmann::json out = {{"executions", executions.size()},
                                {"completed", completed},
                                {"failed", failed},
                                {"cost_nanos", cost},
                                {"researcher_runs", 6},
                                {"ids", ids}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seed_store: %s\n", e.what());
    return 1;
  }
}
