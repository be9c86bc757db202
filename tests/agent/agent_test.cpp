// The agent runtime over real HTTP against a local server: tool loop, memory, streaming,
// nesting, concurrency, retries, redaction and content capture, and what each records.

#include "kagura/agent/agent.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_fixture.hpp"
#include "support/test_support.hpp"

namespace kagura::test {
namespace {

using agent::Agent;
using agent::AgentError;
using agent::Tool;
using telemetry::ExecutionStatus;

class AgentTest : public AgentFixture {};

Tool echo_tool(std::atomic<int>* calls = nullptr) {
  return {.name = "echo",
          .description = "Echo the text",
          .parameters = {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}},
          .function = [calls](const nlohmann::json& args) -> nlohmann::json {
            if (calls != nullptr) ++*calls;
            return args.at("text");
          }};
}

TEST_F(AgentTest, EachRoundOfTheToolLoopIsItsOwnLlmCall) {
  server_.enqueue({.tool_calls = {{"c1", "echo", R"({"text": "one"})"}},
                   .model = "gpt-4o-mini-2024-07-18",
                   .usage = {.prompt_tokens = 100, .completion_tokens = 20, .cached_tokens = 40}});
  server_.enqueue(
      {.tool_calls = {{"c2", "echo", R"({"text": "two"})"}, {"c3", "echo", R"({"text": "three"})"}},
       .usage = {.prompt_tokens = 150, .completion_tokens = 30}});
  server_.enqueue({.content = "done", .usage = {.prompt_tokens = 200, .completion_tokens = 7}});
  std::atomic<int> calls{0};
  auto o = options("looper", "Go");
  o.tools = {echo_tool(&calls)};
  Agent looper(std::move(o));

  EXPECT_EQ(looper(), "done");
  EXPECT_EQ(calls.load(), 3);

  const auto e = recorded().at(0);
  const auto llm_calls = events_of<telemetry::LlmCall>(e);
  ASSERT_EQ(llm_calls.size(), 3u) << "one llm_call event per round, not one summed";
  EXPECT_EQ(llm_calls[0].model, "gpt-4o-mini-2024-07-18") << "the model the response reports";
  EXPECT_EQ(llm_calls[0].prompt_tokens, 100);
  EXPECT_EQ(llm_calls[0].cached_tokens, 40);
  EXPECT_EQ(llm_calls[0].finish_reason, "tool_calls");
  EXPECT_EQ(llm_calls[2].finish_reason, "stop");
  EXPECT_EQ(llm_calls[1].provider, "openai");
  for (const auto& call : llm_calls) {
    EXPECT_TRUE(call.priced);
    EXPECT_GT(call.cost_nanos, 0);
    EXPECT_GT(call.duration, 0.0);
  }
  EXPECT_EQ(e.metrics.llm_calls, 3);
  EXPECT_EQ(e.metrics.prompt_tokens, 450);
  EXPECT_EQ(e.metrics.tool_calls, 3);
  EXPECT_EQ(e.metrics.cost_nanos,
            llm_calls[0].cost_nanos + llm_calls[1].cost_nanos + llm_calls[2].cost_nanos);
  // Tool results answer their calls by id, in order.
  const auto messages = server_.requests().at(2).at("messages");
  std::vector<std::string> answered;
  for (const auto& m : messages) {
    if (m.at("role") == "tool") answered.push_back(m.at("tool_call_id"));
  }
  EXPECT_EQ(answered, (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ(server_.requests().at(0).at("tools").at(0).at("function").at("name"), "echo");
}

TEST_F(AgentTest, AThrowingToolIsReportedToTheModelAndRecordedNotACrash) {
  Tool broken{.name = "broken",
              .description = "Always fails",
              .function = [](const nlohmann::json&) -> nlohmann::json {
                throw std::runtime_error("disk on fire");
              }};
  server_.enqueue({.tool_calls = {{"c1", "broken", "{}"}}});
  server_.enqueue({.content = "I could not do it"});
  auto o = options("careful", "Try");
  o.tools = {broken};
  Agent careful(std::move(o));

  EXPECT_EQ(careful(), "I could not do it");

  const auto e = recorded().at(0);
  EXPECT_EQ(e.status, ExecutionStatus::completed);
  const auto tools = events_of<telemetry::ToolCall>(e);
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_FALSE(tools[0].success);
  EXPECT_EQ(tools[0].error, "disk on fire");
  const auto told = server_.requests().at(1).at("messages").back();
  EXPECT_EQ(told.at("role"), "tool");
  EXPECT_EQ(told.at("content"), "error: disk on fire");
}

TEST_F(AgentTest, UnknownToolsAndMalformedArgumentsAreReportedToTheModel) {
  server_.enqueue({.tool_calls = {{"c1", "nope", "{}"}, {"c2", "echo", "{not json"}}});
  server_.enqueue({.content = "ok"});
  auto o = options("sloppy", "Try");
  o.tools = {echo_tool()};
  Agent sloppy(std::move(o));

  EXPECT_EQ(sloppy(), "ok");

  const auto messages = server_.requests().at(1).at("messages");
  const auto unknown = messages.at(messages.size() - 2).at("content").get<std::string>();
  const auto malformed = messages.back().at("content").get<std::string>();
  EXPECT_NE(unknown.find("no tool named 'nope'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("echo"), std::string::npos) << "names the tools there are";
  EXPECT_NE(malformed.find("not valid JSON"), std::string::npos) << malformed;
  const auto tools = events_of<telemetry::ToolCall>(recorded().at(0));
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_FALSE(tools[0].success);
  EXPECT_FALSE(tools[1].success);
}

TEST_F(AgentTest, TooManyToolRoundsFailsTheCallAndSaysHowToFixIt) {
  server_.set_default_reply({.tool_calls = {{"again", "echo", R"({"text": "x"})"}}});
  auto o = options("stuck", "Loop");
  o.tools = {echo_tool()};
  o.max_tool_rounds = 2;
  Agent stuck(std::move(o));

  try {
    stuck();
    FAIL() << "expected AgentError";
  } catch (const AgentError& error) {
    EXPECT_NE(std::string(error.what()).find("max_tool_rounds"), std::string::npos);
  }
  EXPECT_EQ(server_.request_count(), 3u) << "the first call and two tool rounds";
  const auto e = recorded().at(0);
  EXPECT_EQ(e.status, ExecutionStatus::failed);
  EXPECT_EQ(e.metrics.llm_calls, 3);
  EXPECT_EQ(e.metrics.tool_calls, 2);
}

TEST_F(AgentTest, AnAgentCalledFromAToolIsAChildInTheSameTrace) {
  server_.enqueue({.tool_calls = {{"c1", "ask_expert", R"({"question": "why?"})"}}});
  server_.enqueue({.content = "because"});  // the inner agent's answer
  server_.enqueue({.content = "the expert says: because"});
  Agent expert(options("expert", "Answer {{ question }}"));
  auto o = options("manager", "Delegate");
  o.tools = {{.name = "ask_expert",
              .description = "Ask the expert",
              .function = [&expert](const nlohmann::json& args) -> nlohmann::json {
                return expert(args);
              }}};
  Agent manager(std::move(o));

  EXPECT_EQ(manager(), "the expert says: because");

  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 2u);
  const auto& outer = executions[0].agent_name == "manager" ? executions[0] : executions[1];
  const auto& inner = executions[0].agent_name == "expert" ? executions[0] : executions[1];
  EXPECT_EQ(inner.parent_id, outer.id);
  EXPECT_EQ(inner.trace_id, outer.id);
  EXPECT_EQ(outer.trace_id, outer.id);
  EXPECT_EQ(inner.kwargs.at("question"), "why?");
  EXPECT_EQ(outer.metrics.llm_calls, 2) << "the inner agent's call is recorded in the inner";
  EXPECT_EQ(inner.metrics.llm_calls, 1);
}

TEST_F(AgentTest, AnInnerAgentWithTelemetryOffRecordsNothingInTheOuterExecution) {
  server_.enqueue({.tool_calls = {{"c1", "quiet", "{}"}}});
  server_.enqueue({.content = "inner"});
  server_.enqueue({.content = "outer"});
  auto inner_options = options("quiet_inner", "Hush");
  inner_options.enable_telemetry = false;
  inner_options.memory = std::make_shared<agent::ConversationMemory>(10);
  Agent inner(std::move(inner_options));
  auto o = options("loud_outer", "Go");
  o.tools = {{.name = "quiet",
              .function = [&inner](const nlohmann::json&) -> nlohmann::json { return inner(); }}};
  Agent outer(std::move(o));

  EXPECT_EQ(outer(), "outer");

  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 1u);
  EXPECT_EQ(executions[0].metrics.llm_calls, 2) << "the outer agent's two rounds only";
  EXPECT_EQ(executions[0].metrics.memory_operations, 0);
}

TEST_F(AgentTest, ConcurrentCallsFromManyThreadsNeverMix) {
  server_.set_default_reply({.content = "fine"});
  Agent worker(options("worker", "Task {{ n }}"));
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 5;
  std::vector<std::thread> threads;
  std::atomic<int> answers{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        if (worker({{"n", t * 100 + i}}) == "fine") ++answers;
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(answers.load(), kThreads * kCallsEach);
  const auto executions = recorded();
  ASSERT_EQ(executions.size(), static_cast<std::size_t>(kThreads * kCallsEach));
  std::set<int> seen;
  for (const auto& e : executions) {
    EXPECT_EQ(e.metrics.llm_calls, 1);
    EXPECT_TRUE(e.parent_id.empty());
    seen.insert(e.kwargs.at("n").get<int>());
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kCallsEach));
}

TEST_F(AgentTest, MemoryCarriesTheConversationAndRecordsEachOperation) {
  server_.enqueue({.content = "Nice to meet you, Ann"});
  server_.enqueue({.content = "Your name is Ann"});
  server_.enqueue({.content = "Still Ann"});
  auto memory = std::make_shared<agent::ConversationMemory>(2);
  auto o = options("chat", "{{ text }}");
  o.memory = memory;
  Agent chat(std::move(o));

  chat({{"text", "I am Ann"}});
  chat({{"text", "What is my name?"}});
  const auto second = server_.requests().at(1).at("messages");
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].at("content"), "I am Ann");
  EXPECT_EQ(second[1].at("content"), "Nice to meet you, Ann");
  EXPECT_EQ(second[2].at("content"), "What is my name?");
  EXPECT_EQ(memory->size(), 2u) << "trimmed to max_messages";
  chat({{"text", "And now?"}});
  EXPECT_EQ(server_.requests().at(2).at("messages").size(), 3u);

  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 3u);
  const auto& latest = executions[0];  // newest first
  const auto ops = events_of<telemetry::MemoryOperation>(latest);
  std::vector<std::string> names;
  for (const auto& op : ops) names.push_back(op.operation);
  EXPECT_EQ(names, (std::vector<std::string>{"read", "add", "trim"}));
  EXPECT_EQ(ops[0].items, 2);
  EXPECT_EQ(ops[1].items, 2);
  EXPECT_EQ(ops[2].items, 2);
  EXPECT_EQ(ops[0].memory_type, "conversation");
  EXPECT_EQ(latest.metrics.memory_operations, 3);

