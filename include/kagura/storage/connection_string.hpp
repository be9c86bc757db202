#pragma once

#include <string>
#include <string_view>

namespace kagura::storage {

// A connection string fit for messages and logs: the password of a URI's user info
// ("scheme://user:***@host/...") and of "password=..." settings (libpq keywords, URI query
// parameters) replaced by ***. Anything else is returned unchanged.
std::string mask_connection_password(std::string_view connection);

}  // namespace kagura::storage
