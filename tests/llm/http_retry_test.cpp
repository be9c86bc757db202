// Retries, timeouts and connection failures of the HTTP layer, seen through the clients.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kagura/llm/anthropic_client.hpp"
#include "kagura/llm/openai_client.hpp"
#include "llm/llm_test_helpers.hpp"
#include "support/fake_llm_server.hpp"
#include "support/test_support.hpp"

namespace {

using kagura::llm::AnthropicClient;
using kagura::llm::ChatRequest;
using kagura::llm::LlmError;
using kagura::llm::LlmErrorKind;
using kagura::llm::Message;
using kagura::llm::OpenAiClient;
using kagura::test::error_of;
using kagura::test::FakeLlmServer;
using kagura::test::ScriptedReply;
using kagura::test::seconds_between;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

ChatRequest simple_request() {
  return {.model = "gpt-4o-mini", .messages = {Message::user("hi")}};
}

TEST(LlmHttpRetry, RetriesAfter429ThenSucceeds) {
  FakeLlmServer server;
  server.enqueue({.status = 429});
  server.enqueue({.content = "second time lucky"});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto response = client.complete(simple_request());
  EXPECT_EQ(response.content, "second time lucky");
  EXPECT_EQ(response.retries, 1);
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(LlmHttpRetry, RetryAfterHeaderIsHonoured) {
  FakeLlmServer server;
  server.enqueue({.status = 429, .headers = {{"Retry-After", "1"}}});
  server.enqueue({.content = "ok"});
  auto settings = kagura::test::openai_settings(server);
  settings.http.max_backoff = milliseconds(5'000);
  OpenAiClient client(settings);
  const auto start = Clock::now();
  const auto response = client.complete(simple_request());
  const double elapsed = seconds_between(start, Clock::now());
  EXPECT_EQ(response.retries, 1);
  EXPECT_GE(elapsed, 0.95) << "Retry-After: 1 asks for a second";
  EXPECT_LT(elapsed, 3.0);
  EXPECT_GE(response.duration, 0.95) << "the duration includes the retries";
}

TEST(LlmHttpRetry, RetryAfterIsCappedAtMaxBackoff) {
  FakeLlmServer server;
  server.enqueue({.status = 503, .headers = {{"Retry-After", "30"}}});
  server.enqueue({.content = "ok"});
  auto settings = kagura::test::openai_settings(server);
  settings.http.max_backoff = milliseconds(100);
  OpenAiClient client(settings);
  const auto start = Clock::now();
  EXPECT_EQ(client.complete(simple_request()).retries, 1);
  EXPECT_LT(seconds_between(start, Clock::now()), 2.0);
}

TEST(LlmHttpRetry, ServerErrorOnEveryAttempt) {
  FakeLlmServer server;
  server.set_default_reply({.status = 500});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto error = error_of([&] { client.complete(simple_request()); });
  EXPECT_EQ(error.kind(), LlmErrorKind::http_status);
  EXPECT_EQ(error.http_status(), 500);
  EXPECT_EQ(error.retries(), 2);
  EXPECT_EQ(server.request_count(), 3u) << "the first attempt and max_retries more";
  EXPECT_THAT(error.what(), HasSubstr("openai: HTTP 500 from " + server.openai_base_url() +
                                      "/chat/completions: FakeLlmServer: scripted HTTP 500"));
  EXPECT_THAT(error.what(), HasSubstr("gave up after 2 retries"));
}

TEST(LlmHttpRetry, BadRequestIsNotRetried) {
  FakeLlmServer server;
  server.set_default_reply(
      {.status = 400,
       .raw_body =
           R"({"error":{"message":"Unsupported value: 'temperature' does not support 0.2"}})"});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto error = error_of([&] { client.complete(simple_request()); });
  EXPECT_EQ(error.kind(), LlmErrorKind::http_status);
  EXPECT_EQ(error.http_status(), 400);
  EXPECT_EQ(error.retries(), 0);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_THAT(error.what(), HasSubstr("Unsupported value: 'temperature' does not support 0.2"));
}

TEST(LlmHttpRetry, SlowServerTimesOutFastAndIsNotRetried) {
  FakeLlmServer server;
  server.set_default_reply({.content = "too late", .delay = milliseconds(5'000)});
  auto settings = kagura::test::openai_settings(server);
  settings.http.timeout = milliseconds(300);
  OpenAiClient client(settings);
  const auto start = Clock::now();
  const auto error = error_of([&] { client.complete(simple_request()); });
  const double elapsed = seconds_between(start, Clock::now());
  EXPECT_EQ(error.kind(), LlmErrorKind::timeout);
  EXPECT_GE(elapsed, 0.25);
  EXPECT_LT(elapsed, 1.5);
  EXPECT_EQ(error.retries(), 0);
  EXPECT_EQ(server.request_count(), 1u) << "the server may be working on it: never sent twice";
  EXPECT_THAT(error.what(), HasSubstr("within 300 ms"));
  EXPECT_THAT(error.what(), HasSubstr("HttpOptions::timeout"));
}

TEST(LlmHttpRetry, StreamTimesOutWhileWaitingForTheAnswer) {
  FakeLlmServer server;
  server.set_default_reply({.content = "too late", .delay = milliseconds(5'000)});
  auto settings = kagura::test::anthropic_settings(server);
  settings.http.timeout = milliseconds(300);
  AnthropicClient client(settings);
  ChatRequest request{.model = "claude-haiku-4-5", .messages = {Message::user("hi")}};
  request.stream = true;
  const auto start = Clock::now();
  const auto error = error_of([&] { client.complete(request); });
  EXPECT_EQ(error.kind(), LlmErrorKind::timeout);
  EXPECT_LT(seconds_between(start, Clock::now()), 1.5);
}

TEST(LlmHttpRetry, ConnectionRefusedIsANetworkErrorAfterRetries) {
  int closed_port = 0;
  {
    FakeLlmServer gone;  // a port that was just free, with nothing listening on it any more
    closed_port = gone.port();
  }
  kagura::llm::ProviderSettings settings;
  settings.base_url = "http://127.0.0.1:" + std::to_string(closed_port) + "/v1";
  settings.http = kagura::test::fast_http_options();
  OpenAiClient client(settings);
  const auto start = Clock::now();
  const auto error = error_of([&] { client.complete(simple_request()); });
  EXPECT_EQ(error.kind(), LlmErrorKind::network);
  EXPECT_EQ(error.retries(), 2);
  EXPECT_EQ(error.http_status(), 0);
  EXPECT_LT(seconds_between(start, Clock::now()), 2.0);
  EXPECT_THAT(error.what(),
              HasSubstr("openai: could not reach " + settings.base_url + "/chat/completions"));
  EXPECT_THAT(error.what(), HasSubstr("check that the server is running"));
  EXPECT_THAT(error.what(), HasSubstr("OPENAI_BASE_URL"));
}

TEST(LlmHttpRetry, StreamIsRetriedWhenNothingArrivedYet) {
  FakeLlmServer server;
  server.enqueue({.status = 503});
  server.enqueue({.content = "streamed after a retry"});
  OpenAiClient client(kagura::test::openai_settings(server));
  ChatRequest request = simple_request();
  request.stream = true;
  std::string seen;
  request.on_text = [&](std::string_view text) { seen += text; };
  const auto response = client.complete(request);
  EXPECT_EQ(response.retries, 1);
  EXPECT_EQ(response.content, "streamed after a retry");
  EXPECT_EQ(seen, "streamed after a retry") << "the failed attempt delivered nothing";
}

TEST(LlmHttpRetry, AnthropicOverloadedIsRetried) {
  FakeLlmServer server;
  server.enqueue({.status = 529});
  server.enqueue({.content = "ok"});
  AnthropicClient client(kagura::test::anthropic_settings(server));
  const auto response =
      client.complete({.model = "claude-haiku-4-5", .messages = {Message::user("hi")}});
  EXPECT_EQ(response.retries, 1);
  EXPECT_EQ(response.content, "ok");
}

TEST(LlmHttpRetry, UnsupportedSchemeIsAConfigurationError) {
  kagura::llm::ProviderSettings settings;
  settings.base_url = "ftp://127.0.0.1/v1";
  settings.http = kagura::test::fast_http_options();
  OpenAiClient client(settings);
  const auto error = error_of([&] { client.complete(simple_request()); });
  EXPECT_EQ(error.kind(), LlmErrorKind::configuration);
  EXPECT_EQ(error.retries(), 0);
}

TEST(LlmHttpRetry, ConcurrentCallsShareOneClientAndServer) {
  FakeLlmServer server;
  server.set_default_reply({.content = "shared"});
  OpenAiClient client(kagura::test::openai_settings(server));
  constexpr int kThreads = 8;
  std::vector<std::optional<std::string>> answers(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ChatRequest request = simple_request();
      request.stream = i % 2 == 0;
      try {
        answers[static_cast<std::size_t>(i)] = client.complete(request).content;
      } catch (const LlmError& error) {
        answers[static_cast<std::size_t>(i)] = std::string("error: ") + error.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& answer : answers) EXPECT_EQ(answer, "shared");
  EXPECT_EQ(server.request_count(), static_cast<std::size_t>(kThreads));
}

TEST(LlmHttpRetry, LocalServersAreNeverReachedThroughAProxy) {
  FakeLlmServer server;
  server.enqueue({.content = "direct"});
  kagura::test::ScopedEnv env;
  // A proxy nobody listens on: going through it would fail.
  env.set("http_proxy", "http://127.0.0.1:9");
  env.set("HTTP_PROXY", "http://127.0.0.1:9");
  env.set("no_proxy", "example.com");
  env.unset("NO_PROXY");
  OpenAiClient client(kagura::test::openai_settings(server));
  EXPECT_EQ(client.complete(simple_request()).content, "direct");
}

TEST(LlmHttpRetry, UnscriptedRequestFailsWithAClearMessage) {
  FakeLlmServer server;
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto error = error_of([&] { client.complete(simple_request()); });
  EXPECT_EQ(error.http_status(), 400);
  EXPECT_THAT(error.what(), HasSubstr("no scripted reply for request #1"));
}

}  // namespace
