#include "kagura/llm/openai_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "llm/llm_test_helpers.hpp"
#include "llm/openai_wire.hpp"
#include "support/fake_llm_server.hpp"

namespace {

using kagura::llm::ChatRequest;
using kagura::llm::LlmError;
using kagura::llm::LlmErrorKind;
using kagura::llm::Message;
using kagura::llm::OpenAiClient;
using kagura::llm::ToolCallRequest;
using kagura::llm::ToolSpec;
using kagura::test::error_of;
using kagura::test::FakeLlmServer;
using kagura::test::ScriptedReply;
using kagura::test::weather_tool;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(OpenAiClient, PlainAnswer) {
  FakeLlmServer server;
  ScriptedReply reply;
  reply.content = "Paris is the capital of France.";
  reply.model = "gpt-4o-mini-2024-07-18";
  reply.usage = {.prompt_tokens = 120,
                 .completion_tokens = 48,
                 .cached_tokens = 100,
                 .cache_write_tokens = 0,
                 .reasoning_tokens = 16};
  server.enqueue(reply);

  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request;
  request.model = "gpt-4o-mini";
  request.messages = {Message::system("Answer briefly."),
                      Message::user("What is the capital of France?")};
  request.temperature = 0.2;
  request.max_tokens = 100;
  request.extra = {{"seed", 7}};
  const auto response = client.complete(request);

  EXPECT_EQ(response.content, "Paris is the capital of France.");
  EXPECT_TRUE(response.tool_calls.empty());
  EXPECT_EQ(response.finish_reason, "stop");
  EXPECT_EQ(response.model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(response.provider, "openai");
  EXPECT_EQ(client.provider(), "openai");
  EXPECT_EQ(response.usage.prompt_tokens, 120);
  EXPECT_EQ(response.usage.completion_tokens, 48);
  EXPECT_EQ(response.usage.cached_tokens, 100);
  EXPECT_EQ(response.usage.reasoning_tokens, 16);
  EXPECT_EQ(response.retries, 0);
  EXPECT_GT(response.duration, 0.0);
  EXPECT_FALSE(response.time_to_first_token.has_value());

  ASSERT_EQ(server.request_count(), 1u);
  const json body = server.requests()[0];
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0], (json{{"role", "system"}, {"content", "Answer briefly."}}));
  EXPECT_EQ(body["messages"][1],
            (json{{"role", "user"}, {"content", "What is the capital of France?"}}));
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.2);
  EXPECT_EQ(body["max_tokens"], 100);
  EXPECT_EQ(body["seed"], 7) << "extra is merged into the body";
  EXPECT_FALSE(body.contains("top_p"));
  EXPECT_FALSE(body.contains("tools"));
  EXPECT_FALSE(body.contains("stream"));

  const auto headers = server.request_headers()[0];
  EXPECT_EQ(headers.at("authorization"), "Bearer sk-test-key");
  EXPECT_EQ(headers.at("content-type"), "application/json");
}

TEST(OpenAiClient, NoKeyMeansNoAuthorizationHeader) {
  FakeLlmServer server;
  server.enqueue({.content = "local answer"});
  OpenAiClient client(kagura::test::openai_settings(server, ""), "ollama");
  const auto response = client.complete({.model = "llama3.2", .messages = {Message::user("hi")}});
  EXPECT_EQ(response.content, "local answer");
  EXPECT_EQ(response.provider, "ollama");
  EXPECT_EQ(response.model, "llama3.2") << "the request's model when the server reports none else";
  EXPECT_FALSE(server.request_headers()[0].contains("authorization"));
}

TEST(OpenAiClient, ExtraOverridesAndRemovesFields) {
  FakeLlmServer server;
  server.enqueue({.content = "ok"});
  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request{.model = "gpt-4o", .messages = {Message::user("hi")}};
  request.max_tokens = 10;
  request.top_p = 0.5;
  request.extra = {{"max_tokens", nullptr}, {"max_completion_tokens", 10}, {"top_p", 0.9}};
  client.complete(request);
  const json body = server.requests()[0];
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_EQ(body["max_completion_tokens"], 10);
  EXPECT_DOUBLE_EQ(body["top_p"].get<double>(), 0.9);
}

