#include "kagura/llm/providers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kagura/llm/anthropic_client.hpp"
#include "kagura/llm/openai_client.hpp"
#include "llm/llm_test_helpers.hpp"
#include "support/fake_llm_server.hpp"
#include "support/test_support.hpp"

namespace {

using kagura::llm::LlmError;
using kagura::llm::LlmErrorKind;
using kagura::llm::make_client;
using kagura::llm::Message;
using kagura::llm::ModelRef;
using kagura::llm::parse_model;
using kagura::llm::provider_settings_from_env;
using kagura::llm::ProviderSettings;
using kagura::test::error_of;
using kagura::test::FakeLlmServer;
using kagura::test::ScopedEnv;
using ::testing::HasSubstr;

// Every variable the providers read, unset, so that the developer's own keys never matter.
void clear_provider_environment(ScopedEnv& env) {
  for (const char* name : {"OPENAI_API_KEY",         "OPENAI_BASE_URL",
                           "OPENAI_API_BASE",        "ANTHROPIC_API_KEY",
                           "ANTHROPIC_BASE_URL",     "ANTHROPIC_API_BASE",
                           "OLLAMA_API_BASE",        "OLLAMA_HOST",
                           "OPENROUTER_API_KEY",     "OPENROUTER_API_BASE",
                           "HOSTED_VLLM_API_BASE",   "VLLM_API_BASE",
                           "VLLM_API_KEY",           "HOSTED_VLLM_API_KEY",
                           "LLAMACPP_API_BASE",      "LLAMACPP_API_KEY",
                           "LITELLM_PROXY_API_BASE", "LITELLM_PROXY_API_KEY",
                           "GROQ_API_KEY",           "GROQ_API_BASE",
                           "DEEPSEEK_API_KEY",       "DEEPSEEK_API_BASE",
                           "MISTRAL_API_KEY",        "MISTRAL_API_BASE",
                           "GEMINI_API_KEY",         "GEMINI_API_BASE"}) {
    env.unset(name);
  }
}

void expect_model(std::string_view text, std::string provider, std::string model) {
  const ModelRef ref = parse_model(text);
  EXPECT_EQ(ref.provider, provider) << text;
  EXPECT_EQ(ref.model, model) << text;
}

TEST(ProviderParseModel, KnownPrefixes) {
  expect_model("openai/gpt-4o-mini", "openai", "gpt-4o-mini");
  expect_model("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5");
  expect_model("ollama/llama3.2", "ollama", "llama3.2");
  expect_model("ollama/qwen2.5:7b", "ollama", "qwen2.5:7b");
  expect_model("openrouter/meta-llama/llama-3.1-8b-instruct", "openrouter",
               "meta-llama/llama-3.1-8b-instruct");
  expect_model("hosted_vllm/Qwen/Qwen2.5-7B", "hosted_vllm", "Qwen/Qwen2.5-7B");
  expect_model("vllm/mistral", "vllm", "mistral");
  expect_model("llamacpp/local", "llamacpp", "local");
  expect_model("litellm_proxy/gpt-4o", "litellm_proxy", "gpt-4o");
  expect_model("groq/llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile");
  expect_model("deepseek/deepseek-chat", "deepseek", "deepseek-chat");
  expect_model("mistral/mistral-small-latest", "mistral", "mistral-small-latest");
  expect_model("gemini/gemini-2.0-flash", "gemini", "gemini-2.0-flash");
  expect_model("OpenAI/gpt-4o", "openai", "gpt-4o");
}

TEST(ProviderParseModel, WithoutAKnownPrefix) {
  expect_model("gpt-4o-mini", "openai", "gpt-4o-mini");
  expect_model("claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest");
  expect_model("meta-llama/Llama-3.1-8B-Instruct", "openai", "meta-llama/Llama-3.1-8B-Instruct");
}

TEST(ProviderParseModel, EmptyNamesAreRejected) {
  EXPECT_EQ(error_of([] { parse_model(""); }).kind(), LlmErrorKind::configuration);
  const auto error = error_of([] { parse_model("openai/"); });
  EXPECT_EQ(error.kind(), LlmErrorKind::configuration);
  EXPECT_THAT(error.what(), HasSubstr("openai/<model>"));
}

TEST(ProviderSettingsFromEnv, OpenAiKeyAndBaseUrl) {
  ScopedEnv env;
  clear_provider_environment(env);
  env.set("OPENAI_API_KEY", "sk-from-env");
  auto settings = provider_settings_from_env("openai");
  EXPECT_EQ(settings.api, ProviderSettings::Api::openai_chat);
  EXPECT_EQ(settings.api_key, "sk-from-env");
  EXPECT_EQ(settings.base_url, "https://api.openai.com/v1");

  env.set("OPENAI_API_BASE", "http://proxy.local:4000/v1/");
  EXPECT_EQ(provider_settings_from_env("openai").base_url, "http://proxy.local:4000/v1");
  env.set("OPENAI_BASE_URL", "http://preferred.local/v1");
  EXPECT_EQ(provider_settings_from_env("openai").base_url, "http://preferred.local/v1")
      << "OPENAI_BASE_URL wins over OPENAI_API_BASE";
  env.set("OPENAI_BASE_URL", "");
  EXPECT_EQ(provider_settings_from_env("openai").base_url, "http://proxy.local:4000/v1")
      << "an empty variable counts as unset";
}

TEST(ProviderSettingsFromEnv, Anthropic) {
  ScopedEnv env;
  clear_provider_environment(env);
  env.set("ANTHROPIC_API_KEY", "sk-ant-env");
  const auto settings = provider_settings_from_env("anthropic");
  EXPECT_EQ(settings.api, ProviderSettings::Api::anthropic_messages);
  EXPECT_EQ(settings.api_key, "sk-ant-env");
  EXPECT_EQ(settings.base_url, "https://api.anthropic.com");
  env.set("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/");
  EXPECT_EQ(provider_settings_from_env("Anthropic").base_url, "http://127.0.0.1:9");
}

TEST(ProviderSettingsFromEnv, OllamaHostForms) {
  ScopedEnv env;
  clear_provider_environment(env);
  EXPECT_EQ(provider_settings_from_env("ollama").base_url, "http://localhost:11434/v1");
  EXPECT_EQ(provider_settings_from_env("ollama").api_key, "");
  env.set("OLLAMA_HOST", "127.0.0.1:11500");
  EXPECT_EQ(provider_settings_from_env("ollama").base_url, "http://127.0.0.1:11500/v1");
  env.set("OLLAMA_API_BASE", "http://gpu-box:11434/");
  EXPECT_EQ(provider_settings_from_env("ollama").base_url, "http://gpu-box:11434/v1");
  env.set("OLLAMA_API_BASE", "http://gpu-box:11434/v1");
  EXPECT_EQ(provider_settings_from_env("ollama").base_url, "http://gpu-box:11434/v1");
}

TEST(ProviderSettingsFromEnv, DefaultBaseUrls) {
  ScopedEnv env;
  clear_provider_environment(env);
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"openrouter", "https://openrouter.ai/api/v1"},
      {"groq", "https://api.groq.com/openai/v1"},
      {"deepseek", "https://api.deepseek.com/v1"},
      {"mistral", "https://api.mistral.ai/v1"},
      {"gemini", "https://generativelanguage.googleapis.com/v1beta/openai"},
      {"llamacpp", "http://localhost:8080/v1"},
  };
  for (const auto& [provider, url] : defaults) {
    EXPECT_EQ(provider_settings_from_env(provider).base_url, url) << provider;
  }
  env.set("HOSTED_VLLM_API_BASE", "http://vllm:8000/v1");
  env.set("VLLM_API_KEY", "vllm-key");
  for (const char* provider : {"vllm", "hosted_vllm"}) {
    const auto settings = provider_settings_from_env(provider);
    EXPECT_EQ(settings.base_url, "http://vllm:8000/v1") << provider;
    EXPECT_EQ(settings.api_key, "vllm-key") << provider;
  }
  env.set("LITELLM_PROXY_API_BASE", "http://litellm:4000");
  env.set("LITELLM_PROXY_API_KEY", "sk-litellm");
  EXPECT_EQ(provider_settings_from_env("litellm_proxy").base_url, "http://litellm:4000");
  EXPECT_EQ(provider_settings_from_env("litellm_proxy").api_key, "sk-litellm");
}

