#include "llm/sse_parser.hpp"

#include <utility>

#include "kagura/llm/llm_client.hpp"

namespace kagura::llm::detail {

namespace {

[[noreturn]] void too_large() {
  throw LlmError(LlmErrorKind::malformed,
                 "the server sent a stream event larger than 16 MiB; this is not an answer of "
                 "the API: check the base URL points at an LLM server");
}

}  // namespace

SseParser::SseParser(EventHandler on_event) : on_event_(std::move(on_event)) {}

void SseParser::feed(std::string_view chunk) {
  if (!at_stream_start_) {
    parse(chunk);
    return;
  }
  // A byte order mark may only start the stream, and it may itself arrive split.
  constexpr std::string_view bom = "\xEF\xBB\xBF";
  start_bytes_.append(chunk);
  if (start_bytes_.size() < bom.size() && bom.starts_with(start_bytes_)) return;
  at_stream_start_ = false;
  const std::string head = std::exchange(start_bytes_, {});
  std::string_view text = head;
  if (text.starts_with(bom)) text.remove_prefix(bom.size());
  parse(text);
}

void SseParser::parse(std::string_view chunk) {
  while (!chunk.empty()) {
    if (skip_next_lf_) {
      skip_next_lf_ = false;
      if (chunk.front() == '\n') {
        chunk.remove_prefix(1);
        continue;
      }
    }
    const auto end = chunk.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      if (partial_line_.size() + chunk.size() > kMaxEventBytes) too_large();
      partial_line_.append(chunk);
      return;
    }
    const std::string_view tail = chunk.substr(0, end);
    // A CR may be the first half of a CR LF pair whose LF starts the next piece.
    skip_next_lf_ = chunk[end] == '\r';
    chunk.remove_prefix(end + 1);
    if (partial_line_.empty()) {
      process_line(tail);
    } else {
      if (partial_line_.size() + tail.size() > kMaxEventBytes) too_large();
      partial_line_.append(tail);
      const std::string line = std::exchange(partial_line_, {});
      process_line(line);
    }
  }
}

void SseParser::finish() {
  if (at_stream_start_) {
    at_stream_start_ = false;
    const std::string head = std::exchange(start_bytes_, {});
    parse(head);
  }
  if (!partial_line_.empty()) {
    const std::string line = std::exchange(partial_line_, {});
    process_line(line);
  }
  dispatch();
}

void SseParser::process_line(std::string_view line) {
  if (line.empty()) {
    dispatch();
    return;
  }
  if (line.front() == ':') return;  // a comment, often a keep-alive
  std::string_view field = line;
  std::string_view value;
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (pending_.data.size() + value.size() + 1 > kMaxEventBytes) too_large();
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    pending_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) pending_.id.assign(value);
  }
  // "retry" and unknown fields are ignored: reconnection is not ours to do.
}

void SseParser::dispatch() {
  if (!has_data_) {
    pending_.event = "message";  // an event without data is dropped, its name too
    return;
  }
  has_data_ = false;
  SseEvent event = std::move(pending_);
  pending_ = SseEvent{};
  pending_.id = event.id;  // the id persists, as the standard's "last event ID" does
  if (event.event.empty()) event.event = "message";
  on_event_(event);
}

}  // namespace kagura::llm::detail