TEST(OpenAiClient, ToolCallsAndTheirResults) {
  FakeLlmServer server;
  ScriptedReply calls;
  calls.tool_calls = {{"call_1", "get_weather", R"({"city":"Paris"})"},
                      {"call_2", "get_weather", R"({"city":"Tokyo"})"}};
  server.enqueue(calls);
  server.enqueue({.content = "Sunny in Paris, rainy in Tokyo."});

  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request{.model = "gpt-4o",
                      .messages = {Message::user("Weather in Paris and Tokyo?")}};
  request.tools = {weather_tool()};
  const auto first = client.complete(request);

  EXPECT_EQ(first.content, "");
  EXPECT_EQ(first.finish_reason, "tool_calls");
  ASSERT_EQ(first.tool_calls.size(), 2u);
  EXPECT_EQ(first.tool_calls[0].id, "call_1");
  EXPECT_EQ(first.tool_calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(first.tool_calls[0].arguments), (json{{"city", "Paris"}}));
  EXPECT_EQ(first.tool_calls[1].id, "call_2");

  const json tools = server.requests()[0]["tools"];
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0]["type"], "function");
  EXPECT_EQ(tools[0]["function"]["name"], "get_weather");
  EXPECT_EQ(tools[0]["function"]["description"], "The current weather in a city");
  EXPECT_EQ(tools[0]["function"]["parameters"], weather_tool().parameters);

  request.messages.push_back(Message::assistant(first.content, first.tool_calls));
  request.messages.push_back(Message::tool_result("call_1", "get_weather", "sunny, 24C"));
  request.messages.push_back(Message::tool_result("call_2", "get_weather", "rain, 18C"));
  const auto second = client.complete(request);
  EXPECT_EQ(second.content, "Sunny in Paris, rainy in Tokyo.");

  const json messages = server.requests()[1]["messages"];
  ASSERT_EQ(messages.size(), 4u);
  const json& assistant = messages[1];
  EXPECT_EQ(assistant["role"], "assistant");
  EXPECT_TRUE(assistant["content"].is_null()) << "a turn that only calls tools has null content";
  ASSERT_EQ(assistant["tool_calls"].size(), 2u);
  EXPECT_EQ(assistant["tool_calls"][0],
            (json{{"id", "call_1"},
                  {"type", "function"},
                  {"function", {{"name", "get_weather"}, {"arguments", R"({"city":"Paris"})"}}}}));
  EXPECT_EQ(messages[2],
            (json{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "sunny, 24C"}}));
  EXPECT_EQ(messages[3]["tool_call_id"], "call_2");
}

TEST(OpenAiClient, StreamingAnswer) {
  FakeLlmServer server;
  ScriptedReply reply;
  reply.content = "The quick brown fox jumps over the lazy dog, caf\xC3\xA9 au lait.";
  reply.model = "gpt-4o-2024-08-06";
  reply.usage = {.prompt_tokens = 30,
                 .completion_tokens = 12,
                 .cached_tokens = 8,
                 .cache_write_tokens = 0,
                 .reasoning_tokens = 3};
  server.enqueue(reply);

  OpenAiClient client(kagura::test::openai_settings(server));
  std::vector<std::string> pieces;
  ChatRequest request{.model = "gpt-4o", .messages = {Message::user("Say the pangram.")}};
  request.stream = true;
  request.on_text = [&](std::string_view text) { pieces.emplace_back(text); };
  const auto response = client.complete(request);

  EXPECT_EQ(response.content, reply.content);
  EXPECT_GT(pieces.size(), 1u) << "the answer arrives in pieces";
  std::string joined;
  for (const auto& piece : pieces) joined += piece;
  EXPECT_EQ(joined, reply.content);
  EXPECT_EQ(response.model, "gpt-4o-2024-08-06");
  EXPECT_EQ(response.finish_reason, "stop");
  EXPECT_EQ(response.usage.prompt_tokens, 30);
  EXPECT_EQ(response.usage.completion_tokens, 12);
  EXPECT_EQ(response.usage.cached_tokens, 8);
  EXPECT_EQ(response.usage.reasoning_tokens, 3);
  ASSERT_TRUE(response.time_to_first_token.has_value());
  EXPECT_GT(*response.time_to_first_token, 0.0);
  EXPECT_LT(*response.time_to_first_token, response.duration);

  const json body = server.requests()[0];
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"], (json{{"include_usage", true}}));
  EXPECT_EQ(server.request_headers()[0].at("accept"), "text/event-stream");
}

