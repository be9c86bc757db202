// One agent against a real provider, streaming its answer:
//
//   OPENAI_API_KEY=sk-... ask "What is WAL mode in SQLite?"
//   ANTHROPIC_API_KEY=sk-ant-... ask "Why is the sky blue?" anthropic/claude-haiku-4-5
//   OLLAMA_API_BASE=http://localhost:11434 ask "Hello" ollama/llama3.2
//   OPENAI_BASE_URL=http://localhost:8080/v1 ask "Hello" openai/local-model   # llama.cpp, vLLM,
//   ...
//
// The call is recorded like any other; `kagura monitor list` shows it with its tokens and cost.

#include <cstdio>
#include <exception>
#include <string>

#include "kagura/agent/agent.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ask QUESTION [provider/model]\n");
    return 2;
  }
  try {
    kagura::agent::Agent ask({.name = "ask",
                              .prompt = "{{ question }}",
                              .model = argc > 2 ? argv[2] : "openai/gpt-4o-mini",
                              .settings = {.stream = true, .on_text = [](std::string_view text) {
                                             std::fwrite(text.data(), 1, text.size(), stdout);
                                             std::fflush(stdout);
                                           }}});
    ask({{"question", argv[1]}});
    std::printf("\n");
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ask: %s\n", error.what());
    return 1;
  }
}
