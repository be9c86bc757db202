// Anthropic's Messages API answer (a message as JSON, or a stream of its events as
// server-sent events): whatever it sends, the client gives an answer or an LlmError.

#include "llm/anthropic_wire.hpp"
#include "llm_response_fuzzer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  kagura::fuzz::fuzz_llm_response(std::string_view(reinterpret_cast<const char*>(bytes), size),
                                  "anthropic", kagura::llm::detail::parse_anthropic_answer,
                                  kagura::llm::detail::assemble_anthropic_stream);
  return 0;
}