  memory->clear();  // outside any agent: nothing current, nothing recorded, no crash
  EXPECT_EQ(memory->size(), 0u);
}

TEST_F(AgentTest, StreamingDeliversTextAndRecordsTimeToFirstToken) {
  server_.enqueue({.content = "streamed answer in pieces",
                   .usage = {.prompt_tokens = 12, .completion_tokens = 6}});
  std::string pieces;
  auto o = options("streamer", "Stream please");
  o.settings.stream = true;
  o.settings.on_text = [&pieces](std::string_view text) { pieces += text; };
  Agent streamer(std::move(o));

  EXPECT_EQ(streamer(), "streamed answer in pieces");
  EXPECT_EQ(pieces, "streamed answer in pieces");

  const auto calls = events_of<telemetry::LlmCall>(recorded().at(0));
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_TRUE(calls[0].time_to_first_token.has_value());
  EXPECT_GT(*calls[0].time_to_first_token, 0.0);
  EXPECT_LT(*calls[0].time_to_first_token, calls[0].duration);
  EXPECT_EQ(calls[0].prompt_tokens, 12) << "the usage the stream reports";
  EXPECT_EQ(calls[0].completion_tokens, 6);
  EXPECT_TRUE(server_.requests().at(0).at("stream").get<bool>());
}

