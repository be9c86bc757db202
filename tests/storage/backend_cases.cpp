#include "storage/backend_cases.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "kagura/storage/sqlite_store.hpp"

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
  };
}

}  // namespace kagura::test
