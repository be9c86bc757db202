// `kagura init` as users run it: the real binary in a child process with a HOME of its own,
// against SQLite files and the servers of the postgres_server and mongodb_server fixtures.
// Also the first use without init, and the .env writer the command uses.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kagura/config/dotenv.hpp"
#include "kagura/config/env_file.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/storage/mongodb_store.hpp"
#include "kagura/storage/postgres_store.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/mongodb_test_server.hpp"
#include "support/postgres_test_server.hpp"
#include "support/test_support.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;
using kagura::test::EnvChanges;
using kagura::test::ProcessResult;
using kagura::test::TempDir;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

telemetry::Execution make_execution(const std::string& agent, double started_at) {
  telemetry::Execution e;
  e.id = telemetry::new_execution_id();
  e.trace_id = e.id;
  e.agent_name = agent;
  e.started_at = started_at;
  e.duration = 0.5;
  e.ended_at = started_at + 0.5;
  e.status = telemetry::ExecutionStatus::completed;
  return e;
}

// The configuration a program would load from `home`, with nothing set in its environment.
config::TelemetryConfig configuration_in(const fs::path& home) {
  return config::load_telemetry_config([](std::string_view) { return std::nullopt; }, home);
}

// The password of a postgresql://user:password@host/... URI.
std::string password_in(const std::string& url) {
  const auto colon = url.find(':', url.find("://") + 3);
  return url.substr(colon + 1, url.find('@') - colon - 1);
}

std::string with_password(const std::string& url, const std::string& password) {
  const auto colon = url.find(':', url.find("://") + 3);
  return url.substr(0, colon + 1) + password + url.substr(url.find('@'));
}

class InitCliTest : public ::testing::Test {
 protected:
  InitCliTest() { fs::create_directories(home()); }

  fs::path home() const { return dir.path() / "home"; }
  fs::path kagura_dir() const { return home() / ".kagura"; }
  fs::path env_file() const { return kagura_dir() / ".env"; }
  fs::path default_db() const { return kagura_dir() / "telemetry.db"; }

  ProcessResult kagura(std::vector<std::string> args, EnvChanges env = {}) const {
    args.insert(args.begin(), kagura::test::kagura_bin());
    env.emplace("HOME", home().string());
    return kagura::test::run_process(args, env);
  }

  nlohmann::json stats_json(EnvChanges env = {}) const {
    const ProcessResult result = kagura({"monitor", "stats", "--json"}, env);
    EXPECT_EQ(result.exit_code(), 0) << result.err;
    try {
      return nlohmann::json::parse(result.out);
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << result.out << result.err;
      return {};
    }
  }

  // Only what init means to leave: no temporary file next to the .env.
  std::vector<std::string> files_in_kagura_dir() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(kagura_dir())) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with("telemetry.db")) names.push_back(name);
    }
    return names;
  }

  TempDir dir{"kagura_init_test"};
};

TEST_F(InitCliTest, SqliteInAFreshHomeCreatesTheDirectoryEnvAndDatabase) {
  const ProcessResult result = kagura({"init"});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_EQ(result.err, "");
  const std::string& out = result.out;
  EXPECT_TRUE(contains(out, "✓ Created " + kagura_dir().string() + "\n")) << out;
  EXPECT_TRUE(contains(out, "✓ Database initialized")) << out;
  EXPECT_TRUE(contains(out, default_db().string() + " (0 executions stored)")) << out;
  EXPECT_TRUE(contains(out, "✓ Created " + env_file().string())) << out;
  EXPECT_TRUE(contains(out, "✓ Kagura initialization complete!")) << out;
  EXPECT_TRUE(contains(out, "Next steps")) << out;
  EXPECT_TRUE(contains(out, "kagura monitor stats")) << out;
  EXPECT_FALSE(contains(out, "\x1b[")) << "no colour when not on a terminal";

  ASSERT_TRUE(fs::is_directory(kagura_dir()));
  ASSERT_TRUE(fs::is_regular_file(env_file()));
  EXPECT_EQ(mode_of(env_file()), 0600U) << "readable by its owner only";
  const std::string env = read_file(env_file());
  EXPECT_TRUE(env.starts_with("# Kagura AI Configuration\n# Auto-generated by: kagura init\n"))
      << env;
  EXPECT_TRUE(contains(env, "\nKAGURA_TELEMETRY_BACKEND=sqlite\n")) << env;
  EXPECT_FALSE(contains(env, "KAGURA_TELEMETRY_CONNECTION"))
      << "the default path follows ~/.kagura: " << env;
  EXPECT_EQ(files_in_kagura_dir(), std::vector<std::string>{".env"});

  const auto config = configuration_in(kagura_dir());
  EXPECT_EQ(config.backend, "sqlite");
  EXPECT_EQ(config.sources.at("KAGURA_TELEMETRY_BACKEND"), env_file().string());

  // The database exists, has the current schema and answers, to the library and the monitor.
  ASSERT_TRUE(fs::exists(default_db()));
  storage::SqliteStore store(default_db().string());
  EXPECT_EQ(store.schema_version(), storage::SqliteStore::kSchemaVersion);
  EXPECT_EQ(store.count_executions({}), 0);
  EXPECT_EQ(stats_json()["total_executions"], 0);
}

