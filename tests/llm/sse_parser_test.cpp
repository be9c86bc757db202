#include "llm/sse_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using kagura::llm::detail::SseEvent;
using kagura::llm::detail::SseParser;

struct Collected {
  std::vector<SseEvent> events;
  SseParser parser{[this](const SseEvent& event) { events.push_back(event); }};
};

// Every way of cutting `stream` in two must give the same events as feeding it whole.
std::vector<SseEvent> parse_split_everywhere(std::string_view stream, std::size_t& splits_checked) {
  Collected whole;
  whole.parser.feed(stream);
  whole.parser.finish();
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    Collected split;
    split.parser.feed(stream.substr(0, cut));
    split.parser.feed(stream.substr(cut));
    split.parser.finish();
    EXPECT_EQ(split.events.size(), whole.events.size()) << "cut at " << cut;
    for (std::size_t i = 0; i < std::min(split.events.size(), whole.events.size()); ++i) {
      EXPECT_EQ(split.events[i].event, whole.events[i].event) << "cut at " << cut;
      EXPECT_EQ(split.events[i].data, whole.events[i].data) << "cut at " << cut;
    }
    ++splits_checked;
  }
  return whole.events;
}

TEST(SseParser, DataLinesBecomeEvents) {
  Collected c;
  c.parser.feed("data: {\"a\":1}\n\ndata: [DONE]\n\n");
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].event, "message");
  EXPECT_EQ(c.events[0].data, "{\"a\":1}");
  EXPECT_EQ(c.events[1].data, "[DONE]");
}

TEST(SseParser, EventNamesAndIds) {
  Collected c;
  c.parser.feed("event: message_start\nid: 7\ndata: {}\n\nevent: ping\ndata: {}\n\ndata: x\n\n");
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[0].event, "message_start");
  EXPECT_EQ(c.events[0].id, "7");
  EXPECT_EQ(c.events[1].event, "ping");
  EXPECT_EQ(c.events[1].id, "7") << "the last event id persists";
  EXPECT_EQ(c.events[2].event, "message") << "the name does not carry over to the next event";
}

TEST(SseParser, MultiLineDataIsJoinedWithNewlines) {
  Collected c;
  c.parser.feed("data: first\ndata:second\ndata:  third\n\n");
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].data, "first\nsecond\n third") << "only one leading space is removed";
}

TEST(SseParser, CommentsAndUnknownFieldsAreIgnored) {
  Collected c;
  c.parser.feed(": keep-alive\n\n: OPENROUTER PROCESSING\nretry: 100\nfoo: bar\ndata: x\n\n");
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].data, "x");
}

TEST(SseParser, EventWithoutDataIsNotDispatched) {
  Collected c;
  c.parser.feed("event: lonely\n\ndata: y\n\n");
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].event, "message");
  EXPECT_EQ(c.events[0].data, "y");
}

TEST(SseParser, EmptyDataLineGivesAnEmptyEvent) {
  Collected c;
  c.parser.feed("data\n\ndata:\n\n");
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].data, "");
  EXPECT_EQ(c.events[1].data, "");
}

TEST(SseParser, CrLfAndCrLineEndings) {
  Collected c;
  c.parser.feed("event: a\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n");
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[0].event, "a");
  EXPECT_EQ(c.events[0].data, "1");
  EXPECT_EQ(c.events[1].data, "2");
  EXPECT_EQ(c.events[2].data, "3");
}

TEST(SseParser, ByteOrderMarkAtTheStartIsSkipped) {
  Collected c;
  c.parser.feed("\xEF\xBB");
  c.parser.feed("\xBF");
  c.parser.feed("data: z\n\n");
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].data, "z");
}

TEST(SseParser, AnyCutGivesTheSameEvents) {
  const std::string stream =
      "\xEF\xBB\xBF: hello\r\nevent: content_block_delta\r\ndata: {\"text\":\"h\xC3\xA9llo\"}\r\n"
      "\r\ndata: a\rdata: b\r\rdata: [DONE]\n\n";
  std::size_t splits = 0;
  const auto events = parse_split_everywhere(stream, splits);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event, "content_block_delta");
  EXPECT_EQ(events[0].data, "{\"text\":\"h\xC3\xA9llo\"}");
  EXPECT_EQ(events[1].data, "a\nb");
  EXPECT_EQ(events[2].data, "[DONE]");
  EXPECT_EQ(splits, stream.size() + 1);
}

TEST(SseParser, ByteByByteFeeding) {
  const std::string stream = "data: one\r\n\r\nevent: e\ndata: two\n\n";
  Collected c;
  for (char byte : stream) c.parser.feed(std::string_view(&byte, 1));
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].data, "one");
  EXPECT_EQ(c.events[1].event, "e");
  EXPECT_EQ(c.events[1].data, "two");
}

TEST(SseParser, FinishDispatchesAnEventWithoutItsBlankLine) {
  Collected c;
  c.parser.feed("data: complete\n\ndata: last");
  ASSERT_EQ(c.events.size(), 1u);
  c.parser.finish();
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[1].data, "last");
  c.parser.finish();
  EXPECT_EQ(c.events.size(), 2u) << "finish() twice dispatches nothing more";
}

TEST(SseParser, AnExceptionFromTheHandlerLeavesTheParserUsable) {
  int calls = 0;
  SseParser parser([&](const SseEvent& event) {
    ++calls;
    if (event.data == "bad") throw std::runtime_error("bad event");
  });
  EXPECT_THROW(parser.feed("data: bad\n\n"), std::runtime_error);
  parser.feed("data: good\n\n");
  EXPECT_EQ(calls, 2);
}

}  // namespace
