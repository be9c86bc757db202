#pragma once

// What the `kagura monitor` tests share: building executions with events, a scenario of agents
// calling agents seeded into any store, running the kagura binary, and reading its output.

#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kagura/storage/storage_adapter.hpp"
#include "kagura/telemetry/execution.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::cli::monitor_test {

using telemetry::Execution;
using telemetry::ExecutionStatus;

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// "2025-01-10 00:00:00", as kagura prints start times in UTC.
inline std::string format_utc(double unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

// The line of `text` containing `needle`, or "" (and a test failure).
inline std::string line_with(const std::string& text, const std::string& needle) {
  for (const auto& line : lines_of(text)) {
    if (line.find(needle) != std::string::npos) return line;
  }
  ADD_FAILURE() << "no line with '" << needle << "' in:\n" << text;
  return {};
}

// An execution built call by call; event times are offsets from its start.
class ExecutionBuilder {
 public:
  ExecutionBuilder(std::string agent, double started_at) {
    e_.id = telemetry::new_execution_id();
    e_.trace_id = e_.id;
    e_.agent_name = std::move(agent);
    e_.started_at = started_at;
    e_.status = ExecutionStatus::completed;
  }
  ExecutionBuilder& child_of(const Execution& parent) {
    e_.trace_id = parent.trace_id;
    e_.parent_id = parent.id;
    return *this;
  }
  ExecutionBuilder& id(std::string value) {
    if (e_.trace_id == e_.id) e_.trace_id = value;
    e_.id = std::move(value);
    return *this;
  }
  ExecutionBuilder& lasting(double seconds) {
    e_.duration = seconds;
    e_.ended_at = e_.started_at + seconds;
    return *this;
  }
  ExecutionBuilder& running() {
    e_.status = ExecutionStatus::running;
    e_.duration.reset();
    e_.ended_at.reset();
    return *this;
  }
  ExecutionBuilder& failed(std::string error, std::string type = "RuntimeError") {
    e_.status = ExecutionStatus::failed;
    e_.error = std::move(error);
    e_.error_type = std::move(type);
    return *this;
  }
  ExecutionBuilder& llm(double at, std::string model, std::int64_t prompt, std::int64_t completion,
                        telemetry::NanoUsd cost, double duration = 0.5, bool priced = true) {
    telemetry::LlmCall call;
    call.model = std::move(model);
    call.prompt_tokens = prompt;
    call.completion_tokens = completion;
    call.cost_nanos = priced ? cost : 0;
    call.priced = priced;
    call.duration = duration;
    call.finish_reason = "stop";
    e_.metrics.add(call);
    e_.events.push_back({e_.started_at + at, std::move(call)});
    return *this;
  }
  ExecutionBuilder& tool(double at, std::string name, double duration, std::string error = "") {
    telemetry::ToolCall call{std::move(name), {{"q", "kagura"}}, duration, error.empty(), error};
    ++e_.metrics.tool_calls;
    e_.events.push_back({e_.started_at + at, std::move(call)});
    return *this;
  }
  ExecutionBuilder& memory(double at, std::string operation, std::int64_t items) {
    ++e_.metrics.memory_operations;
    e_.events.push_back(
        {e_.started_at + at,
         telemetry::MemoryOperation{std::move(operation), "conversation", 0.001, items, nullptr}});
    return *this;
  }
  ExecutionBuilder& custom(double at, std::string type, nlohmann::json data) {
    e_.events.push_back(
        {e_.started_at + at, telemetry::CustomEvent{std::move(type), std::move(data)}});
    return *this;
  }
  Execution build() const { return e_; }
  operator Execution() const { return e_; }

 private:
  Execution e_;
};

// A team of agents, relative to `now`:
//   [0] planner, 3 days ago, 3 s: LLM (gpt-4o), a tool that works, one that fails, a memory
//       write and a custom event; children researcher [1] (whose child is summarizer [2]) and
//       coder [3] (failed)
//   [4] translator, 30 minutes ago: an unpriced model (local-llama) and gpt-4o-mini
//   [5] `odd, "agent"`, 5 minutes ago, still running, no events
//   [6] translator, 10 days ago
// Costs add up to $0.0109 (10,900,000 nano-dollars); $0.01086 within the last 7 days.
struct TeamScenario {
  std::vector<Execution> executions;
  const Execution& operator[](std::size_t i) const { return executions.at(i); }

  static constexpr telemetry::NanoUsd kTotalNanos = 10'900'000;
  static constexpr telemetry::NanoUsd kLastWeekNanos = 10'860'000;

  explicit TeamScenario(double now) {
    const double t0 = now - 3 * 86400.0 - 100;
    const Execution planner = ExecutionBuilder("planner", t0)
                                  .lasting(3.0)
                                  .llm(0.0, "gpt-4o", 1000, 500, 7'500'000, 1.5)
                                  .tool(1.5, "web_search", 0.2)
                                  .tool(1.7, "fetch_page", 0.1, "HTTP 404")
                                  .memory(1.9, "add", 2)
                                  .custom(2.0, "checkpoint", {{"step", 2}});
    const Execution researcher = ExecutionBuilder("researcher", t0 + 0.5)
                                     .child_of(planner)
                                     .lasting(1.0)
                                     .llm(0.0, "claude-sonnet-4-5", 200, 100, 3'000'000);
    const Execution summarizer = ExecutionBuilder("summarizer", t0 + 0.7)
                                     .child_of(researcher)
                                     .lasting(0.3)
                                     .llm(0.0, "gpt-4o-mini", 50, 20, 100'000);
    const Execution coder = ExecutionBuilder("coder", t0 + 2.2)
                                .child_of(planner)
                                .lasting(0.5)
                                .failed("SyntaxError in generated code", "SyntaxError")
                                .llm(0.0, "gpt-4o-mini", 80, 40, 200'000);
    const Execution translator = ExecutionBuilder("translator", now - 1800)
                                     .lasting(2.0)
                                     .llm(0.0, "local-llama", 300, 100, 0, 1.0, false)
                                     .llm(1.0, "gpt-4o-mini", 100, 50, 60'000);
    const Execution odd = ExecutionBuilder("odd, \"agent\"", now - 300).running();
    const Execution old = ExecutionBuilder("translator", now - 10 * 86400.0)
                              .lasting(0.8)
                              .llm(0.0, "gpt-4o-mini", 10, 10, 40'000);
    executions = {planner, researcher, summarizer, coder, translator, odd, old};
  }

  void save_to(storage::StorageAdapter& store) const {
    std::vector<const Execution*> batch;
    for (const auto& e : executions) batch.push_back(&e);
    store.save_executions(batch);
  }
};

// Runs kagura with a HOME of its own, so a misdirected read never touches a real store.
inline kagura::test::ProcessResult run_kagura(std::vector<std::string> args,
                                              const std::filesystem::path& home,
                                              kagura::test::EnvChanges env = {}) {
  args.insert(args.begin(), kagura::test::kagura_bin());
  env.emplace("HOME", home.string());
  return kagura::test::run_process(args, env);
}

inline nlohmann::json parse_json(const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "): " << text.substr(0, 2000);
    return {};
  }
}

// RFC 4180: records end in CRLF; a quoted field may hold commas, CRLF and doubled quotes.
inline std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  bool field_started = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      field_started = true;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
      field_started = false;
      ++i;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (field_started || !field.empty()) {
    ADD_FAILURE() << "CSV does not end in CRLF";
    record.push_back(field);
    records.push_back(record);
  }
  return records;
}

}  // namespace kagura::cli::monitor_test
