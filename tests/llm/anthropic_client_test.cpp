#include "kagura/llm/anthropic_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "llm/anthropic_wire.hpp"
#include "llm/llm_test_helpers.hpp"
#include "support/fake_llm_server.hpp"

namespace {

using kagura::llm::AnthropicClient;
using kagura::llm::ChatRequest;
using kagura::llm::LlmError;
using kagura::llm::LlmErrorKind;
using kagura::llm::Message;
using kagura::llm::ToolSpec;
using kagura::test::error_of;
using kagura::test::FakeLlmServer;
using kagura::test::ScriptedReply;
using kagura::test::weather_tool;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

ScriptedReply cached_answer() {
  ScriptedReply reply;
  reply.content = "Bonjour! How can I help?";
  reply.model = "claude-sonnet-4-5-20250929";
  // prompt_tokens includes both kinds of cached tokens, as Usage defines it.
  reply.usage = {.prompt_tokens = 1000,
                 .completion_tokens = 50,
                 .cached_tokens = 600,
                 .cache_write_tokens = 300,
                 .reasoning_tokens = 0};
  return reply;
}

TEST(AnthropicClient, PlainAnswer) {
  FakeLlmServer server;
  server.enqueue(cached_answer());
  AnthropicClient client(kagura::test::anthropic_settings(server));
  ChatRequest request{.model = "claude-sonnet-4-5",
                      .messages = {Message::system("You are terse."),
                                   Message::system("Answer in English."), Message::user("Salut")}};
  request.temperature = 0.5;
  request.extra = {{"metadata", {{"user_id", "u-1"}}}};
  const auto response = client.complete(request);

  EXPECT_EQ(response.content, "Bonjour! How can I help?");
  EXPECT_EQ(response.finish_reason, "stop");
  EXPECT_EQ(response.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(response.provider, "anthropic");
  EXPECT_EQ(response.usage.prompt_tokens, 1000);
  EXPECT_EQ(response.usage.cached_tokens, 600);
  EXPECT_EQ(response.usage.cache_write_tokens, 300);
  EXPECT_EQ(response.usage.completion_tokens, 50);
  EXPECT_EQ(response.retries, 0);
  EXPECT_FALSE(response.time_to_first_token.has_value());

  const json body = server.requests()[0];
  EXPECT_EQ(body["model"], "claude-sonnet-4-5");
  EXPECT_EQ(body["system"], "You are terse.\n\nAnswer in English.");
  EXPECT_EQ(body["max_tokens"], AnthropicClient::kDefaultMaxTokens) << "required by the API";
  ASSERT_EQ(body["messages"].size(), 1u) << "system messages are not in the list";
  EXPECT_EQ(body["messages"][0], (json{{"role", "user"}, {"content", "Salut"}}));
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.5);
  EXPECT_EQ(body["metadata"]["user_id"], "u-1");
  EXPECT_FALSE(body.contains("stream"));

  const auto headers = server.request_headers()[0];
  EXPECT_EQ(headers.at("x-api-key"), "sk-ant-test-key");
  EXPECT_EQ(headers.at("anthropic-version"), "2023-06-01");
  EXPECT_FALSE(headers.contains("authorization"));
}

TEST(AnthropicClient, ExplicitMaxTokensIsSent) {
  FakeLlmServer server;
  server.enqueue({.content = "ok", .finish_reason = "length"});
  AnthropicClient client(kagura::test::anthropic_settings(server));
  ChatRequest request{.model = "claude-haiku-4-5", .messages = {Message::user("hi")}};
  request.max_tokens = 16;
  const auto response = client.complete(request);
  EXPECT_EQ(server.requests()[0]["max_tokens"], 16);
  EXPECT_EQ(response.finish_reason, "length") << "max_tokens is normalised";
}

TEST(AnthropicClient, BaseUrlEndingInV1IsAccepted) {
  FakeLlmServer server;
  server.enqueue({.content = "ok"});
  auto settings = kagura::test::anthropic_settings(server);
  settings.base_url = server.anthropic_base_url() + "/v1/";
  AnthropicClient client(settings);
  EXPECT_EQ(
      client.complete({.model = "claude-haiku-4-5", .messages = {Message::user("hi")}}).content,
      "ok");
}

TEST(AnthropicClient, ToolCallsAndTheirResults) {
  FakeLlmServer server;
  ScriptedReply calls;
  calls.content = "Let me check.";
  calls.tool_calls = {{"toolu_1", "get_weather", R"({"city":"Paris"})"},
                      {"toolu_2", "get_weather", R"({"city":"Tokyo"})"}};
  server.enqueue(calls);
  server.enqueue({.content = "Sunny and rainy."});

  AnthropicClient client(kagura::test::anthropic_settings(server));
  ChatRequest request{.model = "claude-sonnet-4-5", .messages = {Message::user("Weather?")}};
  request.tools = {weather_tool()};
  const auto first = client.complete(request);

  EXPECT_EQ(first.content, "Let me check.");
  EXPECT_EQ(first.finish_reason, "tool_calls");
  ASSERT_EQ(first.tool_calls.size(), 2u);
  EXPECT_EQ(first.tool_calls[0].id, "toolu_1");
  EXPECT_EQ(first.tool_calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(first.tool_calls[0].arguments), (json{{"city", "Paris"}}));
  EXPECT_EQ(json::parse(first.tool_calls[1].arguments), (json{{"city", "Tokyo"}}));

  const json tools = server.requests()[0]["tools"];
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0], (json{{"name", "get_weather"},
                            {"description", "The current weather in a city"},
                            {"input_schema", weather_tool().parameters}}));

  request.messages.push_back(Message::assistant(first.content, first.tool_calls));
  request.messages.push_back(Message::tool_result("toolu_1", "get_weather", "sunny"));
  request.messages.push_back(Message::tool_result("toolu_2", "get_weather", "rain"));
  request.messages.push_back(Message::user("And tomorrow?"));
  EXPECT_EQ(client.complete(request).content, "Sunny and rainy.");

  const json messages = server.requests()[1]["messages"];
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[1]["role"], "assistant");
  EXPECT_EQ(messages[1]["content"], json::parse(R"([{"type":"text","text":"Let me check."},
                            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
                            {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Tokyo"}}])"));
  EXPECT_EQ(messages[2]["role"], "user");
  EXPECT_EQ(messages[2]["content"],
            json::parse(R"([{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},
                            {"type":"tool_result","tool_use_id":"toolu_2","content":"rain"}])"))
      << "the results of one turn come in one user message";
  EXPECT_EQ(messages[3], (json{{"role", "user"}, {"content", "And tomorrow?"}}));
}

