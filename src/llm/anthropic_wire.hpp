#pragma once

// Reading the answers of Anthropic's Messages API, apart from the transport, so
// that the tests and fuzz/anthropic_response_fuzzer.cpp can hand them any bytes.

#include <chrono>
#include <functional>
#include <string>

#include "kagura/llm/llm_client.hpp"
#include "llm/http_client.hpp"

namespace kagura::llm::detail {

// Runs the transfer of a streamed answer: hands each piece of the body to the handler it is
// given, and returns the reply (HttpClient::post with a chunk handler, in production).
using StreamTransfer = std::function<HttpReply(const ChunkHandler&)>;

// A whole message. Throws LlmError: malformed for a body that is not a message,
// http_status for an error that the body reports.
ChatResponse parse_anthropic_answer(const HttpClient& http, const std::string& url,
                                    const HttpReply& reply);

// A streamed answer (server-sent events message_start, content_block_*, message_delta,
// message_stop), assembled as the transfer delivers it; request.on_text gets the text as it
// arrives. Throws as above, and whatever the transfer or on_text throw.
ChatResponse assemble_anthropic_stream(const HttpClient& http, const std::string& url,
                                       const ChatRequest& request,
                                       std::chrono::steady_clock::time_point started,
                                       const StreamTransfer& transfer);

}  // namespace kagura::llm::detail