TEST_F(InitCliTest, AnExistingConfigurationIsLeftUnchangedWithoutForce) {
  ASSERT_EQ(kagura({"init"}).exit_code(), 0);
  const std::string edited =
      "# mine\nKAGURA_TELEMETRY_BACKEND=sqlite\nKAGURA_TELEMETRY_BATCH_SIZE=7\n";
  { std::ofstream(env_file(), std::ios::binary | std::ios::trunc) << edited; }
  fs::permissions(env_file(),
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"init"},
        std::vector<std::string>{"init", "--backend", "sqlite", "--connection",
                                 (dir.path() / "other.db").string()}}) {
    const ProcessResult result = kagura(args);
    EXPECT_EQ(result.exit_code(), 1) << result.out << result.err;
    const auto lines = lines_of(result.err);
    ASSERT_EQ(lines.size(), 1U) << result.err;
    EXPECT_TRUE(contains(lines[0], "already exists")) << lines[0];
    EXPECT_TRUE(contains(lines[0], env_file().string())) << lines[0];
    EXPECT_TRUE(contains(lines[0], "--force")) << lines[0];
    EXPECT_FALSE(contains(result.out, "Database initialized")) << result.out;
    EXPECT_EQ(read_file(env_file()), edited) << "byte for byte";
    EXPECT_EQ(mode_of(env_file()), 0640U) << "not even its mode changes";
  }
  EXPECT_FALSE(fs::exists(dir.path() / "other.db"));
}

TEST_F(InitCliTest, ForceRewritesTheEnvAndKeepsTheRecordedExecutions) {
  ASSERT_EQ(kagura({"init"}).exit_code(), 0);
  {
    storage::SqliteStore store(default_db().string());
    const double now = telemetry::unix_now();
    for (int i = 0; i < 3; ++i) store.save_execution(make_execution("kept", now - i));
  }
  { std::ofstream(env_file(), std::ios::binary | std::ios::trunc) << "OLD CONTENT"; }
  fs::permissions(env_file(), fs::perms::owner_read | fs::perms::owner_write |
                                  fs::perms::group_read | fs::perms::others_read);

  const ProcessResult result = kagura({"init", "--force"});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "(3 executions stored)")) << result.out;
  EXPECT_TRUE(contains(result.out, "✓ Overwrote " + env_file().string())) << result.out;
  const std::string env = read_file(env_file());
  EXPECT_FALSE(contains(env, "OLD CONTENT")) << env;
  EXPECT_TRUE(contains(env, "KAGURA_TELEMETRY_BACKEND=sqlite\n")) << env;
  EXPECT_EQ(mode_of(env_file()), 0600U);
  EXPECT_EQ(files_in_kagura_dir(), std::vector<std::string>{".env"});

  storage::SqliteStore store(default_db().string());
  EXPECT_EQ(store.count_executions({}), 3) << "initialising is not clearing";
  EXPECT_EQ(stats_json()["total_executions"], 3);
}

TEST_F(InitCliTest, SqliteConnectionIsSavedSoThatItReadsBackUnchanged) {
  // A " #" would start a comment in a bare .env value.
  const fs::path db = dir.path() / "team data #1" / "store.db";
  const ProcessResult result = kagura({"init", "--backend", "SQLite", "--connection", db.string()});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, db.string())) << result.out;
  ASSERT_TRUE(fs::exists(db));
  EXPECT_FALSE(fs::exists(default_db()));

  const auto config = configuration_in(kagura_dir());
  EXPECT_EQ(config.backend, "sqlite");
  EXPECT_EQ(config.connection, db.string());
  EXPECT_TRUE(contains(read_file(env_file()), "KAGURA_TELEMETRY_BACKEND=sqlite\n"));

  // Programs and the monitor, with no option, now use that file.
  {
    storage::SqliteStore store(db.string());
    store.save_execution(make_execution("configured", telemetry::unix_now()));
  }
  EXPECT_EQ(stats_json()["total_executions"], 1);
}

