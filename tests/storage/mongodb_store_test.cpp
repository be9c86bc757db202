// The MongoDB store's own behaviour, against the test server the mongodb_server fixture starts
// (CongoDB; any mongod works too, see support/mongodb_test_server.hpp), through the real C
// driver. What every backend must do is in store_conformance_test.cpp.

#include "kagura/storage/mongodb_store.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/mongodb/mongo_handles.hpp"
#include "storage/mongodb/mongo_uri.hpp"
#include "support/mongodb_test_server.hpp"
#include "support/record_expectations.hpp"

namespace kagura::storage {
namespace {

using telemetry::Execution;
using telemetry::ExecutionStatus;
using ::testing::HasSubstr;
using ::testing::Not;

// A port on 127.0.0.1 with nothing listening: bound, then released.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

Execution make_execution(int n, double started_at) {
  Execution e;
  char id[33];
  std::snprintf(id, sizeof id, "0192%028x", n);
  e.id = id;
  e.trace_id = e.id;
  e.agent_name = "agent";
  e.status = ExecutionStatus::completed;
  e.started_at = started_at;
  e.duration = 1.5;
  e.ended_at = started_at + 1.5;
  return e;
}

std::size_t save_all(StorageAdapter& store, const std::vector<Execution>& executions) {
  std::vector<const Execution*> batch;
  for (const auto& e : executions) batch.push_back(&e);
  return store.save_executions(batch);
}

// A store on a database of its own, dropped afterwards.
class MongoStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uri_ = test::with_database(test::mongodb_server_uri(), test::fresh_mongodb_database());
    store_ = std::make_unique<MongoStore>(uri_);
  }
  void TearDown() override {
    if (store_) store_->drop_database();
  }
  MongoStore& store() { return *store_; }

  std::string uri_;
  std::unique_ptr<MongoStore> store_;
};

TEST(MongoUri, MasksThePassword) {
  using mongo_detail::mask_password;
  EXPECT_EQ(mask_password("mongodb://kagura:s3cret@db.example:27017/telemetry"),
            "mongodb://kagura:***@db.example:27017/telemetry");
  EXPECT_EQ(mask_password("mongodb://kagura:p@ss@db.example/t?authSource=admin"),
            "mongodb://kagura:***@db.example/t?authSource=admin");
  EXPECT_EQ(mask_password("mongodb://kagura@db.example/telemetry"),
            "mongodb://kagura@db.example/telemetry");
  EXPECT_EQ(mask_password("mongodb://127.0.0.1:27017/kagura"), "mongodb://127.0.0.1:27017/kagura");
}

TEST_F(MongoStoreTest, LocationIsTheUriAndBackendIsMongodb) {
  EXPECT_EQ(store().backend_name(), "mongodb");
  EXPECT_EQ(store().location(), uri_);
}

TEST(MongoStoreErrors, UnreachableServerNamesHostAndFixWithPasswordMasked) {
  const std::string host = "127.0.0.1:" + std::to_string(closed_port());
  try {
    MongoStore store("mongodb://kagura:s3cret@" + host + "/telemetry?connectTimeoutMS=2000");
    FAIL() << "connected to a port with nothing listening";
  } catch (const StorageError& error) {
    EXPECT_THAT(error.what(), HasSubstr("mongodb"));
    EXPECT_THAT(error.what(), HasSubstr(host));
    EXPECT_THAT(error.what(), HasSubstr("kagura:***@"));
    EXPECT_THAT(error.what(), Not(HasSubstr("s3cret")));
    EXPECT_THAT(error.what(), HasSubstr("KAGURA_TELEMETRY_CONNECTION"));
  }
}

TEST(MongoStoreErrors, BadUriSaysWhatAUriLooksLike) {
  for (const std::string uri : {"postgres://localhost/kagura", "mongodb://", "not a uri"}) {
    SCOPED_TRACE(uri);
    try {
      MongoStore store(uri);
      FAIL() << "accepted " << uri;
    } catch (const StorageError& error) {
      EXPECT_THAT(error.what(), HasSubstr("mongodb://host:port/dbname"));
    }
  }
}

