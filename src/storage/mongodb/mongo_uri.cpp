#include "storage/mongodb/mongo_uri.hpp"

namespace kagura::storage::mongo_detail {

std::string mask_password(std::string_view uri) {
  const auto scheme = uri.find("://");
  if (scheme == std::string_view::npos) return std::string(uri);
  const auto authority = scheme + 3;
  // The user info ends at the last '@' before the path: a password may itself contain '@'
  // (percent-encoded in a valid URI, but a message must not leak it when it is not).
  const auto path = uri.find('/', authority);
  const auto at = uri.substr(0, path).rfind('@');
  if (at == std::string_view::npos || at < authority) return std::string(uri);
  const auto colon = uri.find(':', authority);
  if (colon == std::string_view::npos || colon > at) return std::string(uri);
  return std::string(uri.substr(0, colon + 1)) + "***" + std::string(uri.substr(at));
}

}  // namespace kagura::storage::mongo_detail
