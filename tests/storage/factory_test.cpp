// Backends by name: the built-in ones, the ones users register in code, and plugins that the
// kagura command loads.

#include "kagura/storage/factory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kagura/config/telemetry_config.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/test_support.hpp"

namespace kagura::storage {
namespace {

using ::testing::HasSubstr;

std::string plugin_path() {
  return test::program_path("KAGURA_STORAGE_PLUGIN", "libkagura_test_storage_plugin.so");
}

telemetry::Execution execution(const std::string& agent) {
  telemetry::Execution e;
  e.id = telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = telemetry::unix_now();
  e.duration = 0.5;
  e.status = telemetry::ExecutionStatus::completed;
  return e;
}

TEST(StorageFactoryTest, SqliteIsTheDefaultAndTheNameIsCaseInsensitive) {
  EXPECT_EQ(create_storage_adapter("", ":memory:")->backend_name(), "sqlite");
  EXPECT_EQ(create_storage_adapter("SQLite", ":memory:")->backend_name(), "sqlite");
}

TEST(StorageFactoryTest, UnknownBackendListsTheKnownOnesAndTheFix) {
  try {
    create_storage_adapter("cassandra", "");
    FAIL() << "expected StorageError";
  } catch (const StorageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("unknown telemetry backend 'cassandra'"));
    EXPECT_THAT(error.what(), HasSubstr("sqlite"));
    EXPECT_THAT(error.what(), HasSubstr("KAGURA_TELEMETRY_BACKEND"));
  }
}

TEST(StorageFactoryTest, ServerBackendsWithoutAConnectionSayWhatToSet) {
  for (const char* backend : {"postgresql", "postgres", "mongodb"}) {
    try {
      create_storage_adapter(backend, "");
      ADD_FAILURE() << backend << " opened without a connection";
    } catch (const StorageError& error) {
      EXPECT_THAT(error.what(), HasSubstr("KAGURA_TELEMETRY_CONNECTION")) << backend;
    }
  }
}

TEST(StorageFactoryTest, AUserBackendWorksWhereverABuiltInOneDoes) {
  int opened = 0;
  register_storage_backend("Team_Store", [&opened](const std::string& connection) {
    ++opened;
    return std::make_shared<SqliteStore>(connection);
  });
  EXPECT_THAT(storage_backends(), ::testing::Contains("team_store"));

  // Through the configuration, as KAGURA_TELEMETRY_BACKEND would select it.
  config::TelemetryConfig config;
  config.backend = "team_store";
  config.connection = ":memory:";
  const auto telemetry = telemetry::Telemetry::from_config(config);
  ASSERT_EQ(opened, 1);
  {
    auto scope = telemetry->collector().track_execution("custom_backed");
    scope.record_tool_call({.tool_name = "lookup"});
  }
  ASSERT_TRUE(telemetry->flush());
  EXPECT_EQ(telemetry->store()->count_executions({}), 1);
  EXPECT_EQ(telemetry->store()->get_executions({}).at(0).agent_name, "custom_backed");
}

TEST(StorageFactoryTest, APluginBackendWorksInTheKaguraCommand) {
  test::TempDir dir("kagura_factory_test");
  const std::string db = (dir.path() / "plugin.db").string();
  {
    SqliteStore store(db);
    store.save_execution(execution("from_plugin"));
    store.save_execution(execution("from_plugin"));
  }
  const auto result = test::run_process({test::kagura_bin(), "monitor", "stats", "--json"},
                                        {{"KAGURA_HOME", dir.path().string()},
                                         {"KAGURA_TELEMETRY_BACKEND", "plugin_sqlite"},
                                         {"KAGURA_TELEMETRY_CONNECTION", "plugin:" + db},
                                         {"KAGURA_STORAGE_PLUGINS", plugin_path()}});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const auto stats = nlohmann::json::parse(result.out);
  EXPECT_EQ(stats.at("total_executions"), 2) << result.out;
}

TEST(StorageFactoryTest, ABadPluginIsAClearErrorOfTheCommand) {
  test::TempDir dir("kagura_factory_test");
  const auto missing =
      test::run_process({test::kagura_bin(), "monitor", "stats"},
                        {{"KAGURA_HOME", dir.path().string()},
                         {"KAGURA_TELEMETRY_BACKEND", "plugin_sqlite"},
                         {"KAGURA_STORAGE_PLUGINS", (dir.path() / "nope.so").string()}});
  EXPECT_NE(missing.exit_code(), 0);
  EXPECT_THAT(missing.err, HasSubstr("cannot load storage plugin"));
  EXPECT_THAT(missing.err, HasSubstr("nope.so"));

  const auto not_a_plugin = test::run_process({test::kagura_bin(), "monitor", "stats"},
                                              {{"KAGURA_HOME", dir.path().string()},
                                               {"KAGURA_TELEMETRY_BACKEND", "plugin_sqlite"},
                                               {"KAGURA_STORAGE_PLUGINS", "libcurl.so.4"}});
  EXPECT_NE(not_a_plugin.exit_code(), 0);
  EXPECT_THAT(not_a_plugin.err, HasSubstr("does not export kagura_register_storage_backends"));
}

}  // namespace
}  // namespace kagura::storage
