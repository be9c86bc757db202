#include "kagura/storage/factory.hpp"

#include "kagura/config/paths.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::storage {

std::shared_ptr<StorageAdapter> create_storage_adapter(std::string_view backend,
                                                       const std::string& connection) {
  if (backend.empty() || backend == "sqlite") {
    return std::make_shared<SqliteStore>(
        connection.empty() ? config::default_database_path().string() : connection);
  }
  throw StorageError("unknown telemetry backend '" + std::string(backend) +
                     "': this build knows sqlite; set KAGURA_TELEMETRY_BACKEND=sqlite or run "
                     "'kagura init --backend sqlite'");
}

}  // namespace kagura::storage
