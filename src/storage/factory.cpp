#include "kagura/storage/factory.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "kagura/config/paths.hpp"
#include "kagura/storage/mongodb_store.hpp"
#include "kagura/storage/postgres_store.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::storage {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Server backends cannot guess where the server is.
void require_connection(const std::string& connection, const char* backend, const char* example) {
  if (connection.empty()) {
    throw StorageError(std::string("the ") + backend +
                       " telemetry backend needs a connection string: set "
                       "KAGURA_TELEMETRY_CONNECTION (e.g. " +
                       example + ") in the environment or ~/.kagura/.env");
  }
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, StorageBackendFactory> factories;
  std::set<std::string> loaded_plugins;

  Registry() {
    factories["sqlite"] = [](const std::string& connection) {
      return std::make_shared<SqliteStore>(
          connection.empty() ? config::default_database_path().string() : connection);
    };
    const StorageBackendFactory postgres = [](const std::string& connection) {
      require_connection(connection, "postgresql",
                         "postgresql://kagura:PASSWORD@localhost:5432/kagura");
      return std::make_shared<PostgresStore>(connection);
    };
    factories["postgresql"] = postgres;
    factories["postgres"] = postgres;
    const StorageBackendFactory mongodb = [](const std::string& connection) {
      require_connection(connection, "mongodb", "mongodb://localhost:27017/kagura");
      return std::make_shared<MongoStore>(connection);
    };
    factories["mongodb"] = mongodb;
    factories["mongo"] = mongodb;
  }
};

Registry& registry() {
  static Registry instance;
  return instance;
}

std::string known_names() {
  std::string names;
  for (const auto& name : storage_backends()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

class RegistryRegistrar final : public BackendRegistrar {
 public:
  void operator()(std::string name, StorageBackendFactory factory) override {
    register_storage_backend(std::move(name), std::move(factory));
  }
};

}  // namespace

void register_storage_backend(std::string name, StorageBackendFactory factory) {
  if (name.empty() || !factory) {
    throw StorageError("register_storage_backend needs a name and a factory");
  }
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.factories[lower(name)] = std::move(factory);
}

std::vector<std::string> storage_backends() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, ignored] : r.factories) names.push_back(name);
  return names;
}

void load_storage_plugins() {
  const char* list = std::getenv("KAGURA_STORAGE_PLUGINS");
  if (list == nullptr || *list == '\0') return;
  std::string paths = list;
  auto& r = registry();
  std::size_t start = 0;
  while (start <= paths.size()) {
    const std::size_t end = std::min(paths.find(':', start), paths.size());
    const std::string path = paths.substr(start, end - start);
    start = end + 1;
    if (path.empty()) continue;
    {
      std::lock_guard lock(r.mutex);
      if (r.loaded_plugins.count(path) != 0) continue;
    }
    // Never unloaded: the stores it makes run code from it until the process ends.
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      throw StorageError("cannot load storage plugin " + path + " (from KAGURA_STORAGE_PLUGINS): " +
                         dlerror() + "; check the path and that it is a shared library");
    }
    using EntryPoint = void (*)(BackendRegistrar&);
    auto* entry = reinterpret_cast<EntryPoint>(dlsym(library, kPluginEntryPoint));
    if (entry == nullptr) {
      throw StorageError("storage plugin " + path + " does not export " + kPluginEntryPoint +
                         "; declare it extern \"C\" as include/kagura/storage/factory.hpp shows");
    }
    RegistryRegistrar registrar;
    entry(registrar);
    std::lock_guard lock(r.mutex);
    r.loaded_plugins.insert(path);
  }
}

std::shared_ptr<StorageAdapter> create_storage_adapter(std::string_view backend,
                                                       const std::string& connection) {
  const std::string name = backend.empty() ? std::string("sqlite") : lower(backend);
  const auto find = [&]() -> StorageBackendFactory {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    const auto it = r.factories.find(name);
    return it == r.factories.end() ? StorageBackendFactory{} : it->second;
  };
  auto factory = find();
  if (!factory) {
    load_storage_plugins();
    factory = find();
  }
  if (!factory) {
    throw StorageError("unknown telemetry backend '" + std::string(backend) +
                       "': the known backends are " + known_names() +
                       "; set KAGURA_TELEMETRY_BACKEND to one of them, or list the plugin that "
                       "provides it in KAGURA_STORAGE_PLUGINS");
  }
  return factory(connection);
}

}  // namespace kagura::storage
