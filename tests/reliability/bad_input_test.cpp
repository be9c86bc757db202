// Bad input: whatever a user, an agent or a server hands over, Kagura answers with a one-line
// error that says what is wrong, where and how to fix it, bounds what it keeps, never crashes,
// and leaves what it had recorded intact.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>

#include "kagura/llm/openai_client.hpp"
#include "kagura/pricing/price_table.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/collector.hpp"
#include "kagura/telemetry/execution.hpp"
#include "kagura/telemetry/ids.hpp"
#include "llm/llm_test_helpers.hpp"
#include "support/fake_llm_server.hpp"
#include "support/test_support.hpp"
#include "telemetry/execution_json.hpp"

namespace {

namespace fs = std::filesystem;
using kagura::llm::ChatRequest;
using kagura::llm::LlmErrorKind;
using kagura::llm::Message;
using kagura::llm::OpenAiClient;
using kagura::telemetry::Collector;
using kagura::telemetry::Execution;
using kagura::telemetry::ExecutionSink;
using kagura::test::error_of;
using kagura::test::FakeLlmServer;
using kagura::test::kagura_bin;
using kagura::test::run_process;
using kagura::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A store with two executions, to check it is intact after a command met bad input.
fs::path seeded_store(const TempDir& dir) {
  const fs::path db = dir / "telemetry.db";
  kagura::storage::SqliteStore store(db.string());
  for (const char* agent : {"first", "second"}) {
    Execution e;
    e.id = kagura::telemetry::new_execution_id();
    e.trace_id = e.id;
    e.agent_name = agent;
    e.status = kagura::telemetry::ExecutionStatus::completed;
    e.started_at = 1'750'000'000.0;
    e.duration = 1.0;
    e.ended_at = e.started_at + 1.0;
    store.save_execution(e);
  }
  return db;
}

std::size_t kagura_error_lines(const std::string& err) {
  std::size_t n = 0;
  for (std::size_t at = err.find("kagura: error:"); at != std::string::npos;
       at = err.find("kagura: error:", at + 1)) {
    ++n;
  }
  return n;
}

// The environment of a CLI child: its own HOME, nothing configured.
kagura::test::EnvChanges home_of(const TempDir& dir) {
  return {{"HOME", dir.path().string()}, {"NO_COLOR", "1"}};
}

// --- Configuration ---------------------------------------------------------------------------

TEST(BadInput, UnknownBackendNamesTheVariableAndTheAcceptedValues) {
  TempDir home("kagura_bad_backend");
  auto env = home_of(home);
  env["KAGURA_TELEMETRY_BACKEND"] = "sqllite";
  const auto result = run_process({kagura_bin(), "monitor", "stats"}, env);
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_FALSE(result.signalled());
  EXPECT_THAT(result.err, HasSubstr("sqllite"));
  EXPECT_THAT(result.err, HasSubstr("sqlite"));
  EXPECT_THAT(result.err, HasSubstr("postgresql"));
  EXPECT_THAT(result.err, HasSubstr("mongodb"));
  EXPECT_EQ(line_count(result.err), 1u) << result.err;
  std::printf("unknown backend: exit %d, %s", result.exit_code(), result.err.c_str());
}

TEST(BadInput, MalformedConnectionStringsFailOnOneLineWithThePasswordMasked) {
  TempDir home("kagura_bad_connection");
  const std::string secret = "s3cr3t-Pa55";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"postgresql", "postgresql://kagura:" + secret + "@127.0.0.1:notaport/kagura"},
      {"postgresql", "postgresql://kagura:" + secret + "@[::1/kagura"},
      {"mongodb", "mongodb://kagura:" + secret + "@127.0.0.1:99999999/kagura"},
      {"mongodb", "mongo://kagura:" + secret + "@127.0.0.1/kagura"},
  };
  for (const auto& [backend, connection] : cases) {
    const auto result = run_process(
        {kagura_bin(), "monitor", "stats", "--backend", backend, "--connection", connection},
        home_of(home));
    EXPECT_NE(result.exit_code(), 0) << connection;
    EXPECT_FALSE(result.signalled()) << connection;
    EXPECT_THAT(result.err, Not(HasSubstr(secret))) << result.err;
    EXPECT_THAT(result.out, Not(HasSubstr(secret)));
    // The MongoDB C driver logs its own parse error to stderr before ours (known, not ours to
    // word): exactly one line is Kagura's error, and it is the last.
    EXPECT_EQ(kagura_error_lines(result.err), 1u) << result.err;
    EXPECT_TRUE(result.err.substr(result.err.rfind('\n', result.err.size() - 2) + 1)
                    .starts_with("kagura: error:"))
        << result.err;
    std::printf("malformed %s connection: exit %d, %s", backend.c_str(), result.exit_code(),
                result.err.c_str());
  }
}

