#pragma once

// Finds the MongoDB server that the mongodb_server CTest fixture started (CongoDB, see
// scripts/test_servers/mongodb.sh). The fixture writes the server's URI to the file named by
// KAGURA_TEST_MONGODB_URL_FILE; to run against a real mongod, put its URI in that file.

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace kagura::test {

inline std::string mongodb_server_uri() {
  const char* file = std::getenv("KAGURA_TEST_MONGODB_URL_FILE");
  if (file == nullptr || *file == '\0') {
    throw std::runtime_error(
        "KAGURA_TEST_MONGODB_URL_FILE is not set: run this test through ctest, which starts the "
        "MongoDB test server (the mongodb_server fixture) and sets it");
  }
  std::ifstream in(file);
  std::string uri;
  if (!std::getline(in, uri) || uri.empty()) {
    throw std::runtime_error(std::string("no MongoDB URI in ") + file +
                             ": run this test through ctest, which starts the MongoDB test "
                             "server (the mongodb_server fixture) and writes it there");
  }
  return uri;
}

// The server's URI with its database replaced by `database`, keeping any options.
inline std::string with_database(const std::string& uri, const std::string& database) {
  const auto scheme = uri.find("://");
  const auto hosts = scheme == std::string::npos ? 0 : scheme + 3;
  const auto options = uri.find('?', hosts);
  const auto slash = uri.find('/', hosts);
  const auto hosts_end = std::min(slash, options);
  const std::string tail = options == std::string::npos ? "" : uri.substr(options);
  return uri.substr(0, hosts_end) + "/" + database + tail;
}

// A database name no other test of any process uses, so that each store starts empty.
inline std::string fresh_mongodb_database() {
  static std::atomic<int> counter{0};
  return "kagura_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

}  // namespace kagura::test
