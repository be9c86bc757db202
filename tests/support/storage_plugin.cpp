// A storage plugin as a user would write one: a backend named "plugin_sqlite" (a SQLite store
// whose connection string is prefixed "plugin:"), registered through the entry point that
// KAGURA_STORAGE_PLUGINS makes the kagura command and the library call.

#include <string>

#include "kagura/storage/factory.hpp"
#include "kagura/storage/sqlite_store.hpp"

extern "C" void kagura_register_storage_backends(kagura::storage::BackendRegistrar& add) {
  add("plugin_sqlite", [](const std::string& connection) {
    const std::string prefix = "plugin:";
    if (connection.rfind(prefix, 0) != 0) {
      throw kagura::storage::StorageError("plugin_sqlite: the connection must start with '" +
                                          prefix + "', got '" + connection + "'");
    }
    return std::make_shared<kagura::storage::SqliteStore>(connection.substr(prefix.size()));
  });
}