TEST(BadInput, MalformedEnvFileNamesTheFileAndTheLine) {
  TempDir home("kagura_bad_env");
  home.write(".kagura/.env", "KAGURA_TELEMETRY_BACKEND=sqlite\nthis line has no equals sign\n");
  const auto result = run_process({kagura_bin(), "monitor", "stats"}, home_of(home));
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_FALSE(result.signalled());
  EXPECT_THAT(result.err, HasSubstr(".env"));
  EXPECT_THAT(result.err, HasSubstr("2"));
  EXPECT_EQ(line_count(result.err), 1u) << result.err;
  std::printf("malformed .env: exit %d, %s", result.exit_code(), result.err.c_str());
}

// --- A corrupt database file ------------------------------------------------------------------

TEST(BadInput, RandomBytesAsTheDatabaseAreRefusedAndLeftUntouched) {
  TempDir home("kagura_bad_db");
  std::mt19937 random(42);
  std::string bytes(64 * 1024, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random() & 0xFF);
  const fs::path db = home.write("random.db", bytes);
  for (const char* command : {"list", "stats"}) {
    const auto result =
        run_process({kagura_bin(), "monitor", command, "--db", db.string()}, home_of(home));
    EXPECT_NE(result.exit_code(), 0);
    EXPECT_FALSE(result.signalled());
    EXPECT_THAT(result.err, HasSubstr(db.string()));
    EXPECT_THAT(result.err, HasSubstr("not a SQLite database"));
    EXPECT_THAT(result.err, HasSubstr("move the file aside"));
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    std::printf("random-bytes database, monitor %s: exit %d, %s", command, result.exit_code(),
                result.err.c_str());
  }
  EXPECT_EQ(read_file(db), bytes) << "the file is the user's: it must not be changed";
}

TEST(BadInput, ATruncatedDatabaseIsAClearErrorNotACrash) {
  TempDir home("kagura_bad_db");
  const fs::path db = seeded_store(home);
  // A checkpointed file cut in the middle of its pages, as a copy interrupted half way.
  const std::string whole = read_file(db);
  ASSERT_GT(whole.size(), 8192u);
  std::error_code ignored;
  fs::remove(fs::path(db.string() + "-wal"), ignored);
  fs::remove(fs::path(db.string() + "-shm"), ignored);
  {
    std::ofstream out(db, std::ios::binary | std::ios::trunc);
    out << whole.substr(0, whole.size() / 2 + 100);
  }
  const auto result =
      run_process({kagura_bin(), "monitor", "list", "--db", db.string()}, home_of(home));
  EXPECT_FALSE(result.signalled()) << result.err;
  EXPECT_NE(result.exit_code(), 0);
  EXPECT_THAT(result.err, HasSubstr(db.string() + " is damaged"));
  EXPECT_THAT(result.err, HasSubstr("move the file aside"));
  EXPECT_EQ(line_count(result.err), 1u) << result.err;
  std::printf("truncated database (%zu of %zu bytes), monitor list: exit %d, %s",
              whole.size() / 2 + 100, whole.size(), result.exit_code(), result.err.c_str());
}

// --- Agent arguments ---------------------------------------------------------------------------

class KeepingSink final : public ExecutionSink {
 public:
  void submit(std::shared_ptr<const Execution> execution) noexcept override {
    kept.push_back(std::move(execution));
  }
  std::vector<std::shared_ptr<const Execution>> kept;
};

TEST(BadInput, HugeAndInvalidUtf8ArgumentsAreBoundedStoredAndExportedAsValidUtf8) {
  TempDir home("kagura_bad_args");
  auto sink = std::make_shared<KeepingSink>();
  Collector collector(sink, std::make_shared<const kagura::pricing::PriceTable>(
                                kagura::pricing::PriceTable::builtin()));
  const std::string huge(10 * 1024 * 1024, 'x');
  const std::string invalid = "caf\xC3 \xFF\xFE end";
  {
    auto scope = collector.track_execution(
        "bad-input-agent", {{"huge", huge}, {"invalid", invalid}, {"nested", {{"deep", huge}}}});
    scope.record_tool_call({.tool_name = "search", .kwargs = {{"query", huge}, {"bad", invalid}}});
    scope.record_event("note", {{"blob", huge}});
  }
  ASSERT_EQ(sink->kept.size(), 1u);
  const Execution& e = *sink->kept[0];
  const std::string marker = "...[truncated " + std::to_string(huge.size() - 65536) + " bytes]";
  EXPECT_EQ(e.kwargs.at("huge").get<std::string>(), std::string(65536, 'x') + marker);
  EXPECT_EQ(e.kwargs.at("nested").at("deep").get<std::string>(), std::string(65536, 'x') + marker);
  ASSERT_EQ(e.events.size(), 2u);
  const auto& tool = std::get<kagura::telemetry::ToolCall>(e.events[0].payload);
  EXPECT_EQ(tool.kwargs.at("query").get<std::string>().size(), 65536 + marker.size());

  const fs::path db = home / "telemetry.db";
  {
    kagura::storage::SqliteStore store(db.string());
    ASSERT_EQ(store.save_execution(e), 1u);
    const auto back = store.get_execution(e.id);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->kwargs.at("invalid"), "caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD end")
        << "invalid bytes read back as U+FFFD";
  }
  const auto db_size = fs::file_size(db);
  EXPECT_LT(db_size, 2u * 1024 * 1024) << "30 MB of arguments must not reach the store";

  const auto result = run_process(
      {kagura_bin(), "monitor", "export", "--db", db.string(), "--format", "jsonl"}, home_of(home));
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_TRUE(kagura::telemetry::detail::is_valid_utf8(result.out)) << "the export is valid UTF-8";
  const auto exported = nlohmann::json::parse(result.out.substr(0, result.out.find('\n')));
  EXPECT_EQ(exported.at("agent_name"), "bad-input-agent");
  EXPECT_LT(result.out.size(), 1024u * 1024);
  std::printf(
      "arguments: 3 x 10 MiB values cut to %zu bytes each, invalid UTF-8 replaced; "
      "database %ju bytes, export %zu bytes\n",
      65536 + marker.size(), static_cast<std::uintmax_t>(db_size), result.out.size());
}

