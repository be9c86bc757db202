#pragma once

// What the store needs from a MongoDB connection string besides the driver's own parsing.

#include <string>
#include <string_view>

namespace kagura::storage::mongo_detail {

// The URI with the password of its user info replaced by "***", for messages.
std::string mask_password(std::string_view uri);

}  // namespace kagura::storage::mongo_detail
