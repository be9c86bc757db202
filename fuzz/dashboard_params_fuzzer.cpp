// The query parameters of the web dashboard's JSON API (`kagura dashboard --web`), which any
// client of the port can send: "<endpoint>?<query string>", e.g.
// "timeseries?bucket=hour&since=24h", decoded as the HTTP server decodes it, and served from a
// small in-memory store. Invariants: an answer, or an ApiError with status 400 or 404 and a
// message; never another exception, and every answer can be sent as JSON.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cli/dashboard/web_api.hpp"
#include "fuzz_support.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"

namespace {

using kagura::cli::dashboard::ApiError;
using kagura::cli::dashboard::ApiParams;
using kagura::cli::dashboard::WebApi;

constexpr double kNow = 1764115200;  // 2025-11-26, the fixed clock of the API

std::shared_ptr<kagura::storage::SqliteStore> seeded_store() {
  auto store = std::make_shared<kagura::storage::SqliteStore>(":memory:");
  const char* agents[] = {"researcher", "coder", "researcher", "planner"};
  std::string parent;
  for (int i = 0; i < 4; ++i) {
    kagura::telemetry::Execution e;
    e.id = kagura::telemetry::new_execution_id();
    e.trace_id = parent.empty() ? e.id : parent;
    e.parent_id = i == 3 ? parent : "";
    e.agent_name = agents[i];
    e.started_at = kNow - 3600.0 * (i + 1) * 7;
    e.duration = 1.5;
    e.ended_at = e.started_at + 1.5;
    e.status = i == 1 ? kagura::telemetry::ExecutionStatus::failed
                      : kagura::telemetry::ExecutionStatus::completed;
    kagura::telemetry::LlmCall call;
    call.model = "openai/gpt-4o-mini";
    call.prompt_tokens = 100;
    call.completion_tokens = 20;
    call.cost_nanos = 27000;
    e.metrics.add(call);
    e.events.push_back({e.started_at + 0.1, call});
    store->save_execution(e);
    if (i == 0) parent = e.id;
  }
  return store;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded, as cpp-httplib decodes a query string.
std::string decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 &&
               hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

ApiParams parse_query(std::string_view query) {
  ApiParams params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    params.emplace(decode(pair.substr(0, equals)),
                   equals == std::string_view::npos ? "" : decode(pair.substr(equals + 1)));
  }
  return params;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  static const WebApi api(seeded_store(), [] { return kNow; });
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  const auto question = input.find('?');
  const std::string_view endpoint = input.substr(0, question);
  const ApiParams params =
      parse_query(question == std::string_view::npos ? "" : input.substr(question + 1));
  try {
    nlohmann::json answer;
    if (endpoint == "summary") {
      answer = api.summary(params);
    } else if (endpoint == "timeseries") {
      answer = api.timeseries(params);
    } else if (endpoint == "cost") {
      answer = api.cost(params);
    } else if (endpoint == "agents") {
      answer = api.agents(params);
    } else if (endpoint == "executions") {
      answer = api.executions(params);
    } else if (endpoint.starts_with("executions/")) {
      answer = api.execution(decode(endpoint.substr(11)));
    } else {
      return -1;  // not an endpoint: keep it out of the corpus
    }
    KAGURA_FUZZ_CHECK(answer.is_object());
    KAGURA_FUZZ_CHECK(!kagura::cli::dashboard::dump_json(answer).empty());
  } catch (const ApiError& error) {
    KAGURA_FUZZ_CHECK(error.status() == 400 || error.status() == 404);
    KAGURA_FUZZ_CHECK(*error.what() != '\0');
  }
  return 0;
}