TEST(ProviderSettingsFromEnv, UnknownProviderListsTheKnownOnes) {
  const auto error = error_of([] { provider_settings_from_env("bedrockx"); });
  EXPECT_EQ(error.kind(), LlmErrorKind::configuration);
  EXPECT_THAT(error.what(), HasSubstr("unknown LLM provider 'bedrockx'"));
  EXPECT_THAT(error.what(), HasSubstr("openai, anthropic, ollama"));
  EXPECT_EQ(error_of([] { make_client("bedrockx", ProviderSettings{}); }).kind(),
            LlmErrorKind::configuration);
}

TEST(ProviderMakeClient, HostedProviderWithoutKeySaysWhichVariableToSet) {
  ScopedEnv env;
  clear_provider_environment(env);
  for (const auto& [provider, variable] :
       std::vector<std::pair<std::string, std::string>>{{"openai", "OPENAI_API_KEY"},
                                                        {"anthropic", "ANTHROPIC_API_KEY"},
                                                        {"openrouter", "OPENROUTER_API_KEY"},
                                                        {"groq", "GROQ_API_KEY"}}) {
    // A lambda cannot capture a structured binding before clang 16 (the sanitizer builds).
    const std::string& name = provider;
    const auto error = error_of([&] { make_client(name, provider_settings_from_env(name)); });
    EXPECT_EQ(error.kind(), LlmErrorKind::configuration) << provider;
    EXPECT_THAT(error.what(), HasSubstr("set " + variable)) << provider;
  }
}

