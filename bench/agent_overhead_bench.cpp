// Telemetry's share of a full agent call: template rendering, an HTTP round trip to a local
// OpenAI-compatible server (in this process, on 127.0.0.1), one tool round (so two LLM calls),
// with telemetry on (recorded into a file SQLite store through the asynchronous writer) versus
// off (enable_telemetry = false), alternating call by call in the same run. Then the same agent
// with an in-process client instead of HTTP, where the agent's own work and telemetry's share
// of it stand out from the network's noise.
//
//   agent_overhead_bench [repetitions=21] [calls_per_repetition=200] [db_path]
//
// KAGURA_BENCH_CONTROL=1 turns telemetry off on both sides: the figures then show the noise.
//
// KAGURA_BENCH_LOWER_BOUND=1 measures instead, over HTTP, the least that recording could cost
// the agent's thread: both sides run with telemetry off, and one side's LLM client appends the
// facts of each call (time, model, usage, finish reason, the tool's arguments) to a buffer of
// its thread and hands 600 bytes to another thread at the end of the agent call. What the
// collector costs beyond that is the price of its data layout, not of the HTTP setting.
//
// KAGURA_BENCH_EVICT_KB=N makes the in-process client write over an N KiB buffer in each call,
// as the network stack and the HTTP client would, to see what cold caches add to telemetry's
// share there.

#include <httplib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../examples/toy_model.hpp"
#include "bench_util.hpp"
#include "kagura/agent/agent.hpp"
#include "kagura/llm/providers.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"

namespace {

using kagura::agent::Agent;
using kagura::agent::AgentOptions;

// The agent's call with telemetry on and off, summed over a block of calls.
struct Block {
  double on_wall = 0, off_wall = 0;  // seconds per call
  double on_cpu = 0, off_cpu = 0;    // the calling thread's CPU: the network wait left out
};

Block run_block(const Agent& on, const Agent& off, int calls) {
  Block block;
  for (int i = 0; i < calls; ++i) {
    const nlohmann::json arguments = {{"topic", "topic number " + std::to_string(i)}};
    // Call by call, alternating which goes first, so that drift on a shared machine and what a
    // call leaves behind for the next weigh on both sides alike.
    for (int k = 0; k < 2; ++k) {
      const bool with = (k == 0) == (i % 2 == 0);
      const double cpu_start = kagura::bench::this_thread_cpu_seconds();
      const auto start = std::chrono::steady_clock::now();
      (with ? on : off)(arguments);
      const double wall = kagura::bench::seconds_since(start);
      const double cpu = kagura::bench::this_thread_cpu_seconds() - cpu_start;
      (with ? block.on_wall : block.off_wall) += wall / calls;
      (with ? block.on_cpu : block.off_cpu) += cpu / calls;
    }
  }
  return block;
}

// KAGURA_BENCH_EVICT_KB: one byte of every cache line of a buffer that size written over.
void evict_caches() {
  static const std::size_t bytes = [] {
    const char* kib = std::getenv("KAGURA_BENCH_EVICT_KB");
    return kib != nullptr ? std::strtoull(kib, nullptr, 10) * 1024 : 0;
  }();
  if (bytes == 0) return;
  static std::vector<char> buffer(bytes);
  for (std::size_t i = 0; i < buffer.size(); i += 64) buffer[i] = static_cast<char>(buffer[i] + 1);
}

// KAGURA_BENCH_LOWER_BOUND: the facts of each call appended to a buffer of the calling thread,
// and handed to another thread's list at the end of the agent call (its last LLM call, the one
// without tool calls), as the least a recorder must do on the agent's thread.
class FactsOnlyClient final : public kagura::llm::LlmClient {
 public:
  explicit FactsOnlyClient(std::shared_ptr<kagura::llm::LlmClient> inner)
      : inner_(std::move(inner)) {}
  std::string provider() const override { return inner_->provider(); }
  kagura::llm::ChatResponse complete(const kagura::llm::ChatRequest& request) override {
    auto response = inner_->complete(request);
    thread_local Facts facts;
    const auto now = std::chrono::system_clock::now();
    facts.append(&now, sizeof now);
    facts.append(response.model.data(), response.model.size());
    facts.append(&response.usage, sizeof response.usage);
    facts.append(response.finish_reason.data(), response.finish_reason.size());
    facts.append(&response.duration, sizeof response.duration);
    for (const auto& call : response.tool_calls) {
      facts.append(call.arguments.data(), call.arguments.size());
    }
    if (response.tool_calls.empty()) hand_off(facts);
    return response;
  }

