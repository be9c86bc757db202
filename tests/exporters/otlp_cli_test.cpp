// The exporter from the command line and the configuration: `kagura monitor export --format
// otlp` to a receiver and to a file, `kagura init --otlp-endpoint`, and a program configured
// through the OTEL_* variables (environment and ~/.kagura/.env).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "cli/monitor_test_support.hpp"
#include "exporters/otlp_json.hpp"
#include "exporters/otlp_receiver.hpp"
#include "kagura/config/env_file.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::test {
namespace {

namespace fs = std::filesystem;
using cli::monitor_test::run_kagura;
using cli::monitor_test::TeamScenario;
using nlohmann::json;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t span_count(const TeamScenario& team) {
  std::size_t count = 0;
  for (const auto& e : team.executions) count += exporters::otlp_span_count(e);
  return count;
}

class OtlpCliTest : public ::testing::Test {
 protected:
  OtlpCliTest() : team(telemetry::unix_now()) {
    storage::SqliteStore store(db.string());
    team.save_to(store);
  }
  TempDir dir{"kagura_otlp_cli"};
  fs::path db = dir / "telemetry.db";
  TeamScenario team;
};

TEST_F(OtlpCliTest, ExportSendsTheStoredExecutionsAsTraces) {
  OtlpReceiver receiver;
  const auto result = run_kagura({"monitor", "export", "--db", db.string(), "--format", "otlp",
                                  "--endpoint", receiver.base_url()},
                                 dir.path());
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const std::size_t expected = span_count(team);
  EXPECT_NE(result.out.find("Sent " + std::to_string(expected) + " spans of " +
                            std::to_string(team.executions.size()) + " executions to " +
                            receiver.traces_url()),
            std::string::npos)
      << result.out;
  const auto spans = receiver.spans();
  EXPECT_EQ(spans.size(), expected);
  EXPECT_EQ(receiver.violations(), std::vector<std::string>{});
  // The nested team is one trace, its spans children of the right ones.
  std::set<std::string> planner_trace;
  for (const auto& span : spans) {
    if (span["traceId"] == team[0].id) planner_trace.insert(span["name"].get<std::string>());
  }
  EXPECT_EQ(
      planner_trace,
      (std::set<std::string>{
          "invoke_agent planner", "invoke_agent researcher", "invoke_agent summarizer",
          "invoke_agent coder", "chat gpt-4o", "chat claude-sonnet-4-5", "chat gpt-4o-mini",
          "execute_tool web_search", "execute_tool fetch_page", "create_memory conversation"}));
  for (const auto& span : spans) {
    if (span["name"] == "invoke_agent summarizer") {
      EXPECT_EQ(span["parentSpanId"], exporters::otlp_span_id(team[1].id));
    }
    if (span["name"] == "execute_tool fetch_page") {
      EXPECT_EQ(span["status"]["code"], 2);
      EXPECT_EQ(span["status"]["message"], "HTTP 404");
    }
    if (span["name"] == "invoke_agent coder") {
      EXPECT_EQ(span["status"]["message"], "SyntaxError in generated code");
      EXPECT_EQ(otlp_attribute(span, "error.type"), json({{"stringValue", "SyntaxError"}}));
    }
    if (span["name"] == "invoke_agent planner") {
      // The custom event rides on its execution's span.
      ASSERT_TRUE(span.contains("events"));
      EXPECT_EQ(span["events"][0]["name"], "checkpoint");
    }
  }

  // Filters apply.
  OtlpReceiver filtered;
  const auto one =
      run_kagura({"monitor", "export", "--db", db.string(), "--format", "otlp", "--endpoint",
                  filtered.traces_url(), "--agent", "translator", "--since", "1d"},
                 dir.path());
  ASSERT_EQ(one.exit_code(), 0) << one.err;
  EXPECT_EQ(filtered.spans().size(), exporters::otlp_span_count(team[4]));
}

TEST_F(OtlpCliTest, ExportRetriesA503AndStopsAtARefusal) {
  OtlpReceiver receiver;
  receiver.fail_next(1, 503);
  auto result = run_kagura({"monitor", "export", "--db", db.string(), "--format", "otlp",
                            "--endpoint", receiver.base_url()},
                           dir.path());
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(receiver.spans().size(), span_count(team));
  EXPECT_EQ(receiver.attempts().size(), 2u);

  OtlpReceiver refusing;
  refusing.fail_next(100, 401, {}, "missing API key");
  result = run_kagura({"monitor", "export", "--db", db.string(), "--format", "otlp", "--endpoint",
                       refusing.base_url()},
                      dir.path());
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_EQ(refusing.attempts().size(), 1u);
  EXPECT_NE(result.err.find("HTTP 401: missing API key"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("OTEL_EXPORTER_OTLP_HEADERS"), std::string::npos) << result.err;
  EXPECT_EQ(cli::monitor_test::count_of(result.err, "\n"), 1u) << "one line: " << result.err;
}

TEST_F(OtlpCliTest, ExportUsesTheConfiguredEndpointAndHeaders) {
  OtlpReceiver receiver;
  const auto result =
      run_kagura({"monitor", "export", "--db", db.string(), "--format", "otlp"}, dir.path(),
                 {{"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url()},
                  {"OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%2C1"},
                  {"OTEL_SERVICE_NAME", "team-agents"}});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  ASSERT_FALSE(receiver.attempts().empty());
  EXPECT_EQ(receiver.attempts()[0].headers.at("x-api-key"), "k,1");
  EXPECT_EQ(otlp_attribute(receiver.spans().at(0)["resource"], "service.name"),
            json({{"stringValue", "team-agents"}}));
}

TEST_F(OtlpCliTest, ExportWritesOneRequestBodyPerLine) {
  const fs::path out = dir / "traces.jsonl";
  const auto result = run_kagura(
      {"monitor", "export", "--db", db.string(), "--format", "otlp", "--output", out.string()},
      dir.path());
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  std::size_t spans = 0;
  std::istringstream lines(read_file(out));
  std::string line;
  std::size_t requests = 0;
  while (std::getline(lines, line)) {
    const auto body = json::parse(line);
    EXPECT_EQ(OtlpReceiver::check_request(body), std::vector<std::string>{});
    for (const auto& rs : body["resourceSpans"]) {
      for (const auto& ss : rs["scopeSpans"]) spans += ss["spans"].size();
    }
    ++requests;
  }
  EXPECT_EQ(requests, 1u);
  EXPECT_EQ(spans, span_count(team));

  // Standard output, and the same ids as a send would use.
  const auto to_stdout = run_kagura(
      {"monitor", "export", "--db", db.string(), "--format", "otlp", "--output", "-"}, dir.path());
  ASSERT_EQ(to_stdout.exit_code(), 0) << to_stdout.err;
  EXPECT_EQ(to_stdout.out, read_file(out));
}

TEST_F(OtlpCliTest, ExportWithNowhereToSendSaysWhatToDo) {
  const auto result =
      run_kagura({"monitor", "export", "--db", db.string(), "--format", "otlp"}, dir.path());
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_NE(result.err.find("--endpoint"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos) << result.err;
  const auto bad = run_kagura({"monitor", "export", "--db", db.string(), "--format", "otlp",
                               "--endpoint", "localhost:4318"},
                              dir.path());
  EXPECT_NE(bad.exit_code(), 0);
  EXPECT_NE(bad.err.find("not an http:// or https:// URL"), std::string::npos) << bad.err;
}

TEST_F(OtlpCliTest, InitSavesTheEndpointAfterCheckingIt) {
  OtlpReceiver receiver;
  const fs::path home = dir / "home";
  fs::create_directories(home);
  auto result = run_kagura({"init", "--otlp-endpoint", receiver.base_url()}, home);
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(result.out.find("OpenTelemetry endpoint answered"), std::string::npos) << result.out;
  ASSERT_EQ(receiver.attempts().size(), 1u) << "init sends one empty request";
  EXPECT_EQ(receiver.violations(), std::vector<std::string>{});
  const auto env = read_file(home / ".kagura" / ".env");
  EXPECT_NE(env.find("OTEL_EXPORTER_OTLP_ENDPOINT=" + receiver.base_url()), std::string::npos)
      << env;
  const auto config = config::load_telemetry_config(
      [](std::string_view) { return std::optional<std::string>(); }, home / ".kagura");
  EXPECT_EQ(config.otlp.endpoint, receiver.traces_url());

  // A traces URL is saved as the traces endpoint, not given /v1/traces twice.
  result = run_kagura({"init", "--force", "--otlp-endpoint", receiver.traces_url()}, home);
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(read_file(home / ".kagura" / ".env")
                .find("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=" + receiver.traces_url()),
            std::string::npos);
  EXPECT_EQ(receiver.attempts().size(), 2u);
}

TEST_F(OtlpCliTest, InitRefusesAMalformedEndpointAndWarnsAboutADownOne) {
  const fs::path home = dir / "home";
  fs::create_directories(home);
  auto result = run_kagura({"init", "--otlp-endpoint", "localhost:4318"}, home);
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_NE(result.err.find("--otlp-endpoint 'localhost:4318' is not an http:// or https:// URL"),
            std::string::npos)
      << result.err;
  EXPECT_FALSE(fs::exists(home / ".kagura" / ".env"));

  int port = 0;
  {
    OtlpReceiver probe;
    port = probe.port();
  }
  const std::string down = "http://127.0.0.1:" + std::to_string(port);
  result = run_kagura({"init", "--otlp-endpoint", down}, home);
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(result.err.find("did not answer"), std::string::npos) << result.err;
  EXPECT_NE(read_file(home / ".kagura" / ".env").find("OTEL_EXPORTER_OTLP_ENDPOINT=" + down),
            std::string::npos);
}

TEST_F(OtlpCliTest, AProgramConfiguredInDotEnvExportsWhatItRecords) {
  OtlpReceiver receiver;
  const fs::path home = dir / "home";
  fs::create_directories(home / ".kagura");
  config::write_env_file(home / ".kagura" / ".env",
                         "OTEL_EXPORTER_OTLP_ENDPOINT=" + receiver.base_url() +
                             "\nOTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20t0ken\n");
  const auto result = run_process({record_helper(), "3", "exit"},
                                  {{"HOME", home.string()}, {"OTEL_SERVICE_NAME", "from-env"}});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const auto spans = receiver.wait_for_spans(6);
  EXPECT_EQ(spans.size(), 6u) << "3 executions of one LLM call each, sent before exit";
  ASSERT_FALSE(receiver.attempts().empty());
  EXPECT_EQ(receiver.attempts()[0].headers.at("authorization"), "Bearer t0ken");
  EXPECT_EQ(otlp_attribute(spans.at(0)["resource"], "service.name"),
            json({{"stringValue", "from-env"}}));
  EXPECT_EQ(receiver.violations(), std::vector<std::string>{});
  // ... and the store has them too.
  storage::SqliteStore store((home / ".kagura" / "telemetry.db").string());
  EXPECT_EQ(store.count_executions({}), 3);
}

// OTEL_* variables may be set for other tools: a mistake there turns the export off, with a
// notice, and never the recording into the store.
TEST_F(OtlpCliTest, AMalformedExportSettingLeavesRecordingOn) {
  const fs::path home = dir / "home";
  const auto result =
      run_process({record_helper(), "4", "exit"},
                  {{"HOME", home.string()}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(result.err.find("OTEL_EXPORTER_OTLP_ENDPOINT='collector:4318' (from environment) is "
                            "not an http:// or https:// URL"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("OpenTelemetry export is off"), std::string::npos) << result.err;
  storage::SqliteStore store((home / ".kagura" / "telemetry.db").string());
  EXPECT_EQ(store.count_executions({}), 4);

  // Sending what is stored needs a usable endpoint: the command says which setting is wrong.
  const auto exported =
      run_process({kagura_bin(), "monitor", "export", "--format", "otlp", "--db", db.string()},
                  {{"HOME", home.string()}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}});
  EXPECT_NE(exported.exit_code(), 0);
  EXPECT_NE(exported.err.find("OTEL_EXPORTER_OTLP_ENDPOINT='collector:4318'"), std::string::npos)
      << exported.err;
}

TEST(OtlpConfig, ReadsTheStandardVariables) {
  TempDir home{"kagura_otlp_config"};
  std::map<std::string, std::string> env;
  const auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_TRUE(config::load_telemetry_config(lookup, home.path()).otlp.endpoint.empty());

  env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector:4318/";
  env["OTEL_EXPORTER_OTLP_HEADERS"] = " api-key = a%3Db%20c ,x-team=ml,";
  env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "2500";
  env["OTEL_SERVICE_NAME"] = "agents";
  auto config = config::load_telemetry_config(lookup, home.path());
  EXPECT_EQ(config.otlp.endpoint, "http://collector:4318/v1/traces");
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(config.otlp.headers, (Headers{{"api-key", "a=b c"}, {"x-team", "ml"}}));
  EXPECT_EQ(config.otlp.timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(config.otlp.service_name, "agents");
  EXPECT_EQ(config.otlp_spool_directory.parent_path(), home.path() / "spool");
  EXPECT_TRUE(config.otlp_spool_directory.filename().string().starts_with("otlp-"));

  env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "https://tempo.example/otlp/v1/traces";
  env["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = "x-team=infra";
  config = config::load_telemetry_config(lookup, home.path());
  EXPECT_EQ(config.otlp.endpoint, "https://tempo.example/otlp/v1/traces") << "used as it is";
  EXPECT_EQ(config.otlp.headers, (Headers{{"api-key", "a=b c"}, {"x-team", "infra"}}));

  env["KAGURA_TELEMETRY_SPOOL"] = "off";
  EXPECT_TRUE(config::load_telemetry_config(lookup, home.path()).otlp_spool_directory.empty());
  env["OTEL_SDK_DISABLED"] = "true";
  EXPECT_TRUE(config::load_telemetry_config(lookup, home.path()).otlp.endpoint.empty());
  env.clear();

  // From .env when the environment does not say.
  home.write(".env", "OTEL_EXPORTER_OTLP_ENDPOINT=http://from-file:4318\nOTEL_SERVICE_NAME=f\n");
  config = config::load_telemetry_config(lookup, home.path());
  EXPECT_EQ(config.otlp.endpoint, "http://from-file:4318/v1/traces");
  EXPECT_EQ(config.otlp.service_name, "f");
  env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://from-env:4318";
  EXPECT_EQ(config::load_telemetry_config(lookup, home.path()).otlp.endpoint,
            "http://from-env:4318/v1/traces");
}

TEST(OtlpConfig, MalformedValuesSayWhichVariableAndHowToFixIt) {
  TempDir home{"kagura_otlp_config"};
  const auto error_for = [&](std::map<std::string, std::string> env) -> std::string {
    env.emplace("KAGURA_TELEMETRY_BACKEND", "postgresql");
    const auto config = config::load_telemetry_config(
        [&](std::string_view name) -> std::optional<std::string> {
          const auto it = env.find(std::string(name));
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        home.path());
    // The export is off; the store's settings stand.
    EXPECT_EQ(config.backend, "postgresql");
    EXPECT_EQ(config.otlp.endpoint, "");
    return config.otlp_problem.empty() ? "no error" : config.otlp_problem;
  };
  auto message = error_for({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}});
  EXPECT_NE(message.find("OTEL_EXPORTER_OTLP_ENDPOINT='collector:4318' (from environment) is not "
                         "an http:// or https:// URL"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("e.g. http://localhost:4318"), std::string::npos) << message;
  message = error_for({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"}});
  EXPECT_NE(message.find("has no host"), std::string::npos) << message;
  message = error_for({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                       {"OTEL_EXPORTER_OTLP_HEADERS", "authorization"}});
  EXPECT_NE(message.find("OTEL_EXPORTER_OTLP_HEADERS (from environment) has 'authorization', "
                         "which is not name=value"),
            std::string::npos)
      << message;
  message = error_for(
      {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_EXPORTER_OTLP_HEADERS", "k=100%"}});
  EXPECT_NE(message.find("%25"), std::string::npos) << message;
  message = error_for(
      {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}});
  EXPECT_NE(message.find("OTEL_EXPORTER_OTLP_TIMEOUT='soon'"), std::string::npos) << message;
  home.write(".env", "OTEL_EXPORTER_OTLP_ENDPOINT=ftp://x\n");
  message = error_for({});
  EXPECT_NE(message.find((home.path() / ".env").string()), std::string::npos)
      << "names the file: " << message;
}

}  // namespace
}  // namespace kagura::test
