#include "storage/backend_cases.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "kagura/storage/mongodb_store.hpp"
#include "kagura/storage/postgres_store.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "support/mongodb_test_server.hpp"
#include "support/postgres_test_server.hpp"

namespace kagura::test {
namespace {

std::filesystem::path fresh_dir() {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("kagura_conformance_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

std::vector<BackendCase> conformance_backends() {
  return {
      {"sqlite_memory", "sqlite",
       [] { return std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory); }},
      {"sqlite_file", "sqlite",
       []() -> std::shared_ptr<storage::StorageAdapter> {
         const auto dir = fresh_dir();
         // The directory goes with the store.
         return std::shared_ptr<storage::SqliteStore>(
             new storage::SqliteStore((dir / "telemetry.db").string()),
             [dir](storage::SqliteStore* store) {
               delete store;
               std::error_code ignored;
               std::filesystem::remove_all(dir, ignored);
             });
       }},
      {"mongodb", "mongodb",
       []() -> std::shared_ptr<storage::StorageAdapter> {
         // A database per store, dropped with it, so that every test starts empty.
         return std::shared_ptr<storage::MongoStore>(
             new storage::MongoStore(with_database(mongodb_server_uri(), fresh_mongodb_database())),
             [](storage::MongoStore* store) {
               try {
                 store->drop_database();
               } catch (const storage::StorageError&) {
                 // Left behind on a server that lost the connection; the next test uses another.
               }
               delete store;
             });
       }},
      {"postgresql", "postgresql",
       []() -> std::shared_ptr<storage::StorageAdapter> {
         // A schema per store, dropped with it, so that every test starts empty.
         auto schema = std::make_shared<PostgresSchema>();
         return std::shared_ptr<storage::PostgresStore>(new storage::PostgresStore(schema->url()),
                                                        [schema](storage::PostgresStore* store) {
                                                          delete store;  // before the schema goes
                                                        });
       }},
  };
}

}  // namespace kagura::test
