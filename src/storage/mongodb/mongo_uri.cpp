#include "storage/mongodb/mongo_uri.hpp"

#include "kagura/storage/connection_string.hpp"

namespace kagura::storage::mongo_detail {

std::string mask_password(std::string_view uri) {
  return mask_connection_password(uri);
}

}  // namespace kagura::storage::mongo_detail
