// Secrets stay out of everything Kagura writes: an agent run with an API key, secret-looking
// arguments and a database password, then every byte of the store, the spool, the published
// pipeline counters, an export and the command's messages searched for them.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kagura/agent/agent.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/llm/providers.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/fake_llm_server.hpp"
#include "support/test_support.hpp"

namespace kagura::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kSecrets = {
    "sk-live-PROVIDER-KEY-5ecret", "sk-kwarg-APIKEY-5ecret",  "pw-kwarg-PASSWORD-5ecret",
    "tok-kwarg-NESTED-5ecret",     "pw-tool-ARGUMENT-5ecret", "pw-db-CONNECTION-5ecret"};

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "<file>: <secret>" for every secret found in any file under `root`.
std::vector<std::string> secrets_in_files(const fs::path& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string bytes = read_all(entry.path());
    for (const auto& secret : kSecrets) {
      if (bytes.find(secret) != std::string::npos) {
        found.push_back(entry.path().string() + ": " + secret);
      }
    }
  }
  return found;
}

std::vector<std::string> secrets_in_text(const std::string& what, const std::string& text) {
  std::vector<std::string> found;
  for (const auto& secret : kSecrets) {
    if (text.find(secret) != std::string::npos) found.push_back(what + ": " + secret);
  }
  return found;
}

agent::Agent secretive_agent(FakeLlmServer& server,
                             std::shared_ptr<telemetry::Telemetry> telemetry) {
  llm::ProviderSettings settings;
  settings.api = llm::ProviderSettings::Api::openai_chat;
  settings.base_url = server.openai_base_url();
  settings.api_key = kSecrets[0];
  agent::AgentOptions options;
  options.name = "secretive";
  options.prompt = "Log in as {{ user }}";
  options.model = "openai/gpt-4o-mini";
  options.client = llm::make_client("openai", settings);
  options.telemetry = std::move(telemetry);
  options.tools = {
      {.name = "login", .function = [](const nlohmann::json&) -> nlohmann::json { return "ok"; }}};
  return agent::Agent(std::move(options));
}

void run_once(FakeLlmServer& server, const agent::Agent& agent) {
  server.enqueue({.tool_calls = {{"c1", "login",
                                  R"({"user": "ann", "password": ")" + kSecrets[4] + R"("})"}}});
  server.enqueue({.content = "logged in"});
  agent({{"user", "ann"},
         {"api_key", kSecrets[1]},
         {"password", kSecrets[2]},
         {"config", {{"authToken", kSecrets[3]}}}});
}

TEST(Secrets, NeverReachTheStoreTheSpoolThePublishedCountersOrTheMessages) {
  TempDir dir("kagura_secrets");
  FakeLlmServer server;

  // Into a SQLite file, with the pipeline's counters published.
  const fs::path db = dir / "store" / "telemetry.db";
  fs::create_directories(db.parent_path());
  {
    telemetry::TelemetryOptions options;
    options.flush_on_signals = false;
    options.status_directory = dir / "pipelines";
    options.status_interval = std::chrono::milliseconds(20);
    auto telemetry = std::make_shared<telemetry::Telemetry>(
        std::make_shared<storage::SqliteStore>(db.string()), options);
    run_once(server, secretive_agent(server, telemetry));
    ASSERT_TRUE(telemetry->flush());
    EXPECT_EQ(telemetry->stats().written, 1u);
    telemetry->shutdown();
  }

  // Into a PostgreSQL server that does not answer: the execution waits in the spool, and the
  // connection's password is in the configuration, the messages and the counters' location.
  {
    config::TelemetryConfig config;
    config.backend = "postgresql";
    config.connection = "postgresql://kagura:" + kSecrets[5] + "@127.0.0.1:1/telemetry";
    config.pipeline.spool_directory = dir / "spool";
    config.pipeline.spool_retry_min = std::chrono::seconds(60);
    config.status_directory = dir / "pipelines";
    std::shared_ptr<telemetry::Telemetry> telemetry;
    testing::internal::CaptureStderr();
    try {
      telemetry = telemetry::Telemetry::from_config(config);
    } catch (...) {
      testing::internal::GetCapturedStderr();
      throw;
    }
    run_once(server, secretive_agent(server, telemetry));
    telemetry->flush(std::chrono::seconds(20));
    const auto stats = telemetry->stats();
    telemetry->shutdown(std::chrono::seconds(5));
    const std::string notices = testing::internal::GetCapturedStderr();
    EXPECT_EQ(stats.spooled, 1u) << notices;
    EXPECT_NE(notices.find("127.0.0.1"), std::string::npos) << "the notice names the server";
    EXPECT_EQ(secrets_in_text("notices", notices), std::vector<std::string>{}) << notices;
    EXPECT_EQ(secrets_in_text("last_error", stats.last_error), std::vector<std::string>{});
  }
  // The spool holds the execution (so the search below looks at a real one).
  std::string spooled;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "spool")) {
    if (entry.is_regular_file()) spooled += read_all(entry.path());
  }
  EXPECT_NE(spooled.find("\"secretive\""), std::string::npos) << spooled;
  EXPECT_NE(spooled.find("[REDACTED]"), std::string::npos) << spooled;
  ASSERT_FALSE(fs::is_empty(dir / "pipelines"));

  // What was stored is there, without the secrets.
  {
    storage::SqliteStore store(db.string());
    EXPECT_EQ(store.count_executions({}), 1);
  }
  EXPECT_EQ(secrets_in_files(dir.path()), std::vector<std::string>{});

  // Nor in what the command shows, exports or says about a store it cannot reach.
  const EnvChanges env = {{"HOME", dir.path().string()}};
  const auto exported = run_process(
      {kagura_bin(), "monitor", "export", "--format", "json", "--db", db.string()}, env);
  ASSERT_EQ(exported.exit_code(), 0) << exported.err;
  EXPECT_NE(exported.out.find("[REDACTED]"), std::string::npos) << exported.out;
  EXPECT_EQ(secrets_in_text("export", exported.out + exported.err), std::vector<std::string>{});
  const auto unreachable =
      run_process({kagura_bin(), "monitor", "stats", "--backend", "postgresql", "--connection",
                   "postgresql://kagura:" + kSecrets[5] + "@127.0.0.1:1/telemetry"},
                  env);
  EXPECT_NE(unreachable.exit_code(), 0);
  EXPECT_NE(unreachable.err.find("127.0.0.1"), std::string::npos) << unreachable.err;
  EXPECT_EQ(secrets_in_text("stats", unreachable.out + unreachable.err),
            std::vector<std::string>{});
}

}  // namespace
}  // namespace kagura::test