TEST(AnthropicClient, StreamingAnswer) {
  FakeLlmServer server;
  auto reply = cached_answer();
  reply.content = "Streaming works in small pieces, d\xC3\xA9j\xC3\xA0 vu.";
  server.enqueue(reply);

  AnthropicClient client(kagura::test::anthropic_settings(server));
  std::vector<std::string> pieces;
  ChatRequest request{.model = "claude-sonnet-4-5", .messages = {Message::user("Stream!")}};
  request.stream = true;
  request.on_text = [&](std::string_view text) { pieces.emplace_back(text); };
  const auto response = client.complete(request);

  EXPECT_EQ(response.content, reply.content);
  EXPECT_GT(pieces.size(), 1u);
  std::string joined;
  for (const auto& piece : pieces) joined += piece;
  EXPECT_EQ(joined, reply.content);
  EXPECT_EQ(response.model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(response.finish_reason, "stop");
  EXPECT_EQ(response.usage.prompt_tokens, 1000);
  EXPECT_EQ(response.usage.cached_tokens, 600);
  EXPECT_EQ(response.usage.cache_write_tokens, 300);
  EXPECT_EQ(response.usage.completion_tokens, 50) << "message_delta's count, not the placeholder";
  ASSERT_TRUE(response.time_to_first_token.has_value());
  EXPECT_GT(*response.time_to_first_token, 0.0);
  EXPECT_LT(*response.time_to_first_token, response.duration);
  EXPECT_EQ(server.requests()[0]["stream"], true);
  EXPECT_EQ(server.request_headers()[0].at("accept"), "text/event-stream");
}

TEST(AnthropicClient, StreamingToolCalls) {
  FakeLlmServer server;
  ScriptedReply reply;
  reply.tool_calls = {{"toolu_a", "get_weather", R"({"city":"Paris","days":3})"},
                      {"toolu_b", "noop", ""}};
  server.enqueue(reply);

  AnthropicClient client(kagura::test::anthropic_settings(server));
  ChatRequest request{.model = "claude-sonnet-4-5", .messages = {Message::user("go")}};
  request.tools = {weather_tool(), {"noop", "Does nothing", json::object()}};
  request.stream = true;
  const auto response = client.complete(request);

  EXPECT_EQ(response.content, "");
  EXPECT_EQ(response.finish_reason, "tool_calls");
  ASSERT_EQ(response.tool_calls.size(), 2u);
  EXPECT_EQ(response.tool_calls[0].id, "toolu_a");
  EXPECT_EQ(response.tool_calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(response.tool_calls[0].arguments), (json{{"city", "Paris"}, {"days", 3}}));
  EXPECT_EQ(response.tool_calls[1].name, "noop");
  EXPECT_EQ(json::parse(response.tool_calls[1].arguments), json::object());
  ASSERT_TRUE(response.time_to_first_token.has_value());
  EXPECT_LT(*response.time_to_first_token, response.duration);
  EXPECT_EQ(server.requests()[0]["tools"][1]["input_schema"]["type"], "object")
      << "a tool without parameters still gets an object schema";
}

TEST(AnthropicClient, ErrorStatusCarriesTheProvidersMessage) {
  FakeLlmServer server;
  server.enqueue(
      {.status = 401,
       .raw_body =
           R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})"});
  AnthropicClient client(kagura::test::anthropic_settings(server));
  const auto error = error_of(
      [&] { client.complete({.model = "claude-sonnet-4-5", .messages = {Message::user("hi")}}); });
  EXPECT_EQ(error.kind(), LlmErrorKind::http_status);
  EXPECT_EQ(error.http_status(), 401);
  EXPECT_THAT(error.what(), HasSubstr("anthropic: HTTP 401 from " + server.anthropic_base_url() +
                                      "/v1/messages: invalid x-api-key (check ANTHROPIC_API_KEY)"));
  EXPECT_THAT(error.what(), Not(HasSubstr("sk-ant-test-key")));
}

TEST(AnthropicClient, MalformedAnswers) {
  FakeLlmServer server;
  server.enqueue({.raw_body = "<html>Bad gateway</html>"});
  server.enqueue({.raw_body = R"({"id":"msg_1","type":"message"})"});
  AnthropicClient client(kagura::test::anthropic_settings(server));
  const ChatRequest request{.model = "claude-sonnet-4-5", .messages = {Message::user("hi")}};

  const auto not_json = error_of([&] { client.complete(request); });
  EXPECT_EQ(not_json.kind(), LlmErrorKind::malformed);
  EXPECT_THAT(not_json.what(), HasSubstr("is not JSON"));
  EXPECT_THAT(not_json.what(), HasSubstr("<html>Bad gateway</html>"));

  const auto no_content = error_of([&] { client.complete(request); });
  EXPECT_EQ(no_content.kind(), LlmErrorKind::malformed);
  EXPECT_THAT(no_content.what(), HasSubstr("has no \"content\""));
}

TEST(AnthropicClient, ErrorEventInTheStream) {
  FakeLlmServer server;
  server.enqueue(
      {.raw_body =
           "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\","
           "\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
           "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
           "\"message\":\"Overloaded\"}}\n\n"});
  AnthropicClient client(kagura::test::anthropic_settings(server));
  ChatRequest request{.model = "claude-sonnet-4-5", .messages = {Message::user("hi")}};
  request.stream = true;
  const auto error = error_of([&] { client.complete(request); });
  EXPECT_EQ(error.kind(), LlmErrorKind::http_status);
  EXPECT_EQ(error.http_status(), 529);
  EXPECT_THAT(error.what(), HasSubstr("overloaded_error: Overloaded"));
}

}  // namespace

namespace {

// Caught by fuzz/anthropic_response_fuzzer.cpp (seed usage_overflow.json): adding the cached
// prompt counts to input_tokens overflowed int64 (undefined behaviour); the sum saturates.
TEST(AnthropicAnswer, PromptCountsSaturateInsteadOfOverflowing) {
  const kagura::llm::detail::HttpClient http({}, {"anthropic", "", "", ""});
  const auto response =
      kagura::llm::detail::parse_anthropic_answer(http, "http://127.0.0.1:1/v1/messages",
                                                  {200,
                                                   R"({"content":[{"type":"text","text":"hi"}],
           "usage":{"input_tokens":9223372036854775807,"cache_read_input_tokens":9223372036854775807,
                    "output_tokens":3}})",
                                                   0});
  EXPECT_EQ(response.content, "hi");
  EXPECT_EQ(response.usage.prompt_tokens, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(response.usage.cached_tokens, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(response.usage.completion_tokens, 3);
}

}  // namespace