TEST(ProviderMakeClient, LocalServersNeedNoKey) {
  ScopedEnv env;
  clear_provider_environment(env);
  EXPECT_EQ(make_client("ollama", provider_settings_from_env("ollama"))->provider(), "ollama");
  env.set("OPENAI_BASE_URL", "http://127.0.0.1:1/v1");
  EXPECT_EQ(make_client("openai", provider_settings_from_env("openai"))->provider(), "openai")
      << "a custom base URL without a key is a local server";
}

TEST(ProviderMakeClient, BadBaseUrlIsAConfigurationError) {
  ProviderSettings settings;
  settings.base_url = "localhost:11434";
  const auto error = error_of([&] { make_client("ollama", settings); });
  EXPECT_EQ(error.kind(), LlmErrorKind::configuration);
  EXPECT_THAT(error.what(), HasSubstr("OLLAMA_API_BASE"));
}

TEST(ProviderMakeClient, ClientsFromTheEnvironmentTalkToTheServer) {
  FakeLlmServer server;
  server.set_default_reply({.content = "from the fake server"});
  ScopedEnv env;
  clear_provider_environment(env);
  env.set("OPENAI_BASE_URL", server.openai_base_url());
  env.set("OPENAI_API_KEY", "sk-env");
  env.set("ANTHROPIC_BASE_URL", server.anthropic_base_url());
  env.set("OLLAMA_HOST", "127.0.0.1:" + std::to_string(server.port()));

  for (const char* model : {"openai/gpt-4o-mini", "claude-haiku-4-5", "ollama/llama3.2"}) {
    const auto ref = parse_model(model);
    auto settings = provider_settings_from_env(ref.provider);
    settings.http = kagura::test::fast_http_options();
    const auto client = make_client(ref.provider, settings);
    const auto response = client->complete({.model = ref.model, .messages = {Message::user("hi")}});
    EXPECT_EQ(response.content, "from the fake server") << model;
    EXPECT_EQ(response.provider, ref.provider) << model;
    EXPECT_EQ(response.model, ref.model) << model;
  }
  const auto headers = server.request_headers();
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].at("authorization"), "Bearer sk-env");
  EXPECT_TRUE(headers[1].contains("anthropic-version"));
  EXPECT_FALSE(headers[2].contains("authorization"));
}

TEST(LlmErrorKindNames, ToString) {
  EXPECT_EQ(kagura::llm::to_string(LlmErrorKind::network), "network");
  EXPECT_EQ(kagura::llm::to_string(LlmErrorKind::timeout), "timeout");
  EXPECT_EQ(kagura::llm::to_string(LlmErrorKind::http_status), "http_status");
  EXPECT_EQ(kagura::llm::to_string(LlmErrorKind::malformed), "malformed");
  EXPECT_EQ(kagura::llm::to_string(LlmErrorKind::configuration), "configuration");
}

}  // namespace