TEST_F(InitCliTest, KaguraHomeMovesTheConfiguration) {
  const fs::path custom = dir.path() / "elsewhere";
  const ProcessResult result = kagura({"init"}, {{"KAGURA_HOME", custom.string()}});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(fs::is_regular_file(custom / ".env"));
  EXPECT_TRUE(fs::exists(custom / "telemetry.db"));
  EXPECT_FALSE(fs::exists(kagura_dir()));
}

TEST_F(InitCliTest, MemoryConnectionIsRefused) {
  const ProcessResult result = kagura({"init", "--connection", ":memory:"});
  EXPECT_EQ(result.exit_code(), 1);
  ASSERT_EQ(lines_of(result.err).size(), 1U) << result.err;
  EXPECT_TRUE(contains(result.err, ":memory:")) << result.err;
  EXPECT_FALSE(fs::exists(kagura_dir()));
}

TEST_F(InitCliTest, ServerBackendsNeedAConnection) {
  for (const auto& [backend, example] :
       std::vector<std::pair<std::string, std::string>>{{"postgresql", "postgresql://"},
                                                        {"postgres", "postgresql://"},
                                                        {"mongodb", "mongodb://"},
                                                        {"mongo", "mongodb://"}}) {
    const ProcessResult result = kagura({"init", "--backend", backend});
    EXPECT_EQ(result.exit_code(), 1) << backend;
    EXPECT_EQ(result.out, "") << backend;
    const auto lines = lines_of(result.err);
    ASSERT_EQ(lines.size(), 1U) << result.err;
    EXPECT_TRUE(contains(lines[0], "--connection")) << lines[0];
    EXPECT_TRUE(contains(lines[0], example)) << lines[0];
    EXPECT_FALSE(fs::exists(kagura_dir())) << backend;
  }
}

TEST_F(InitCliTest, UnknownBackendListsTheKnownOnes) {
  const ProcessResult result =
      kagura({"init", "--backend", "cassandra", "--connection", "cassandra://x"});
  EXPECT_EQ(result.exit_code(), 1);
  EXPECT_EQ(result.out, "");
  const auto lines = lines_of(result.err);
  ASSERT_EQ(lines.size(), 1U) << result.err;
  for (const char* part : {"'cassandra'", "sqlite", "postgresql", "mongodb", "--backend"}) {
    EXPECT_TRUE(contains(lines[0], part)) << part << ": " << lines[0];
  }
  EXPECT_FALSE(fs::exists(kagura_dir()));
}

TEST_F(InitCliTest, PluginBackendFromKaguraStoragePlugins) {
  const std::string plugin =
      kagura::test::program_path("KAGURA_STORAGE_PLUGIN", "libkagura_test_storage_plugin.so");
  const fs::path db = dir.path() / "plugin.db";
  const ProcessResult result =
      kagura({"init", "--backend", "plugin_sqlite", "--connection", "plugin:" + db.string()},
             {{"KAGURA_STORAGE_PLUGINS", plugin}});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(fs::exists(db));
  EXPECT_TRUE(contains(result.out, "KAGURA_STORAGE_PLUGINS=" + plugin))
      << "says what programs need to find the backend: " << result.out;
  const auto config = configuration_in(kagura_dir());
  EXPECT_EQ(config.backend, "plugin_sqlite");
  EXPECT_EQ(config.connection, "plugin:" + db.string());

  // Without the plugin the name is unknown, and the error says where plugins come from.
  const ProcessResult unknown = kagura(
      {"init", "--force", "--backend", "plugin_sqlite", "--connection", "plugin:" + db.string()});
  EXPECT_EQ(unknown.exit_code(), 1);
  EXPECT_TRUE(contains(unknown.err, "KAGURA_STORAGE_PLUGINS")) << unknown.err;
}

TEST_F(InitCliTest, EnvironmentVariablesThatOverrideTheEnvAreReported) {
  const ProcessResult result = kagura({"init"}, {{"KAGURA_TELEMETRY_BACKEND", "postgresql"}});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  const auto lines = lines_of(result.err);
  ASSERT_EQ(lines.size(), 1U) << result.err;
  EXPECT_TRUE(contains(lines[0], "KAGURA_TELEMETRY_BACKEND")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "overrides")) << lines[0];
}

