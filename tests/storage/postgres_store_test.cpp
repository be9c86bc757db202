// The PostgreSQL store's own behaviour, against a real server: what the conformance suite does
// not cover (messages, schema versions, reconnecting after the server restarts).

#include "kagura/storage/postgres_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <vector>

#include "support/postgres_test_server.hpp"
#include "support/record_expectations.hpp"
#include "support/test_support.hpp"

namespace kagura::storage {
namespace {

using telemetry::Execution;
using telemetry::ExecutionStatus;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<Execution> make_executions(int count, std::uint64_t first_id) {
  std::vector<Execution> result;
  for (int i = 0; i < count; ++i) {
    Execution e;
    char id[33];
    std::snprintf(id, sizeof id, "0193%028llx",
                  static_cast<unsigned long long>(first_id + static_cast<std::uint64_t>(i)));
    e.id = id;
    e.trace_id = e.id;
    e.agent_name = i % 2 == 0 ? "even" : "odd";
    e.status = ExecutionStatus::completed;
    e.started_at = 1700000000.0 + i * 10.0;
    e.duration = 0.5 + i;
    e.ended_at = e.started_at + *e.duration;
    telemetry::LlmCall call;
    call.model = "gpt-4o";
    call.prompt_tokens = 100;
    call.completion_tokens = 10;
    call.cost_nanos = 1000 + i;
    e.metrics.add(call);
    e.events.push_back({e.started_at + 0.1, call});
    result.push_back(std::move(e));
  }
  return result;
}

std::size_t save_all(StorageAdapter& store, const std::vector<Execution>& executions) {
  std::vector<const Execution*> batch;
  for (const auto& e : executions) batch.push_back(&e);
  return store.save_executions(batch);
}

// The password in a postgresql:// URI.
std::string password_of(const std::string& url) {
  std::smatch match;
  EXPECT_TRUE(std::regex_search(url, match, std::regex("://[^:]*:([^@]*)@")));
  return match[1];
}

// The URI with one part replaced.
std::string replaced(const std::string& url, const std::string& pattern,
                     const std::string& replacement) {
  return std::regex_replace(url, std::regex(pattern), replacement);
}

std::string open_error(const std::string& url) {
  try {
    PostgresStore store(url);
  } catch (const StorageError& error) {
    return error.what();
  }
  ADD_FAILURE() << "opened " << url;
  return {};
}

TEST(PostgresStoreLocation, MasksThePassword) {
  test::PostgresSchema schema;
  PostgresStore store(schema.url());
  const std::string password = password_of(schema.url());
  ASSERT_FALSE(password.empty());
  EXPECT_EQ(store.backend_name(), "postgresql");
  EXPECT_THAT(store.location(), Not(HasSubstr(password)));
  EXPECT_THAT(store.location(), HasSubstr("kagura:***@127.0.0.1:"));
  EXPECT_THAT(store.location(), HasSubstr("/kagura_test"));
  EXPECT_EQ(store.schema_version(), PostgresStore::kSchemaVersion);

  EXPECT_EQ(mask_postgres_password("host=db user=me password=s3cret dbname=t"),
            "host=db user=me password=*** dbname=t");
  EXPECT_EQ(mask_postgres_password("host=db password = 'with space' dbname=t"),
            "host=db password = *** dbname=t");
  EXPECT_EQ(mask_postgres_password("postgresql://me:pw@db:5432/t?password=other"),
            "postgresql://me:***@db:5432/t?password=***");
  EXPECT_EQ(mask_postgres_password("postgresql://me@db/t"), "postgresql://me@db/t");
}

TEST(PostgresStoreErrors, WrongPasswordSaysSoWithoutShowingIt) {
  const std::string url = test::postgres_server_url();
  const std::string wrong = replaced(url, "(://[^:]*:)[^@]*@", "$1not-the-password@");
  const std::string message = open_error(wrong);
  EXPECT_THAT(message, HasSubstr("postgresql"));
  EXPECT_THAT(message, HasSubstr("127.0.0.1"));
  EXPECT_THAT(message, HasSubstr("password authentication failed"));
  EXPECT_THAT(message, HasSubstr("correct them in KAGURA_TELEMETRY_CONNECTION"));
  EXPECT_THAT(message, Not(HasSubstr("not-the-password")));
  EXPECT_THAT(message, Not(HasSubstr(password_of(url))));
}

TEST(PostgresStoreErrors, UnreachableServerSaysSo) {
  // Port 1 (tcpmux) is privileged and nothing listens on it here.
  const std::string url =
      replaced(test::postgres_server_url(), "@127\\.0\\.0\\.1:[0-9]+/", "@127.0.0.1:1/");
  const std::string message = open_error(url);
  EXPECT_THAT(message, HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(message, HasSubstr("the server is unreachable"));
  EXPECT_THAT(message, HasSubstr("check that PostgreSQL is running"));
  EXPECT_THAT(message, Not(HasSubstr(password_of(url))));
}

TEST(PostgresStoreErrors, MissingDatabaseSaysHowToCreateIt) {
  const std::string url =
      replaced(test::postgres_server_url(), "/kagura_test$", "/kagura_no_such_database");
  const std::string message = open_error(url);
  EXPECT_THAT(message, HasSubstr("kagura_no_such_database"));
  EXPECT_THAT(message, HasSubstr("does not exist"));
  EXPECT_THAT(message, HasSubstr("createdb"));
}

TEST(PostgresStoreSchema, NewerSchemaIsRefused) {
  test::PostgresSchema schema;
  { PostgresStore store(schema.url()); }
  {
    pqxx::connection connection(schema.url());
    pqxx::work tx(connection);
    tx.exec0("INSERT INTO kagura_schema_version (version) VALUES (" +
             std::to_string(PostgresStore::kSchemaVersion + 1) + ")");
    tx.commit();
  }
  const std::string message = open_error(schema.url());
  EXPECT_THAT(message, HasSubstr("newer"));
  EXPECT_THAT(message, HasSubstr("upgrade kagura"));
}

TEST(PostgresStoreSchema, ForeignExecutionsTableIsLeftAlone) {
  test::PostgresSchema schema;
  {
    pqxx::connection connection(schema.url());
    pqxx::work tx(connection);
    tx.exec0("CREATE TABLE executions (id INTEGER PRIMARY KEY, what TEXT)");
    tx.exec0("INSERT INTO executions VALUES (1, 'theirs')");
    tx.commit();
  }
  EXPECT_THAT(open_error(schema.url()), HasSubstr("did not create"));
  pqxx::connection connection(schema.url());
  pqxx::nontransaction tx(connection);
  EXPECT_EQ(tx.exec1("SELECT what FROM executions")[0].as<std::string>(), "theirs");
}

TEST(PostgresStoreSchema, ReopenedStoreKeepsDataAndWritesExactlyOnce) {
  test::PostgresSchema schema;
  const auto all = make_executions(50, 1);
  {
    PostgresStore store(schema.url());
    ASSERT_EQ(save_all(store, all), 50u);
  }
  PostgresStore reopened(schema.url());
  EXPECT_EQ(reopened.schema_version(), PostgresStore::kSchemaVersion);
  EXPECT_EQ(reopened.count_executions({}), 50);
  EXPECT_EQ(save_all(reopened, all), 0u);
  const auto back = reopened.get_execution(all[7].id);
  ASSERT_TRUE(back);
  test::expect_same_execution(all[7], *back);
}

TEST(PostgresStoreReconnect, KeepsWorkingAcrossAServerRestart) {
  test::OwnPostgresServer server;
  ASSERT_FALSE(server.url().empty());
  PostgresStore store(server.url());
  const auto before = make_executions(40, 1000);
  ASSERT_EQ(save_all(store, before), 40u);

  server.run("pause");
  // While the server is down a call fails, saying what to do, and loses nothing.
  const auto during = make_executions(10, 2000);
  try {
    save_all(store, during);
    ADD_FAILURE() << "saved to a stopped server";
  } catch (const StorageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("unreachable"));
    EXPECT_THAT(error.what(), Not(HasSubstr(password_of(server.url()))));
  }
  server.run("resume");

  // The first call after the restart reconnects by itself.
  EXPECT_EQ(store.count_executions({}), 40);
  // The batch that failed is retried, with some already stored: only the new ones count.
  std::vector<Execution> retry = during;
  retry.insert(retry.end(), before.begin(), before.begin() + 5);
  EXPECT_EQ(save_all(store, retry), 10u);

  // A restart between two writes: the next write reconnects and succeeds, through the
  // pipeline's two-phase path.
  server.run("pause");
  server.run("resume");
  const auto after = make_executions(30, 3000);
  std::vector<std::shared_ptr<const Execution>> shared;
  for (const auto& e : after) shared.push_back(std::make_shared<Execution>(e));
  auto prepared = store.prepare(shared);
  prepared->skip_front(10);  // dropped by the pipeline while waiting
  EXPECT_EQ(store.write_prepared(*prepared), 20u);

  // Restart before a read.
  server.run("pause");
  server.run("resume");
  EXPECT_EQ(store.count_executions({}), 70);
  const SummaryStats stats = store.get_summary_stats({});
  EXPECT_EQ(stats.total_executions, 70);
  EXPECT_EQ(stats.llm_calls, 70);
  for (const auto* list : {&before, &during}) {
    for (const auto& e : *list) {
      const auto back = store.get_execution(e.id);
      ASSERT_TRUE(back) << e.id;
      test::expect_same_execution(e, *back);
    }
  }
  EXPECT_FALSE(store.get_execution(after[0].id));
  EXPECT_TRUE(store.get_execution(after[10].id));
}

}  // namespace
}  // namespace kagura::storage
