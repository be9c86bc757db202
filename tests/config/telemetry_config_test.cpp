#include "kagura/config/telemetry_config.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "kagura/config/paths.hpp"
#include "support/test_support.hpp"

namespace kagura::config {
namespace {

using kagura::test::NoticeCapture;
using kagura::test::ScopedEnv;
using kagura::test::TempDir;

constexpr const char* kAllSettings[] = {
    "KAGURA_TELEMETRY_ENABLED",    "KAGURA_TELEMETRY_BACKEND",
    "KAGURA_TELEMETRY_CONNECTION", "KAGURA_TELEMETRY_QUEUE_CAPACITY",
    "KAGURA_TELEMETRY_BATCH_SIZE", "KAGURA_TELEMETRY_FLUSH_INTERVAL_MS",
    "KAGURA_TELEMETRY_OVERFLOW"};

// An environment that holds exactly `values`.
Environment environment_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    if (auto it = values.find(std::string(name)); it != values.end()) return it->second;
    return std::nullopt;
  };
}

class TelemetryConfigTest : public ::testing::Test {
 protected:
  TempDir home{"kagura_config_test"};
  std::string env_path() const { return (home.path() / ".env").string(); }
  void write_env(std::string_view text) { home.write(".env", text); }

  // The message of the ConfigError loading throws, or a failure if it throws none.
  std::string error_of(std::map<std::string, std::string> environment) {
    try {
      load_telemetry_config(environment_of(std::move(environment)), home.path());
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return {};
  }
};

TEST_F(TelemetryConfigTest, DefaultsWithoutEnvironmentOrFile) {
  const auto config = load_telemetry_config(environment_of({}), home.path());
  EXPECT_TRUE(config.enabled);
  EXPECT_EQ(config.backend, "sqlite");
  EXPECT_TRUE(config.connection.empty());
  const pipeline::AsyncWriterOptions defaults;
  EXPECT_EQ(config.pipeline.queue_capacity, defaults.queue_capacity);
  EXPECT_EQ(config.pipeline.queue_capacity, 8192U);
  EXPECT_EQ(config.pipeline.max_batch, 4096U);
  EXPECT_EQ(config.pipeline.flush_interval, std::chrono::milliseconds(200));
  EXPECT_EQ(config.pipeline.overflow, pipeline::OverflowPolicy::drop_newest);
  for (const char* name : kAllSettings) {
    ASSERT_TRUE(config.sources.contains(name)) << name;
    EXPECT_EQ(config.sources.at(name), "default") << name;
  }
}

TEST_F(TelemetryConfigTest, MissingHomeDirectoryIsFine) {
  const auto config = load_telemetry_config(environment_of({}), home.path() / "not-created");
  EXPECT_TRUE(config.enabled);
  EXPECT_FALSE(std::filesystem::exists(home.path() / "not-created"))
      << "reading the configuration creates nothing";
}

TEST_F(TelemetryConfigTest, ValuesFromTheDotenvFile) {
  write_env(
      "# written by kagura init\n"
      "KAGURA_TELEMETRY_ENABLED=false\n"
      "KAGURA_TELEMETRY_BACKEND=SQLite\n"
      "KAGURA_TELEMETRY_CONNECTION=\"/data/kagura/t.db\"\n"
      "KAGURA_TELEMETRY_QUEUE_CAPACITY=100\n"
      "KAGURA_TELEMETRY_BATCH_SIZE=10\n"
      "KAGURA_TELEMETRY_FLUSH_INTERVAL_MS=50\n"
      "export KAGURA_TELEMETRY_OVERFLOW=Block\n"
      "OPENAI_API_KEY=sk-unrelated\n");
  const auto config = load_telemetry_config(environment_of({}), home.path());
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.backend, "sqlite") << "backend names are case-insensitive";
  EXPECT_EQ(config.connection, "/data/kagura/t.db");
  EXPECT_EQ(config.pipeline.queue_capacity, 100U);
  EXPECT_EQ(config.pipeline.max_batch, 10U);
  EXPECT_EQ(config.pipeline.flush_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(config.pipeline.overflow, pipeline::OverflowPolicy::block);
  for (const char* name : kAllSettings) EXPECT_EQ(config.sources.at(name), env_path()) << name;
}

TEST_F(TelemetryConfigTest, EnvironmentOverridesTheDotenvFile) {
  write_env(
      "KAGURA_TELEMETRY_ENABLED=true\n"
      "KAGURA_TELEMETRY_CONNECTION=/from/file.db\n"
      "KAGURA_TELEMETRY_QUEUE_CAPACITY=100\n"
      "KAGURA_TELEMETRY_OVERFLOW=drop_oldest\n");
  const auto config =
      load_telemetry_config(environment_of({{"KAGURA_TELEMETRY_ENABLED", "no"},
                                            {"KAGURA_TELEMETRY_CONNECTION", "/from/env.db"},
                                            {"KAGURA_TELEMETRY_BATCH_SIZE", "7"}}),
                            home.path());
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.connection, "/from/env.db");
  EXPECT_EQ(config.pipeline.queue_capacity, 100U);
  EXPECT_EQ(config.pipeline.max_batch, 7U);
  EXPECT_EQ(config.pipeline.overflow, pipeline::OverflowPolicy::drop_oldest);

  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_ENABLED"), "environment");
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_CONNECTION"), "environment");
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_BATCH_SIZE"), "environment");
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_QUEUE_CAPACITY"), env_path());
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_OVERFLOW"), env_path());
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_BACKEND"), "default");
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_FLUSH_INTERVAL_MS"), "default");
}