 private:
  struct Facts {
    std::array<char, 4096> bytes{};
    std::size_t size = 0;
    void append(const void* data, std::size_t n) {
      n = std::min(n, bytes.size() - size);
      std::memcpy(bytes.data() + size, data, n);
      size += n;
    }
  };

  void hand_off(Facts& facts) {
    std::vector<char> out;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        out = std::move(free_.back());
        free_.pop_back();
      }
    }
    out.assign(facts.bytes.data(), facts.bytes.data() + std::max<std::size_t>(facts.size, 600));
    facts.size = 0;
    std::lock_guard lock(mutex_);
    handed_.push_back(std::move(out));
    if (handed_.size() >= 64) {  // as a consumer thread would, give the buffers back
      for (auto& buffer : handed_) free_.push_back(std::move(buffer));
      handed_.clear();
    }
  }

  std::shared_ptr<kagura::llm::LlmClient> inner_;
  std::mutex mutex_;
  std::vector<std::vector<char>> handed_, free_;
};

// The toy server's two answers, without HTTP.
class InstantClient final : public kagura::llm::LlmClient {
 public:
  std::string provider() const override { return "openai"; }
  kagura::llm::ChatResponse complete(const kagura::llm::ChatRequest& request) override {
    evict_caches();
    nlohmann::json body = {{"model", request.model}, {"messages", nlohmann::json::array()}};
    for (const auto& m : request.messages) {
      body["messages"].push_back({{"role", m.role}, {"content", m.content}});
    }
    if (!request.tools.empty()) {
      body["tools"] = {
          {{"type", "function"},
           {"function",
            {{"name", request.tools[0].name}, {"parameters", request.tools[0].parameters}}}}};
    }
    const auto reply = kagura::examples::reply(body);
    const auto& choice = reply.at("choices").at(0);
    const auto& message = choice.at("message");
    kagura::llm::ChatResponse response;
    response.model = reply.at("model");
    response.provider = "openai";
    response.finish_reason = choice.at("finish_reason");
    if (message.at("content").is_string()) response.content = message.at("content");
    for (const auto& call : message.value("tool_calls", nlohmann::json::array())) {
      response.tool_calls.push_back(
          {call.at("id"), call.at("function").at("name"), call.at("function").at("arguments")});
    }
    response.usage.prompt_tokens = reply.at("usage").at("prompt_tokens");
    response.usage.completion_tokens = reply.at("usage").at("completion_tokens");
    return response;
  }
};

struct Comparison {
  double off_us, on_us, off_cpu_us, on_cpu_us;
  double overhead_us;      // median over the blocks of (on - off)
  double pipeline_cpu_us;  // the pipeline threads' CPU per call recorded
};

double pipeline_cpu_seconds() {
  double total = 0;
  for (const auto& [name, seconds] : kagura::bench::thread_cpu_seconds()) {
    if (name.rfind("kagura-", 0) == 0) total += seconds;
  }
  return total;
}

Comparison compare(const Agent& on, const Agent& off, int repetitions, int calls,
                   kagura::telemetry::Telemetry& telemetry) {
  run_block(on, off, calls / 4);  // warm up connections, caches and the store
  telemetry.flush();
  const double pipeline_start = pipeline_cpu_seconds();
  std::vector<double> on_times, off_times, on_cpu, off_cpu, differences;
  for (int r = 0; r < repetitions; ++r) {
    const Block block = run_block(on, off, calls);
    on_times.push_back(block.on_wall);
    off_times.push_back(block.off_wall);
    on_cpu.push_back(block.on_cpu);
    off_cpu.push_back(block.off_cpu);
    differences.push_back(block.on_wall - block.off_wall);
    // Untimed: the pipeline's work on the block is reported as its CPU per call recorded,
    // rather than landing on whichever calls, on or off, it happens to overlap.
    telemetry.flush();
  }
  const double pipeline_cpu = pipeline_cpu_seconds() - pipeline_start;
  using kagura::bench::median;
  return {
      median(off_times) * 1e6,   median(on_times) * 1e6,
      median(off_cpu) * 1e6,     median(on_cpu) * 1e6,
      median(differences) * 1e6, pipeline_cpu / (static_cast<double>(repetitions) * calls) * 1e6};
}

