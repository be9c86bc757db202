#pragma once

// Settings that point the LLM clients at a FakeLlmServer, with timeouts and backoffs short
// enough for tests.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "kagura/llm/providers.hpp"
#include "support/fake_llm_server.hpp"

namespace kagura::test {

inline llm::HttpOptions fast_http_options() {
  llm::HttpOptions options;
  options.connect_timeout = std::chrono::milliseconds(2'000);
  options.timeout = std::chrono::milliseconds(5'000);
  options.max_retries = 2;
  options.initial_backoff = std::chrono::milliseconds(10);
  options.max_backoff = std::chrono::milliseconds(50);
  return options;
}

inline llm::ProviderSettings openai_settings(const FakeLlmServer& server,
                                             std::string key = "sk-test-key") {
  llm::ProviderSettings settings;
  settings.api = llm::ProviderSettings::Api::openai_chat;
  settings.base_url = server.openai_base_url();
  settings.api_key = std::move(key);
  settings.http = fast_http_options();
  return settings;
}

inline llm::ProviderSettings anthropic_settings(const FakeLlmServer& server,
                                                std::string key = "sk-ant-test-key") {
  llm::ProviderSettings settings;
  settings.api = llm::ProviderSettings::Api::anthropic_messages;
  settings.base_url = server.anthropic_base_url();
  settings.api_key = std::move(key);
  settings.http = fast_http_options();
  return settings;
}

inline double seconds_between(std::chrono::steady_clock::time_point start,
                              std::chrono::steady_clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// A tool the model may call, the same in every client test.
inline llm::ToolSpec weather_tool() {
  return {"get_weather", "The current weather in a city",
          nlohmann::json{{"type", "object"},
                         {"properties", {{"city", {{"type", "string"}}}}},
                         {"required", nlohmann::json::array({"city"})}}};
}

// The LlmError that `call` throws; fails the test when it throws none.
template <typename Call>
llm::LlmError error_of(Call&& call) {
  try {
    call();
  } catch (const llm::LlmError& error) {
    return error;
  }
  ADD_FAILURE() << "no LlmError was thrown";
  return llm::LlmError(llm::LlmErrorKind::network, "none");
}

}  // namespace kagura::test
