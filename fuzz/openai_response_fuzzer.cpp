// An OpenAI-compatible server's answer (chat completion JSON, or a stream of chunks as
// server-sent events): whatever it sends, the client gives an answer or an LlmError.

#include "llm/openai_wire.hpp"
#include "llm_response_fuzzer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  kagura::fuzz::fuzz_llm_response(std::string_view(reinterpret_cast<const char*>(bytes), size),
                                  "openai", kagura::llm::detail::parse_openai_answer,
                                  kagura::llm::detail::assemble_openai_stream);
  return 0;
}