TEST_F(MongoStoreTest, ResubmittedBatchesAreStoredExactlyOnce) {
  std::vector<Execution> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(make_execution(i, 1700000000.0 + i));
  ASSERT_EQ(save_all(store(), batch), 50u);
  // The same batch again, as the pipeline resubmits it after a failure it cannot tell apart
  // from a lost acknowledgement: nothing new.
  EXPECT_EQ(save_all(store(), batch), 0u);
  // Through another store on the same database, as another process would.
  MongoStore other(uri_);
  EXPECT_EQ(save_all(other, batch), 0u);
  // Mixed with new ones, and with a duplicate inside the batch.
  std::vector<Execution> mixed(batch.begin() + 40, batch.end());
  for (int i = 50; i < 60; ++i) mixed.push_back(make_execution(i, 1700000000.0 + i));
  mixed.push_back(mixed.back());
  EXPECT_EQ(save_all(other, mixed), 10u);
  EXPECT_EQ(store().count_executions({}), 60);
  EXPECT_EQ(other.get_summary_stats({}).total_executions, 60);
  // Through the two-phase path of the pipeline too.
  std::vector<std::shared_ptr<const Execution>> shared;
  for (const auto& e : mixed) shared.push_back(std::make_shared<Execution>(e));
  auto prepared = store().prepare(shared);
  EXPECT_EQ(store().write_prepared(*prepared), 0u);
  EXPECT_EQ(store().count_executions({}), 60);
}

TEST_F(MongoStoreTest, DatabaseComesFromTheUri) {
  ASSERT_EQ(store().save_execution(make_execution(1, 1700000000.0)), 1u);
  MongoStore same(uri_);
  EXPECT_EQ(same.count_executions({}), 1);
  const std::string elsewhere_uri =
      test::with_database(test::mongodb_server_uri(), test::fresh_mongodb_database());
  MongoStore elsewhere(elsewhere_uri);
  EXPECT_EQ(elsewhere.count_executions({}), 0);
  elsewhere.drop_database();
}

// What the store leaves on the server, read back with the C driver: documents keyed by an
// execution_id field beside the server's ObjectId, and the indexes the queries rely on.
TEST_F(MongoStoreTest, DocumentsAndIndexesOnTheServer) {
  const Execution e = make_execution(7, 1700000123.25);
  ASSERT_EQ(store().save_execution(e), 1u);

  using namespace mongo_detail;
  mongoc_init();
  bson_error_t error;
  UriHandle uri(mongoc_uri_new_with_error(uri_.c_str(), &error));
  ASSERT_TRUE(uri) << error.message;
  ClientHandle client(mongoc_client_new_from_uri(uri.get()));
  CollectionHandle collection(mongoc_client_get_collection(
      client.get(), mongoc_uri_get_database(uri.get()), MongoStore::kCollection));

  Document filter;
  BSON_APPEND_UTF8(filter.get(), "execution_id", e.id.c_str());
  CursorHandle documents(
      mongoc_collection_find_with_opts(collection.get(), filter.get(), nullptr, nullptr));
  const bson_t* document = nullptr;
  ASSERT_TRUE(mongoc_cursor_next(documents.get(), &document));
  bson_iter_t iter;
  ASSERT_TRUE(bson_iter_init_find(&iter, document, "_id"));
  EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_OID);
  ASSERT_TRUE(bson_iter_init_find(&iter, document, "agent_name"));
  EXPECT_STREQ(bson_iter_utf8(&iter, nullptr), "agent");
  EXPECT_FALSE(mongoc_cursor_next(documents.get(), &document));

  std::vector<std::string> names;
  bool execution_id_unique = false;
  CursorHandle indexes(mongoc_collection_find_indexes_with_opts(collection.get(), nullptr));
  while (mongoc_cursor_next(indexes.get(), &document)) {
    ASSERT_TRUE(bson_iter_init_find(&iter, document, "name"));
    names.emplace_back(bson_iter_utf8(&iter, nullptr));
    if (names.back() == "execution_id_unique") {
      execution_id_unique =
          bson_iter_init_find(&iter, document, "unique") && bson_iter_as_bool(&iter);
    }
  }
  EXPECT_FALSE(mongoc_cursor_error(indexes.get(), &error)) << error.message;
  EXPECT_THAT(names, ::testing::IsSupersetOf({"execution_id_unique", "started_at",
                                              "agent_started_at", "status_started_at"}));
  EXPECT_TRUE(execution_id_unique);
}

}  // namespace
}  // namespace kagura::storage