TEST(OpenAiClient, StreamingToolCallsAreAssembledByIndex) {
  FakeLlmServer server;
  ScriptedReply reply;
  reply.tool_calls = {{"call_a", "get_weather", R"({"city":"Paris","unit":"celsius"})"},
                      {"call_b", "search", R"({"query":"best croissant in Paris"})"}};
  server.enqueue(reply);

  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request{.model = "gpt-4o", .messages = {Message::user("go")}};
  request.tools = {weather_tool()};
  request.stream = true;
  int text_calls = 0;
  request.on_text = [&](std::string_view) { ++text_calls; };
  const auto response = client.complete(request);

  EXPECT_EQ(text_calls, 0);
  EXPECT_EQ(response.finish_reason, "tool_calls");
  ASSERT_EQ(response.tool_calls.size(), 2u);
  EXPECT_EQ(response.tool_calls[0].id, "call_a");
  EXPECT_EQ(response.tool_calls[0].name, "get_weather");
  EXPECT_EQ(response.tool_calls[0].arguments, R"({"city":"Paris","unit":"celsius"})");
  EXPECT_EQ(response.tool_calls[1].id, "call_b");
  EXPECT_EQ(response.tool_calls[1].name, "search");
  EXPECT_EQ(response.tool_calls[1].arguments, R"({"query":"best croissant in Paris"})");
  ASSERT_TRUE(response.time_to_first_token.has_value());
  EXPECT_LT(*response.time_to_first_token, response.duration);
}

TEST(OpenAiClient, MalformedJsonIsReported) {
  FakeLlmServer server;
  server.enqueue({.raw_body = "{\"choices\": [oops"});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto error =
      error_of([&] { client.complete({.model = "gpt-4o", .messages = {Message::user("hi")}}); });
  EXPECT_EQ(error.kind(), LlmErrorKind::malformed);
  EXPECT_THAT(error.what(), HasSubstr("openai: the answer from " + server.openai_base_url() +
                                      "/chat/completions is not JSON"));
  EXPECT_THAT(error.what(), HasSubstr("{\"choices\": [oops"));
  EXPECT_EQ(server.request_count(), 1u) << "a malformed answer is not retried";
}

TEST(OpenAiClient, MissingChoicesIsMalformed) {
  FakeLlmServer server;
  server.enqueue({.raw_body = R"({"id":"x","object":"chat.completion"})"});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto error =
      error_of([&] { client.complete({.model = "gpt-4o", .messages = {Message::user("hi")}}); });
  EXPECT_EQ(error.kind(), LlmErrorKind::malformed);
  EXPECT_THAT(error.what(), HasSubstr("has no \"choices\""));
  EXPECT_THAT(error.what(), HasSubstr(R"({"id":"x")"));
}

TEST(OpenAiClient, MalformedStreamEventIsReported) {
  FakeLlmServer server;
  server.enqueue({.raw_body = "data: {\"choices\": [\n\n"});
  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request{.model = "gpt-4o", .messages = {Message::user("hi")}};
  request.stream = true;
  const auto error = error_of([&] { client.complete(request); });
  EXPECT_EQ(error.kind(), LlmErrorKind::malformed);
  EXPECT_THAT(error.what(), HasSubstr("not a JSON object"));
}

