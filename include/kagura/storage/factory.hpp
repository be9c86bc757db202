#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::storage {

// Opens the store named by `backend` ("sqlite") with `connection` (for sqlite a path or
// ":memory:"; empty means ~/.kagura/telemetry.db). Throws StorageError for an unknown backend,
// listing the known ones.
std::shared_ptr<StorageAdapter> create_storage_adapter(std::string_view backend,
                                                       const std::string& connection);

}  // namespace kagura::storage
