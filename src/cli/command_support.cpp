#include "cli/command_support.hpp"

#include <filesystem>

#include "kagura/config/paths.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/storage/factory.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::cli {

void add_store_options(CLI::App& command, StoreOptions& options) {
  command.add_option("--db", options.db, "Path of a SQLite telemetry store to read");
  command.add_option("--backend", options.backend,
                     "Storage backend to read (sqlite, postgresql, mongodb, or a plugin's)");
  command.add_option("--connection", options.connection,
                     "Connection string of that backend (a path or a URI)");
}

namespace {

void require_existing_sqlite_file(const std::string& path, const std::string& fix) {
  if (path == storage::SqliteStore::kMemory || std::filesystem::exists(path)) return;
  throw CliError("no telemetry store at " + path + ": " + fix);
}

bool is_sqlite(const std::string& backend) {
  return backend.empty() || backend == "sqlite" || backend == "SQLite" || backend == "SQLITE";
}

}  // namespace

std::shared_ptr<storage::StorageAdapter> open_store(const StoreOptions& options) {
  if (!options.db.empty()) {
    if (!options.connection.empty() || (!options.backend.empty() && !is_sqlite(options.backend))) {
      throw CliError("--db names a SQLite file and cannot be combined with --backend " +
                     options.backend + " or --connection: use one or the other");
    }
    require_existing_sqlite_file(
        options.db, "check the path given to --db, or drop --db to read the configured store");
    return std::make_shared<storage::SqliteStore>(options.db);
  }
  std::string backend = options.backend;
  std::string connection = options.connection;
  if (backend.empty()) {
    const auto config = config::load_telemetry_config();
    backend = config.backend;
    if (connection.empty()) connection = config.connection;
  }
  if (is_sqlite(backend)) {
    const std::string path =
        connection.empty() ? config::default_database_path().string() : connection;
    require_existing_sqlite_file(
        path,
        "nothing has been recorded there yet. Run an agent (or `kagura init`), or point "
        "--db at a store");
    return std::make_shared<storage::SqliteStore>(path);
  }
  return storage::create_storage_adapter(backend, connection);
}

}  // namespace kagura::cli