TEST(OpenAiClient, StreamThatStopsEarlyIsMalformed) {
  FakeLlmServer server;
  server.enqueue(
      {.raw_body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hal\"}}]}\n\n"});
  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request{.model = "gpt-4o", .messages = {Message::user("hi")}};
  request.stream = true;
  const auto error = error_of([&] { client.complete(request); });
  EXPECT_EQ(error.kind(), LlmErrorKind::malformed);
  EXPECT_THAT(error.what(), HasSubstr("ended before the answer did"));
}

TEST(OpenAiClient, ErrorStatusCarriesTheProvidersMessageWithoutTheKey) {
  FakeLlmServer server;
  server.enqueue(
      {.status = 401,
       .raw_body =
           R"({"error":{"message":"Incorrect API key provided: sk-test-key.","type":"invalid_request_error","code":"invalid_api_key"}})"});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto error =
      error_of([&] { client.complete({.model = "gpt-4o", .messages = {Message::user("hi")}}); });
  EXPECT_EQ(error.kind(), LlmErrorKind::http_status);
  EXPECT_EQ(error.http_status(), 401);
  EXPECT_EQ(error.retries(), 0);
  EXPECT_THAT(error.what(), HasSubstr("openai: HTTP 401 from " + server.openai_base_url() +
                                      "/chat/completions: Incorrect API key provided: ***."));
  EXPECT_THAT(error.what(), HasSubstr("(check OPENAI_API_KEY)"));
  EXPECT_THAT(error.what(), Not(HasSubstr("sk-test-key")));
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(OpenAiClient, ErrorInsideA200AnswerIsAnError) {
  FakeLlmServer server;
  server.enqueue({.raw_body = R"({"error":{"message":"Provider returned error","code":502}})"});
  OpenAiClient client(kagura::test::openai_settings(server), "openrouter");
  const auto error =
      error_of([&] { client.complete({.model = "x/y", .messages = {Message::user("hi")}}); });
  EXPECT_EQ(error.kind(), LlmErrorKind::http_status);
  EXPECT_EQ(error.http_status(), 502);
  EXPECT_THAT(error.what(), HasSubstr("openrouter: error reported by"));
  EXPECT_THAT(error.what(), HasSubstr("Provider returned error"));
}

TEST(OpenAiClient, TextCallbackExceptionReachesTheCaller) {
  FakeLlmServer server;
  server.enqueue({.content = "a long enough answer to come in pieces"});
  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request{.model = "gpt-4o", .messages = {Message::user("hi")}};
  request.stream = true;
  request.on_text = [](std::string_view) { throw std::runtime_error("the consumer gave up"); };
  EXPECT_THROW(client.complete(request), std::runtime_error);
  EXPECT_EQ(server.request_count(), 1u) << "a stream that was consumed is never retried";
}

}  // namespace

namespace {

// Caught by fuzz/openai_response_fuzzer.cpp (seed usage_overflow.json): a count that no int64
// holds was converted with undefined behaviour (a double) or wrapped negative (an unsigned).
TEST(OpenAiAnswer, CountsNoInt64HoldsReadAsMissing) {
  const kagura::llm::detail::HttpClient http({}, {"openai", "", "", ""});
  const auto response =
      kagura::llm::detail::parse_openai_answer(http, "http://127.0.0.1:1/v1/chat/completions",
                                               {200,
                                                R"({"choices":[{"message":{"content":"hi"}}],
           "usage":{"prompt_tokens":1e300,"completion_tokens":18446744073709551615,
                    "prompt_tokens_details":{"cached_tokens":12.0}}})",
                                                0});
  EXPECT_EQ(response.content, "hi");
  EXPECT_EQ(response.usage.prompt_tokens, 0);
  EXPECT_EQ(response.usage.completion_tokens, 0);
  EXPECT_EQ(response.usage.cached_tokens, 12);
}

}  // namespace