// --- Hostile LLM servers ------------------------------------------------------------------------

ChatRequest hello(bool stream = false) {
  ChatRequest request{.model = "gpt-4o", .messages = {Message::user("hi")}};
  request.stream = stream;
  return request;
}

TEST(BadInput, A50MegabyteAnswerIsRefusedWithABound) {
  FakeLlmServer server;
  server.enqueue({.raw_body = "{\"choices\":[{\"message\":{\"content\":\"" +
                              std::string(50 * 1024 * 1024, 'a') + "\"}}]}"});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto error = error_of([&] { client.complete(hello()); });
  EXPECT_EQ(error.kind(), LlmErrorKind::malformed);
  EXPECT_THAT(error.what(), HasSubstr("larger than 32 MiB"));
  EXPECT_THAT(error.what(), HasSubstr("base URL"));
  std::printf("50 MiB answer: %s\n", error.what());
}

TEST(BadInput, A20MegabyteStreamLineAndAStreamWithoutLineEndsAreRefused) {
  for (const std::string& body :
       {"data: {\"x\":\"" + std::string(20 * 1024 * 1024, 'a') + "\"}\n\n",
        std::string(20 * 1024 * 1024, 'a')}) {
    FakeLlmServer server;
    server.enqueue({.raw_body = body});
    OpenAiClient client(kagura::test::openai_settings(server));
    const auto error = error_of([&] { client.complete(hello(true)); });
    EXPECT_EQ(error.kind(), LlmErrorKind::malformed);
    EXPECT_THAT(error.what(), HasSubstr("larger than 16 MiB"));
    std::printf("20 MiB stream line: %s\n", error.what());
  }
}

TEST(BadInput, DeeplyNestedWrongTypedAndNegativeAnswersAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"deeply nested", std::string(100000, '[') + std::string(100000, ']')},
      {"usage of the wrong type",
       R"({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],)"
       R"("usage":{"prompt_tokens":"ten","completion_tokens":[]}})"},
      {"negative token counts",
       R"({"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],)"
       R"("usage":{"prompt_tokens":-5,"completion_tokens":-1000000}})"},
  };
  for (const auto& [what, body] : bodies) {
    FakeLlmServer server;
    server.enqueue({.raw_body = body});
    OpenAiClient client(kagura::test::openai_settings(server));
    try {
      const auto response = client.complete(hello());
      // Accepted: then no count is negative, so no cost or total goes below zero.
      EXPECT_GE(response.usage.prompt_tokens, 0) << what;
      EXPECT_GE(response.usage.completion_tokens, 0) << what;
      std::printf("%s: accepted, usage %lld/%lld\n", what.c_str(),
                  static_cast<long long>(response.usage.prompt_tokens),
                  static_cast<long long>(response.usage.completion_tokens));
    } catch (const kagura::llm::LlmError& error) {
      EXPECT_EQ(error.kind(), LlmErrorKind::malformed) << what;
      EXPECT_LT(std::string(error.what()).size(), 2000u) << "the message quotes a bounded prefix";
      std::printf("%s: %s\n", what.c_str(), error.what());
    }
  }
}

TEST(BadInput, AStreamEndingWithoutDoneIsHandled) {
  FakeLlmServer server;
  server.enqueue({.raw_body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
                              "\"finish_reason\":\"stop\"}]}\n\n"});
  OpenAiClient client(kagura::test::openai_settings(server));
  const auto response = client.complete(hello(true));
  EXPECT_EQ(response.content, "Hi") << "a stream with its finish_reason but no [DONE] is whole";
}

}  // namespace
