// Agents that record themselves: no telemetry code below. Each call is stored in
// ~/.kagura/telemetry.db (or what KAGURA_TELEMETRY_* configure); see it with `kagura monitor`.
//
//   OPENAI_BASE_URL=http://127.0.0.1:8731/v1 agent_team   # the toy server (no key needed)
//   OPENAI_API_KEY=sk-... agent_team                        # OpenAI itself
//   agent_team [rounds=3] [model=openai/gpt-4o-mini]

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "kagura/agent/agent.hpp"

using kagura::agent::Agent;
using kagura::agent::AgentOptions;
using kagura::agent::Tool;

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const std::string model = argc > 2 ? argv[2] : "openai/gpt-4o-mini";

  Tool web_search{.name = "web_search",
                  .description = "Search the web and return the top results",
                  .parameters = {{"type", "object"},
                                 {"properties", {{"query", {{"type", "string"}}}}},
                                 {"required", {"query"}}},
                  .function = [](const nlohmann::json& args) -> nlohmann::json {
                    return "3 articles about " + args.at("query").get<std::string>();
                  }};
  Tool flaky_lookup{.name = "database_lookup",
                    .description = "Look a customer up",
                    .parameters = {{"type", "object"},
                                   {"properties", {{"customer", {{"type", "string"}}}}},
                                   {"required", {"customer"}}},
                    .function = [](const nlohmann::json&) -> nlohmann::json {
                      throw std::runtime_error("database is read-only right now");
                    }};

  Agent translator({.name = "translator",
                    .prompt = "Translate into {{ language }}: {{ text }}",
                    .model = model});
  Agent researcher({.name = "researcher",
                    .prompt = "Research {{ topic }} and report the key facts",
                    .model = model,
                    .tools = {web_search}});
  Agent support({.name = "support",
                 .prompt = "Help customer {{ customer }} with: {{ issue }}",
                 .model = model,
                 .tools = {flaky_lookup},
                 .memory = std::make_shared<kagura::agent::ConversationMemory>(20)});
  Tool ask_researcher{.name = "ask_researcher",
                      .description = "Ask the research agent about a topic",
                      .parameters = {{"type", "object"},
                                     {"properties", {{"topic", {{"type", "string"}}}}},
                                     {"required", {"topic"}}},
                      .function = [&researcher](const nlohmann::json& args) -> nlohmann::json {
                        return researcher(args);  // a child execution in the same trace
                      }};
  Agent planner({.name = "planner",
                 .prompt = "Plan a report on {{ subject }}",
                 .model = model,
                 .tools = {ask_researcher}});
  // Its prompt needs {{ text }}, which the call below leaves out: a recorded failure.
  Agent careless({.name = "careless", .prompt = "Summarise {{ text }}", .model = model});

  const std::vector<std::string> topics = {"solar power", "C++ coroutines", "tea ceremonies"};
  int answered = 0;
  int failed = 0;
  const auto attempt = [&](auto&& call) {
    try {
      const std::string answer = call();
      ++answered;
      std::printf("  %s\n", answer.substr(0, 100).c_str());
    } catch (const std::exception& error) {
      ++failed;
      std::printf("  failed: %s\n", error.what());
    }
  };
  for (int round = 0; round < rounds; ++round) {
    const auto& topic = topics[static_cast<std::size_t>(round) % topics.size()];
    attempt([&] {
      return translator({{"language", "French"}, {"text", "Good morning, " + topic}});
    });
    attempt([&] { return researcher({{"topic", topic}}); });
    attempt([&] {
      return support({{"customer", "ACME-" + std::to_string(round)}, {"issue", "a late invoice"}});
    });
    attempt([&] { return planner({{"subject", topic}}); });
  }
  attempt([&] { return careless({{"txt", "oops"}}); });

  // Agents are thread-safe: four threads translating at once.
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&translator, t] {
      try {
        translator({{"language", "Japanese"}, {"text", "Parallel hello " + std::to_string(t)}});
      } catch (const std::exception& error) {
        std::fprintf(stderr, "  failed: %s\n", error.what());
      }
    });
  }
  for (auto& worker : workers) worker.join();

  std::printf("%d calls answered, %d failed (failures are recorded too)\n", answered + 4, failed);
  return 0;
}