TEST_F(InitCliTest, PostgresqlAgainstTheFixtureServer) {
  kagura::test::PostgresSchema schema;
  const std::string url = schema.url();
  const ProcessResult result = kagura({"init", "--backend", "postgresql", "--connection", url});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "✓ Database initialized: postgresql")) << result.out;
  EXPECT_TRUE(contains(result.out, "(0 executions stored)")) << result.out;
  EXPECT_TRUE(contains(result.out, "✓ Kagura initialization complete!")) << result.out;
  EXPECT_FALSE(contains(result.out + result.err, password_in(url)))
      << "the password is never printed: " << result.out;

  const std::string env = read_file(env_file());
  EXPECT_TRUE(contains(env, "\nKAGURA_TELEMETRY_BACKEND=postgresql\n")) << env;
  EXPECT_TRUE(contains(env, "\nKAGURA_TELEMETRY_CONNECTION=" + url + "\n")) << env;
  EXPECT_EQ(mode_of(env_file()), 0600U) << "it holds the password";
  EXPECT_FALSE(fs::exists(default_db())) << "no SQLite store on the side";

  // init created the schema; the monitor, with no option, reads the server through the .env.
  storage::PostgresStore store(url);
  EXPECT_EQ(store.schema_version(), storage::PostgresStore::kSchemaVersion);
  EXPECT_EQ(stats_json()["total_executions"], 0);
  store.save_execution(make_execution("on_postgres", telemetry::unix_now()));
  const auto stats = stats_json();
  EXPECT_EQ(stats["total_executions"], 1);
  EXPECT_EQ(stats["completed"], 1);
  const ProcessResult list = kagura({"monitor", "list"});
  ASSERT_EQ(list.exit_code(), 0) << list.err;
  EXPECT_TRUE(contains(list.out, "on_postgres")) << list.out;
}

TEST_F(InitCliTest, PostgresAliasIsSavedUnderTheBackendsName) {
  kagura::test::PostgresSchema schema;
  const ProcessResult result =
      kagura({"init", "--backend", "postgres", "--connection", schema.url()});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  const auto config = configuration_in(kagura_dir());
  EXPECT_EQ(config.backend, "postgresql");
  EXPECT_EQ(config.connection, schema.url());
}

TEST_F(InitCliTest, MongodbAgainstTheFixtureServer) {
  const std::string uri = kagura::test::with_database(kagura::test::mongodb_server_uri(),
                                                      kagura::test::fresh_mongodb_database());
  const ProcessResult result = kagura({"init", "--backend", "mongo", "--connection", uri});
  ASSERT_EQ(result.exit_code(), 0) << result.out << result.err;
  EXPECT_TRUE(contains(result.out, "✓ Database initialized: mongodb")) << result.out;
  const auto config = configuration_in(kagura_dir());
  EXPECT_EQ(config.backend, "mongodb");
  EXPECT_EQ(config.connection, uri);

  storage::MongoStore store(uri);
  EXPECT_EQ(stats_json()["total_executions"], 0);
  store.save_execution(make_execution("on_mongodb", telemetry::unix_now()));
  EXPECT_EQ(stats_json()["total_executions"], 1);
  store.drop_database();
}

TEST_F(InitCliTest, WrongPasswordFailsMaskedAndSavesNothing) {
  kagura::test::PostgresSchema schema;
  const std::string wrong = "Wrong-Secret-4711";
  const std::string url = with_password(schema.url(), wrong);
  const ProcessResult result = kagura({"init", "--backend", "postgresql", "--connection", url});
  EXPECT_EQ(result.exit_code(), 1) << result.out;
  ASSERT_EQ(lines_of(result.err).size(), 1U) << result.err;
  EXPECT_TRUE(result.err.starts_with("✗ Database initialization failed: ")) << result.err;
  EXPECT_TRUE(contains(result.err, "password")) << "says what is wrong: " << result.err;
  EXPECT_TRUE(contains(result.err, "--connection")) << "and what to correct: " << result.err;
  EXPECT_TRUE(contains(result.err, "nothing was written to " + env_file().string())) << result.err;
  EXPECT_TRUE(contains(result.err, "***")) << result.err;
  EXPECT_FALSE(contains(result.out + result.err, wrong)) << result.out << result.err;
  EXPECT_FALSE(contains(result.out, "complete")) << result.out;
  EXPECT_FALSE(fs::exists(env_file()));
  EXPECT_FALSE(fs::exists(kagura_dir())) << "a directory made for nothing is removed";
}

