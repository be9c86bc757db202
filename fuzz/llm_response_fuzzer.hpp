#pragma once

// One body for both LLM answer fuzzers, read as a whole answer and as a stream: only LlmError
// may come out (malformed, or an error the body reports); the stream gives the same answer (or
// the same error) however its transfer is cut; and the text passed to on_text adds up to the
// answer's text.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "kagura/llm/llm_client.hpp"
#include "llm/http_client.hpp"

namespace kagura::fuzz {

struct Outcome {
  bool ok = false;
  llm::ChatResponse response;
  std::string error;
  llm::LlmErrorKind kind{};
};

template <typename Parse>
Outcome outcome_of(Parse&& parse) {
  Outcome out;
  try {
    out.response = parse();
    out.ok = true;
  } catch (const llm::LlmError& error) {
    out.error = error.what();
    out.kind = error.kind();
    KAGURA_FUZZ_CHECK(error.kind() == llm::LlmErrorKind::malformed ||
                      error.kind() == llm::LlmErrorKind::http_status);
  }
  return out;
}

inline bool same_answer(const Outcome& a, const Outcome& b) {
  if (a.ok != b.ok) return false;
  if (!a.ok) return a.error == b.error && a.kind == b.kind;
  const auto& x = a.response;
  const auto& y = b.response;
  if (x.content != y.content || x.finish_reason != y.finish_reason || x.model != y.model ||
      x.tool_calls.size() != y.tool_calls.size() ||
      x.usage.prompt_tokens != y.usage.prompt_tokens ||
      x.usage.completion_tokens != y.usage.completion_tokens ||
      x.usage.cached_tokens != y.usage.cached_tokens ||
      x.usage.cache_write_tokens != y.usage.cache_write_tokens ||
      x.usage.reasoning_tokens != y.usage.reasoning_tokens) {
    return false;
  }
  for (std::size_t i = 0; i < x.tool_calls.size(); ++i) {
    if (x.tool_calls[i].id != y.tool_calls[i].id || x.tool_calls[i].name != y.tool_calls[i].name ||
        x.tool_calls[i].arguments != y.tool_calls[i].arguments) {
      return false;
    }
  }
  return true;
}

// `parse_answer(http, url, reply)` and `assemble_stream(http, url, request, started, transfer)`
// are the provider's functions from src/llm/<provider>_wire.hpp.
template <typename ParseAnswer, typename AssembleStream>
void fuzz_llm_response(std::string_view body, const char* provider, ParseAnswer&& parse_answer,
                       AssembleStream&& assemble_stream) {
  const llm::detail::HttpClient http({}, {provider, "", "", ""});
  const std::string url = "http://127.0.0.1:1/v1/fuzz";

  outcome_of([&] {
    return parse_answer(http, url, llm::detail::HttpReply{200, std::string(body), 0});
  });

  const auto stream = [&](bool cut) {
    std::string streamed_text;
    llm::ChatRequest request;
    request.stream = true;
    request.on_text = [&](std::string_view text) { streamed_text.append(text); };
    Outcome out = outcome_of([&] {
      return assemble_stream(http, url, request, std::chrono::steady_clock::now(),
                             [&](const llm::detail::ChunkHandler& on_chunk) {
                               if (cut) {
                                 for (const auto piece : pieces_of(body)) on_chunk(piece);
                               } else {
                                 on_chunk(body);
                               }
                               return llm::detail::HttpReply{200, "", 0};
                             });
    });
    if (out.ok) KAGURA_FUZZ_CHECK(streamed_text == out.response.content);
    return out;
  };
  KAGURA_FUZZ_CHECK(same_answer(stream(false), stream(true)));
}

}  // namespace kagura::fuzz