TEST_F(AgentTest, RetriesAfterRateLimitingAreRecorded) {
  server_.enqueue({.status = 429, .raw_body = R"({"error": {"message": "slow down"}})"});
  server_.enqueue({.content = "made it"});
  Agent patient(options("patient", "Hi"));

  EXPECT_EQ(patient(), "made it");

  const auto calls = events_of<telemetry::LlmCall>(recorded().at(0));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].retries, 1);
}

TEST_F(AgentTest, AnthropicAgentsRecordProviderAndCacheTokens) {
  server_.enqueue({.content = "Bonjour",
                   .model = "claude-sonnet-4-5-20250929",
                   .usage = {.prompt_tokens = 1000,
                             .completion_tokens = 50,
                             .cached_tokens = 600,
                             .cache_write_tokens = 100}});
  Agent translator(options("translator", "Translate {{ text }}", "anthropic/claude-sonnet-4-5"));

  EXPECT_EQ(translator({{"text", "Hello"}}), "Bonjour");

  const auto calls = events_of<telemetry::LlmCall>(recorded().at(0));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].provider, "anthropic");
  EXPECT_EQ(calls[0].model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(calls[0].prompt_tokens, 1000);
  EXPECT_EQ(calls[0].cached_tokens, 600);
  EXPECT_EQ(calls[0].cache_write_tokens, 100);
  EXPECT_TRUE(calls[0].priced);
  EXPECT_EQ(server_.requests().at(0).at("model"), "claude-sonnet-4-5");
}