TEST_F(InitCliTest, UnreachableServerFailsAndKeepsTheWorkingConfiguration) {
  ASSERT_EQ(kagura({"init"}).exit_code(), 0);
  const std::string before = read_file(env_file());
  const std::string secret = "Unreachable-Secret-99";
  const std::string url = "postgresql://kagura:" + secret + "@127.0.0.1:1/kagura";
  const ProcessResult result =
      kagura({"init", "--force", "--backend", "postgresql", "--connection", url});
  EXPECT_EQ(result.exit_code(), 1) << result.out;
  ASSERT_EQ(lines_of(result.err).size(), 1U) << result.err;
  EXPECT_TRUE(result.err.starts_with("✗ Database initialization failed: ")) << result.err;
  EXPECT_TRUE(contains(result.err, "127.0.0.1")) << "names the server: " << result.err;
  EXPECT_FALSE(contains(result.out + result.err, secret)) << result.out << result.err;
  EXPECT_EQ(read_file(env_file()), before) << "a broken configuration is never saved";
  EXPECT_TRUE(fs::exists(default_db())) << "the directory was there before, and stays";
}

// The library initialises SQLite by itself when a program records before anyone ran init.
TEST_F(InitCliTest, FirstUseWithoutInitRecordsToSqliteAndTheMonitorReadsIt) {
  constexpr int kCount = 7;
  const ProcessResult recorded = kagura::test::run_process(
      {kagura::test::record_helper(), std::to_string(kCount), "exit"}, {{"HOME", home().string()}});
  ASSERT_EQ(recorded.exit_code(), 0) << recorded.err;
  const auto notice = lines_of(recorded.err);
  ASSERT_EQ(notice.size(), 1U) << recorded.err;
  EXPECT_TRUE(contains(notice[0], "kagura init")) << "points to kagura init: " << notice[0];
  ASSERT_TRUE(fs::exists(default_db()));
  EXPECT_FALSE(fs::exists(env_file())) << "first use writes no configuration";

  const auto stats = stats_json();
  EXPECT_EQ(stats["total_executions"], kCount);
  EXPECT_EQ(stats["llm_calls"], kCount);

  // init afterwards is not refused (there is no configuration yet) and keeps what was recorded.
  const ProcessResult init = kagura({"init"});
  ASSERT_EQ(init.exit_code(), 0) << init.out << init.err;
  EXPECT_TRUE(contains(init.out, "✓ Found " + kagura_dir().string())) << init.out;
  EXPECT_TRUE(contains(init.out, "(7 executions stored)")) << init.out;
  EXPECT_EQ(stats_json()["total_executions"], kCount);
}

TEST(EnvFileTest, ValuesReadBackUnchanged) {
  for (const std::string value :
       {"", "sqlite", "postgresql://u:p@h:5432/db?options=-csearch_path%3Ds", "/a b/c.db",
        "/data/team #1/x.db", " leading", "trailing ", "\"quoted\"", "'single'",
        "back\\slash \"and\" quote #", "tab\there", "line\nbreak", "#hash-first", "a=b=c"}) {
    const std::string text = "KEY=" + config::format_dotenv_value(value) + "\n";
    const auto parsed = config::parse_dotenv(text, "test");
    ASSERT_EQ(parsed.count("KEY"), 1U) << text;
    EXPECT_EQ(parsed.at("KEY"), value) << text;
  }
  EXPECT_EQ(config::format_dotenv_value("sqlite"), "sqlite") << "bare when it can be";
}

TEST(EnvFileTest, WritesAtomicallyWithOwnerOnlyMode) {
  TempDir dir("kagura_env_file_test");
  const fs::path path = dir / ".env";
  { std::ofstream(path) << "OLD=1\n"; }
  fs::permissions(path, fs::perms::all);
  config::write_env_file(path, "NEW=2\n");
  EXPECT_EQ(read_file(path), "NEW=2\n");
  EXPECT_EQ(mode_of(path), 0600U);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1U) << "no temporary file left";

  const fs::path nowhere = dir / "missing-dir" / ".env";
  try {
    config::write_env_file(nowhere, "X=1\n");
    ADD_FAILURE() << "writing into a missing directory succeeded";
  } catch (const config::ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), nowhere.string())) << e.what();
  }
  EXPECT_FALSE(fs::exists(nowhere));
}

}  // namespace
}  // namespace kagura::cli
