// The server-sent events parser, as a streamed LLM answer feeds it: any bytes, cut anywhere.
// Invariants: no crash or UB; the events do not depend on where the stream is cut (in one
// piece, in pseudo-random pieces, byte by byte); an event's name and id hold no line break.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "llm/sse_parser.hpp"

namespace {

using kagura::llm::detail::SseEvent;
using kagura::llm::detail::SseParser;

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

template <typename Feed>
std::vector<SseEvent> parse(Feed&& feed) {
  std::vector<SseEvent> events;
  SseParser parser([&](const SseEvent& event) { events.push_back(event); });
  feed(parser);
  parser.finish();
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const auto whole = parse([&](SseParser& parser) { parser.feed(data); });
  const auto cut = parse([&](SseParser& parser) {
    for (const auto piece : kagura::fuzz::pieces_of(data)) parser.feed(piece);
  });
  const auto bytewise = parse([&](SseParser& parser) {
    for (std::size_t i = 0; i < data.size(); ++i) parser.feed(data.substr(i, 1));
  });
  KAGURA_FUZZ_CHECK(same(whole, cut));
  KAGURA_FUZZ_CHECK(same(whole, bytewise));
  for (const auto& event : whole) {
    KAGURA_FUZZ_CHECK(!event.event.empty());
    KAGURA_FUZZ_CHECK(event.event.find_first_of("\r\n") == std::string::npos);
    KAGURA_FUZZ_CHECK(event.id.find_first_of("\r\n") == std::string::npos);
    KAGURA_FUZZ_CHECK(event.data.find('\r') == std::string::npos);
  }
  return 0;
}