// A hostile or broken server's answers fail the call with the client's error, and the
// execution is recorded as failed with that error; nothing of the answer is taken as usage.
TEST_F(AgentTest, HostileAnswersFailTheCallAndAreRecordedAsFailed) {
  const std::vector<std::pair<std::string, std::string>> answers = {
      {"not JSON", "{\"choices\": [{\"message\": "},
      {"wrong types", R"({"choices": "many", "usage": {"prompt_tokens": "lots"}})"},
      {"deeply nested", std::string(100000, '[') + std::string(100000, ']')},
  };
  auto o = options("victim", "Hello");
  Agent victim(std::move(o));
  for (const auto& [what, body] : answers) {
    server_.enqueue({.raw_body = body});
    EXPECT_THROW(victim(), std::exception) << what;
  }
  const auto executions = recorded();
  ASSERT_EQ(executions.size(), answers.size());
  for (const auto& e : executions) {
    EXPECT_EQ(e.status, ExecutionStatus::failed) << e.id;
    EXPECT_FALSE(e.error.empty()) << e.id;
    EXPECT_EQ(e.metrics.prompt_tokens, 0) << e.id;
    EXPECT_EQ(e.metrics.total_cost(), 0.0) << e.id;
  }
}

TEST_F(AgentTest, SecretLookingArgumentsAreRedactedBeforeTheyAreStored) {
  server_.enqueue({.tool_calls = {{"c1", "login", R"({"user": "ann", "password": "hunter2"})"}}});
  server_.enqueue({.content = "logged in"});
  auto o = options("secretive", "Log in as {{ user }}");
  o.tools = {
      {.name = "login", .function = [](const nlohmann::json&) -> nlohmann::json { return "ok"; }}};
  Agent secretive(std::move(o));

  secretive({{"user", "ann"}, {"api_key", "sk-live-123"}, {"config", {{"authToken", "t0k"}}}});

  const auto e = recorded().at(0);
  EXPECT_EQ(e.kwargs.at("user"), "ann");
  EXPECT_EQ(e.kwargs.at("api_key"), "[REDACTED]");
  EXPECT_EQ(e.kwargs.at("config").at("authToken"), "[REDACTED]");
  const auto tools = events_of<telemetry::ToolCall>(e);
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].kwargs.at("password"), "[REDACTED]");
  EXPECT_EQ(tools[0].kwargs.at("user"), "ann");
}

TEST_F(AgentTest, ContentIsCapturedOnlyWhenTheUserOptsIn) {
  server_.set_default_reply({.content = "the answer"});
  Agent plain(options("plain", "The question: {{ q }}"));
  auto o = options("open_book", "The question: {{ q }}");
  o.capture_content = true;
  Agent open_book(std::move(o));

  plain({{"q", "private"}});
  open_book({{"q", "public"}});

  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 2u);
  for (const auto& e : executions) {
    const auto captured = custom_events(e, "llm_content");
    if (e.agent_name == "plain") {
      EXPECT_TRUE(captured.empty());
    } else {
      ASSERT_EQ(captured.size(), 1u);
      EXPECT_EQ(captured[0].at("input").back().at("content"), "The question: public");
      EXPECT_EQ(captured[0].at("output").at("content"), "the answer");
    }
  }
}

