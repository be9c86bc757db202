#pragma once

// An agent test's world: a local OpenAI- and Anthropic-compatible server over real HTTP, and
// a telemetry pipeline into an in-memory SQLite store to read back what the agents recorded.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kagura/agent/agent.hpp"
#include "kagura/llm/providers.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/fake_llm_server.hpp"

namespace kagura::test {

class AgentFixture : public ::testing::Test {
 protected:
  AgentFixture()
      : store_(std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory)),
        telemetry_(std::make_shared<telemetry::Telemetry>(store_, quiet_options())) {}

  static telemetry::TelemetryOptions quiet_options() {
    telemetry::TelemetryOptions options;
    options.flush_on_signals = false;
    return options;
  }

  static llm::HttpOptions fast_http() {
    llm::HttpOptions http;
    http.timeout = std::chrono::milliseconds(5000);
    http.max_retries = 2;
    http.initial_backoff = std::chrono::milliseconds(5);
    http.max_backoff = std::chrono::milliseconds(20);
    return http;
  }

  std::shared_ptr<llm::LlmClient> openai_client() {
    llm::ProviderSettings settings;
    settings.api = llm::ProviderSettings::Api::openai_chat;
    settings.base_url = server_.openai_base_url();
    settings.api_key = "sk-test-key";
    settings.http = fast_http();
    return llm::make_client("openai", settings);
  }

  std::shared_ptr<llm::LlmClient> anthropic_client() {
    llm::ProviderSettings settings;
    settings.api = llm::ProviderSettings::Api::anthropic_messages;
    settings.base_url = server_.anthropic_base_url();
    settings.api_key = "sk-ant-test-key";
    settings.http = fast_http();
    return llm::make_client("anthropic", settings);
  }

  // Options wired to the local server and this test's telemetry.
  agent::AgentOptions options(std::string name, std::string prompt,
                              std::string model = "openai/gpt-4o-mini") {
    agent::AgentOptions o;
    o.name = std::move(name);
    o.prompt = std::move(prompt);
    o.model = std::move(model);
    o.client = o.model.starts_with("anthropic/") ? anthropic_client() : openai_client();
    o.telemetry = telemetry_;
    return o;
  }

  // Everything recorded so far, newest first, with events.
  std::vector<telemetry::Execution> recorded() {
    EXPECT_TRUE(telemetry_->flush(std::chrono::seconds(10)));
    storage::ExecutionQuery query;
    query.limit = 1000;
    return store_->get_executions(query);
  }

  template <typename T>
  static std::vector<T> events_of(const telemetry::Execution& e) {
    std::vector<T> out;
    for (const auto& event : e.events) {
      if (const auto* payload = std::get_if<T>(&event.payload)) out.push_back(*payload);
    }
    return out;
  }

  static std::vector<nlohmann::json> custom_events(const telemetry::Execution& e,
                                                   const std::string& type) {
    std::vector<nlohmann::json> out;
    for (const auto& event : e.events) {
      const auto* custom = std::get_if<telemetry::CustomEvent>(&event.payload);
      if (custom != nullptr && custom->type == type) out.push_back(custom->data);
    }
    return out;
  }

  FakeLlmServer server_;
  std::shared_ptr<storage::SqliteStore> store_;
  std::shared_ptr<telemetry::Telemetry> telemetry_;
};

}  // namespace kagura::test
