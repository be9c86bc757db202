#include "kagura/storage/connection_string.hpp"

#include <regex>

namespace kagura::storage {

std::string mask_connection_password(std::string_view connection) {
  std::string masked(connection);
  const auto scheme = masked.find("://");
  if (scheme != std::string::npos) {
    const auto authority = scheme + 3;
    // The user info ends at the last '@' before the path: a password may itself contain '@'
    // (percent-encoded in a valid URI, but a message must not leak it when it is not).
    const auto path = masked.find_first_of("/?", authority);
    const auto at = masked.substr(0, path).rfind('@');
    const auto colon = masked.find(':', authority);
    if (at != std::string::npos && at >= authority && colon != std::string::npos && colon < at) {
      masked = masked.substr(0, colon + 1) + "***" + masked.substr(at);
    }
  }
  static const std::regex keyword_password(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*))",
                                           std::regex::icase);
  return std::regex_replace(masked, keyword_password, "$1***");
}

}  // namespace kagura::storage