TEST_F(AgentTest, AMissingTemplateArgumentFailsTheCallNamingIt) {
  Agent greeter(options("greeter", "Hello {{ name }}, you are {{ age }}"));
  try {
    greeter({{"name", "Ann"}});
    FAIL() << "expected AgentError";
  } catch (const AgentError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("age"), std::string::npos) << message;
    EXPECT_NE(message.find("arguments given: name"), std::string::npos) << message;
  }
  EXPECT_EQ(server_.request_count(), 0u);
  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 1u);
  EXPECT_EQ(executions[0].status, ExecutionStatus::failed);
}

TEST_F(AgentTest, BadDefinitionsAreRefusedWithTheReason) {
  const auto refused = [&](agent::AgentOptions o, const std::string& expected) {
    try {
      Agent a(std::move(o));
      ADD_FAILURE() << "accepted; expected an error mentioning: " << expected;
    } catch (const AgentError& error) {
      EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    }
  };
  refused(options("", "x"), "needs a name");
  refused(options("a", ""), "empty prompt");
  refused(options("a", "Hello {{# open }}"), "not a valid template");
  auto two = options("a", "x");
  two.tools = {echo_tool(), echo_tool()};
  refused(two, "two tools named 'echo'");
  auto spaced = options("a", "x");
  spaced.tools = {
      {.name = "has space", .function = [](const nlohmann::json&) { return nlohmann::json(); }}};
  refused(spaced, "not allowed");
  auto no_function = options("a", "x");
  no_function.tools = {{.name = "empty"}};
  refused(no_function, "has no function");
}

TEST_F(AgentTest, AMissingApiKeyFailsTheFirstCallNotTheDefinition) {
  ScopedEnv env;
  env.unset("OPENAI_API_KEY");
  env.unset("OPENAI_BASE_URL");
  env.unset("OPENAI_API_BASE");
  auto o = options("keyless", "Hi");
  o.client = nullptr;  // resolved from the environment
  Agent keyless(std::move(o));
  try {
    keyless();
    FAIL() << "expected LlmError";
  } catch (const llm::LlmError& error) {
    EXPECT_EQ(error.kind(), llm::LlmErrorKind::configuration);
    EXPECT_NE(std::string(error.what()).find("OPENAI_API_KEY"), std::string::npos) << error.what();
  }
  EXPECT_EQ(recorded().at(0).status, ExecutionStatus::failed);
}

TEST_F(AgentTest, TheEnvironmentsBaseUrlReachesLocalServers) {
  ScopedEnv env;
  env.set("OPENAI_BASE_URL", server_.openai_base_url());
  env.set("OPENAI_API_KEY", "sk-from-env");
  server_.enqueue({.content = "local"});
  auto o = options("local", "Hi");
  o.client = nullptr;
  Agent local(std::move(o));

  EXPECT_EQ(local(), "local");
  EXPECT_EQ(server_.request_headers().at(0).at("authorization"), "Bearer sk-from-env");
}

TEST(PromptTemplateTest, RendersMustacheWithoutHtmlEscaping) {
  agent::AgentOptions o;
  o.name = "t";
  o.prompt =
      "{{ who }} & <{{ what }}>: {{# items }}[{{ . }}]{{/ items }} n={{ n }} {{^ off }}on{{/ off "
      "}}";
  o.client = nullptr;
  Agent a(std::move(o));
  EXPECT_EQ(a.render_prompt({{"who", "Tom & Jerry"},
                             {"what", "\"quoted\""},
                             {"items", {"a", "b"}},
                             {"n", 3},
                             {"off", false}}),
            "Tom & Jerry & <\"quoted\">: [a][b] n=3 on");
  EXPECT_THROW(a.render_prompt(nlohmann::json::array()), AgentError);
}