void report(const std::string& what, const Comparison& c) {
  std::printf("%s (medians)\n", what.c_str());
  std::printf("  telemetry off   %9.1f us per call\n", c.off_us);
  std::printf("  telemetry on    %9.1f us per call\n", c.on_us);
  std::printf("  overhead        %9.1f us per call, %.2f%% of the call (target < 1%%)\n",
              c.overhead_us, 100.0 * c.overhead_us / c.off_us);
  std::printf("  calling thread's CPU: off %.1f us, on %.1f us per call: telemetry %.1f us\n",
              c.off_cpu_us, c.on_cpu_us, c.on_cpu_us - c.off_cpu_us);
  std::printf("  pipeline threads' CPU, in the background: %.1f us per call recorded\n",
              c.pipeline_cpu_us);
}

AgentOptions researcher_options() {
  // Assigned field by field: g++ 12 warns (wrongly) about a designated initializer here.
  AgentOptions o;
  o.name = "researcher";
  o.prompt = "Research {{ topic }} and report the key facts";
  o.model = "openai/gpt-4o-mini";
  o.tools = {{.name = "web_search",
              .description = "Search the web",
              .parameters = {{"type", "object"},
                             {"properties", {{"query", {{"type", "string"}}}}},
                             {"required", {"query"}}},
              .function = [](const nlohmann::json& args) -> nlohmann::json {
                return "3 articles about " + args.at("query").get<std::string>();
              }}};
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 21;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::string db = argc > 3 ? argv[3] : "/tmp/kagura_agent_bench.db";
  const bool control = std::getenv("KAGURA_BENCH_CONTROL") != nullptr;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);

  httplib::Server server;
  server.Post("/v1/chat/completions", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(kagura::examples::reply(nlohmann::json::parse(req.body)).dump(),
                    kagura::examples::kJsonContentType);
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  // bind_to_any_port() already listens: requests queue until the thread accepts them.
  std::thread server_thread([&server] { server.listen_after_bind(); });

  kagura::llm::ProviderSettings settings;
  settings.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  settings.api_key = "bench";
  auto store = std::make_shared<kagura::storage::SqliteStore>(db);
  kagura::telemetry::TelemetryOptions telemetry_options;
  telemetry_options.flush_on_signals = false;
  const auto telemetry = std::make_shared<kagura::telemetry::Telemetry>(store, telemetry_options);

  const auto make_agent = [&](bool telemetry_on, std::shared_ptr<kagura::llm::LlmClient> client) {
    AgentOptions o = researcher_options();
    o.enable_telemetry = telemetry_on;
    o.client = std::move(client);
    o.telemetry = telemetry;
    return Agent(std::move(o));
  };

  const auto http = kagura::llm::make_client("openai", settings);
  if (std::getenv("KAGURA_BENCH_LOWER_BOUND") != nullptr) {
    report(
        "lower bound: the facts of each call appended to a buffer of the thread and handed "
        "to another thread, against nothing (telemetry off on both sides), " +
            std::to_string(repetitions) + " x " + std::to_string(calls) + " calls each way",
        compare(make_agent(false, std::make_shared<FactsOnlyClient>(http)), make_agent(false, http),
                repetitions, calls, *telemetry));
    server.stop();
    server_thread.join();
    return 0;
  }
  report(
      "full agent call (template, 2 HTTP round trips to 127.0.0.1, 1 tool call), " +
          std::to_string(repetitions) + " x " + std::to_string(calls) + " calls each way",
      compare(make_agent(!control, http), make_agent(false, http), repetitions, calls, *telemetry));

  const auto instant = std::make_shared<InstantClient>();
  report("the same agent call with an in-process client instead of HTTP, " +
             std::to_string(repetitions) + " x 2000 calls each way",
         compare(make_agent(!control, instant), make_agent(false, instant), repetitions, 2000,
                 *telemetry));

  const auto stats = telemetry->stats();
  std::printf("  recorded %llu executions, dropped %llu, failed %llu\n",
              static_cast<unsigned long long>(stats.written),
              static_cast<unsigned long long>(stats.dropped),
              static_cast<unsigned long long>(stats.failed));
  server.stop();
  server_thread.join();
  return 0;
}