TEST_F(TelemetryConfigTest, BooleanSpellings) {
  for (const char* yes : {"1", "true", "TRUE", "yes", "On"}) {
    EXPECT_TRUE(
        load_telemetry_config(environment_of({{"KAGURA_TELEMETRY_ENABLED", yes}}), home.path())
            .enabled)
        << yes;
  }
  for (const char* no : {"0", "false", "False", "no", "OFF"}) {
    EXPECT_FALSE(
        load_telemetry_config(environment_of({{"KAGURA_TELEMETRY_ENABLED", no}}), home.path())
            .enabled)
        << no;
  }
}

TEST_F(TelemetryConfigTest, BadBooleanNamesTheVariableAndItsSource) {
  const std::string from_env = error_of({{"KAGURA_TELEMETRY_ENABLED", "maybe"}});
  EXPECT_NE(from_env.find("KAGURA_TELEMETRY_ENABLED"), std::string::npos) << from_env;
  EXPECT_NE(from_env.find("maybe"), std::string::npos) << from_env;
  EXPECT_NE(from_env.find("environment"), std::string::npos) << from_env;

  write_env("KAGURA_TELEMETRY_ENABLED=sure\n");
  const std::string from_file = error_of({});
  EXPECT_NE(from_file.find("KAGURA_TELEMETRY_ENABLED"), std::string::npos) << from_file;
  EXPECT_NE(from_file.find(env_path()), std::string::npos) << from_file;
}

TEST_F(TelemetryConfigTest, ZeroOrMalformedNumbersNameTheVariableAndItsSource) {
  for (const char* name : {"KAGURA_TELEMETRY_QUEUE_CAPACITY", "KAGURA_TELEMETRY_BATCH_SIZE",
                           "KAGURA_TELEMETRY_FLUSH_INTERVAL_MS"}) {
    for (const char* value : {"0", "-5", "ten", "12abc", ""}) {
      const std::string message = error_of({{name, value}});
      EXPECT_NE(message.find(name), std::string::npos) << name << "=" << value << ": " << message;
      EXPECT_NE(message.find("environment"), std::string::npos) << message;
    }
  }
  write_env("KAGURA_TELEMETRY_QUEUE_CAPACITY=0\n");
  const std::string from_file = error_of({});
  EXPECT_NE(from_file.find("KAGURA_TELEMETRY_QUEUE_CAPACITY"), std::string::npos) << from_file;
  EXPECT_NE(from_file.find(env_path()), std::string::npos) << from_file;
}

TEST_F(TelemetryConfigTest, BadOverflowPolicyNamesTheVariableSourceAndChoices) {
  const std::string from_env = error_of({{"KAGURA_TELEMETRY_OVERFLOW", "sometimes"}});
  EXPECT_NE(from_env.find("KAGURA_TELEMETRY_OVERFLOW"), std::string::npos) << from_env;
  EXPECT_NE(from_env.find("environment"), std::string::npos) << from_env;
  EXPECT_NE(from_env.find("sometimes"), std::string::npos) << from_env;
  EXPECT_NE(from_env.find("drop_newest"), std::string::npos) << from_env;

  write_env("KAGURA_TELEMETRY_OVERFLOW=wait\n");
  const std::string from_file = error_of({});
  EXPECT_NE(from_file.find("KAGURA_TELEMETRY_OVERFLOW"), std::string::npos) << from_file;
  EXPECT_NE(from_file.find(env_path()), std::string::npos) << from_file;
}

TEST_F(TelemetryConfigTest, MalformedDotenvFileIsAConfigErrorNamingFileAndLine) {
  write_env("KAGURA_TELEMETRY_ENABLED=true\nthis is not a setting\n");
  const std::string message = error_of({});
  EXPECT_TRUE(message.starts_with(env_path() + ":2:")) << message;
}