TEST(RedactSecretsTest, RedactsSecretLookingKeysAtAnyDepth) {
  const auto redacted = agent::redact_secrets({{"query", "x"},
                                               {"OPENAI_API_KEY", "sk"},
                                               {"apiKey", "k"},
                                               {"db", {{"Password", "p"}, {"host", "h"}}},
                                               {"list", {{{"session_id", "s"}}}},
                                               {"max_tokens", 5},
                                               {"auth_token", "t"}});
  EXPECT_EQ(redacted.at("query"), "x");
  EXPECT_EQ(redacted.at("OPENAI_API_KEY"), "[REDACTED]");
  EXPECT_EQ(redacted.at("apiKey"), "[REDACTED]");
  EXPECT_EQ(redacted.at("db").at("Password"), "[REDACTED]");
  EXPECT_EQ(redacted.at("db").at("host"), "h");
  EXPECT_EQ(redacted.at("list").at(0).at("session_id"), "[REDACTED]");
  EXPECT_EQ(redacted.at("max_tokens"), 5) << "words, not substrings";
  EXPECT_EQ(redacted.at("auth_token"), "[REDACTED]");
}

TEST(RedactSecretsTest, KeysAreSplitIntoWordsAtSeparatorsAndCamelCase) {
  for (const char* secret : {"x_private_key", "signingKey", "SESSION", "db.password",
                             "a-very-long-qualifying-prefix_token", "Client Secret"}) {
    EXPECT_EQ(agent::redact_secrets({{secret, "s"}}).at(secret), "[REDACTED]") << secret;
  }
  for (const char* plain : {"primary_key", "keyboard", "monkey", "api_keys", "tokenizer",
                            "passwordlessloginsareverynice", "key"}) {
    EXPECT_EQ(agent::redact_secrets({{plain, "s"}}).at(plain), "s") << plain;
  }
}

// Every secret word, whole and in any case, as a key or a word of one; a letter less or more
// is another word (unless that is a secret word too).
TEST(RedactSecretsTest, ExactlyTheSecretWordsAndNoNeighbours) {
  const std::vector<std::string> secrets = {
      "password",   "passwd",      "passphrase", "secret",     "token",  "authorization",
      "credential", "credentials", "session",    "cookie",     "apikey", "api_key",
      "access_key", "private_key", "secret_key", "signing_key"};
  const auto is_redacted = [](const std::string& key) {
    return agent::redact_secrets({{key, "s"}}).at(key) == "[REDACTED]";
  };
  for (const auto& secret : secrets) {
    std::string upper = secret;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const auto& key : {secret, upper, "my_" + secret, secret + "_value", "x." + upper}) {
      EXPECT_TRUE(is_redacted(key)) << key;
    }
    if (secret.starts_with("secret_")) continue;  // its neighbours still hold "secret"
    const std::string shorter = secret.substr(0, secret.size() - 1);
    const std::string longer = secret + "s";
    const std::string last_letter_changed = shorter + (secret.back() == 'x' ? 'y' : 'x');
    for (const auto& key :
         {shorter, longer, last_letter_changed, secret.substr(1), std::string("s") + secret}) {
      const bool itself_secret = std::find(secrets.begin(), secrets.end(), key) != secrets.end();
      EXPECT_EQ(is_redacted(key), itself_secret) << key;
    }
  }
  // A NUL inside a word makes it another word, as do words past the 16 bytes that are packed.
  EXPECT_FALSE(is_redacted(std::string("token\0", 6)));
  EXPECT_FALSE(is_redacted(std::string("to\0ken", 6)));
  EXPECT_FALSE(is_redacted("authorizationauthorization"));
  EXPECT_FALSE(is_redacted("averyveryverylongqualifier_key"));
  EXPECT_TRUE(is_redacted("averyveryverylongqualifier_api_key"));
}

TEST(RedactSecretsTest, IntoAnEarlierValueGivesWhatACopyGives) {
  const std::vector<nlohmann::json> values = {
      nullptr,
      "text",
      {{"query", "x"}, {"api_key", "sk-1"}},
      {{"api_key", {{"nested", "object"}}}, {"query", "y"}, {"zeta", 1}},
      {{"db", {{"password", "p"}, {"host", "h"}}}, {"list", {{{"token", "t"}}, 3}}},
      {{{"secret", "s"}}, {{"plain", "p"}}},
      nlohmann::json::object(),
      nlohmann::json::array()};
  for (const auto& earlier : values) {
    for (const auto& arguments : values) {
      nlohmann::json recorded = agent::redact_secrets(earlier);
      agent::redact_secrets_into(recorded, arguments);
      EXPECT_EQ(recorded, agent::redact_secrets(arguments))
          << "earlier " << earlier.dump() << ", arguments " << arguments.dump();
    }
  }
}

}  // namespace
}  // namespace kagura::test
