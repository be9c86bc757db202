#pragma once

// Stores by backend name. The built-in backends are registered from the start; users add
// their own with register_storage_backend(), and it then works everywhere a built-in one does:
// KAGURA_TELEMETRY_BACKEND, ~/.kagura/.env and get_global_telemetry().
//
// The kagura command is a separate program, so it finds user backends in plugins: shared
// libraries listed in KAGURA_STORAGE_PLUGINS (':'-separated paths), each exporting
//
//   extern "C" void kagura_register_storage_backends(kagura::storage::BackendRegistrar& add) {
//     add("custom", [](const std::string& connection) { return
//     std::make_shared<MyStore>(connection); });
//   }
//
// Plugins are loaded the first time a backend name is not known.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::storage {

// Opens a store from a connection string (a path, a URI; may be empty). Throws StorageError
// with what is wrong and how to fix it.
using StorageBackendFactory =
    std::function<std::shared_ptr<StorageAdapter>(const std::string& connection)>;

// Registers (or replaces) a backend. Names are case-insensitive. Thread-safe.
void register_storage_backend(std::string name, StorageBackendFactory factory);

// The names known now, sorted.
std::vector<std::string> storage_backends();

// Opens the store named by `backend` (empty: "sqlite") with `connection` (for sqlite a path or
// ":memory:"; empty means ~/.kagura/telemetry.db). Throws StorageError for an unknown backend,
// listing the known ones.
std::shared_ptr<StorageAdapter> create_storage_adapter(std::string_view backend,
                                                       const std::string& connection);

// What a plugin's kagura_register_storage_backends() receives.
class BackendRegistrar {
 public:
  virtual ~BackendRegistrar() = default;
  virtual void operator()(std::string name, StorageBackendFactory factory) = 0;
};

// The symbol a plugin exports.
inline constexpr const char* kPluginEntryPoint = "kagura_register_storage_backends";

// Loads the plugins in KAGURA_STORAGE_PLUGINS that are not loaded yet. Throws StorageError
// naming a library that cannot be loaded or lacks the entry point.
void load_storage_plugins();

}  // namespace kagura::storage
