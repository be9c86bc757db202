#pragma once

// Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html), parsed
// incrementally: the network hands over arbitrary pieces of the stream, and an event, a line
// or even a CR LF pair may be split between two of them.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace kagura::llm::detail {

struct SseEvent {
  std::string event = "message";  // the `event:` field, "message" when there was none
  std::string data;               // `data:` lines joined with '\n'
  std::string id;
};

class SseParser {
 public:
  // A line or an event longer than this is no answer of a real API: a hostile or broken
  // server must not make the process buffer without bound. Exceeding it throws LlmError.
  static constexpr std::size_t kMaxEventBytes = 16 * 1024 * 1024;

  using EventHandler = std::function<void(const SseEvent&)>;

  explicit SseParser(EventHandler on_event);

  // Parses the next piece of the stream, calling the handler for every event it completes.
  void feed(std::string_view chunk);
  // End of the stream: dispatches an event that was not followed by its blank line. The
  // standard drops such an event, but some OpenAI-compatible servers end the stream right
  // after their last `data:` line, and that line is the answer's end.
  void finish();

 private:
  void parse(std::string_view chunk);
  void process_line(std::string_view line);
  void dispatch();

  EventHandler on_event_;
  std::string start_bytes_;  // the first bytes, until it is known whether they are a BOM
  std::string partial_line_;
  bool skip_next_lf_ = false;  // the previous piece ended with CR, of a CR LF pair perhaps
  bool at_stream_start_ = true;
  bool has_data_ = false;
  SseEvent pending_;
};

}  // namespace kagura::llm::detail