TEST_F(TelemetryConfigTest, UnknownTelemetryKeyInDotenvRaisesANotice) {
  NoticeCapture notices;
  write_env(
      "KAGURA_TELEMETRY_BACKEDN=sqlite\n"
      "KAGURA_TELEMETRY_ENABLED=true\n"
      "OTHER_TOOL_SETTING=1\n");
  const auto config = load_telemetry_config(environment_of({}), home.path());
  EXPECT_TRUE(config.enabled);
  const auto messages = notices.messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_NE(messages[0].find("KAGURA_TELEMETRY_BACKEDN"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find(env_path()), std::string::npos) << messages[0];
}

TEST_F(TelemetryConfigTest, EmptyBackendMeansTheDefault) {
  const auto config =
      load_telemetry_config(environment_of({{"KAGURA_TELEMETRY_BACKEND", ""}}), home.path());
  EXPECT_EQ(config.backend, "sqlite");
}

TEST_F(TelemetryConfigTest, ProcessEnvironmentReadsRealVariables) {
  ScopedEnv env;
  env.set("KAGURA_CONFIG_TEST_VARIABLE", "value 1");
  env.unset("KAGURA_CONFIG_TEST_UNSET");
  const auto environment = process_environment();
  EXPECT_EQ(environment("KAGURA_CONFIG_TEST_VARIABLE"), "value 1");
  EXPECT_EQ(environment("KAGURA_CONFIG_TEST_UNSET"), std::nullopt);
}

TEST(KaguraHomeTest, HonoursKaguraHomeThenHome) {
  ScopedEnv env;
  env.set("KAGURA_HOME", "/opt/kagura-home");
  env.set("HOME", "/home/someone");
  EXPECT_EQ(kagura_home(), std::filesystem::path("/opt/kagura-home"));
  EXPECT_EQ(default_database_path(), std::filesystem::path("/opt/kagura-home/telemetry.db"));

  env.unset("KAGURA_HOME");
  EXPECT_EQ(kagura_home(), std::filesystem::path("/home/someone/.kagura"));
  EXPECT_EQ(default_database_path(), std::filesystem::path("/home/someone/.kagura/telemetry.db"));

  env.set("KAGURA_HOME", "");
  EXPECT_EQ(kagura_home(), std::filesystem::path("/home/someone/.kagura"))
      << "an empty KAGURA_HOME counts as unset";
}

TEST(KaguraHomeTest, NeitherVariableSetIsAConfigError) {
  ScopedEnv env;
  env.unset("KAGURA_HOME");
  env.unset("HOME");
  try {
    kagura_home();
    FAIL() << "no error without HOME";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("HOME"), std::string::npos) << message;
    EXPECT_NE(message.find("KAGURA_HOME"), std::string::npos) << message;
  }
}

TEST(KaguraHomeTest, LoadWithoutArgumentsUsesKaguraHome) {
  TempDir dir("kagura_config_test");
  dir.write(".env", "KAGURA_TELEMETRY_BATCH_SIZE=33\n");
  ScopedEnv env;
  env.set("KAGURA_HOME", dir.path().string());
  for (const char* name : kAllSettings) env.unset(name);
  env.set("KAGURA_TELEMETRY_FLUSH_INTERVAL_MS", "75");
  const auto config = load_telemetry_config();
  EXPECT_EQ(config.pipeline.max_batch, 33U);
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_BATCH_SIZE"), (dir.path() / ".env").string());
  EXPECT_EQ(config.pipeline.flush_interval, std::chrono::milliseconds(75));
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_FLUSH_INTERVAL_MS"), "environment");
}

TEST_F(TelemetryConfigTest, DurableModeIsOffByDefaultAndSetByTheVariable) {
  EXPECT_FALSE(load_telemetry_config(environment_of({}), home.path()).durable);
  EXPECT_TRUE(
      load_telemetry_config(environment_of({{"KAGURA_TELEMETRY_DURABLE", "1"}}), home.path())
          .durable);
  write_env("KAGURA_TELEMETRY_DURABLE=true\n");
  const auto config = load_telemetry_config(environment_of({}), home.path());
  EXPECT_TRUE(config.durable);
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_DURABLE"), env_path());
}

TEST_F(TelemetryConfigTest, BadDurableValueNamesTheVariable) {
  const auto message = error_of({{"KAGURA_TELEMETRY_DURABLE", "always"}});
  EXPECT_NE(message.find("KAGURA_TELEMETRY_DURABLE='always'"), std::string::npos) << message;
  EXPECT_NE(message.find("true or false"), std::string::npos) << message;
}

}  // namespace
}  // namespace kagura::config
