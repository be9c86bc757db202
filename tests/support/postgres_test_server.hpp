#pragma once

// The PostgreSQL server that CTest's postgres_server fixture starts
// (scripts/test_servers/postgres.sh), and schemas of its database that give each test an
// empty store of its own, so that tests may run in parallel on one server.

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>
#include <string>

namespace kagura::test {

// The URI of the fixture's server; throws, saying how to get one, outside ctest.
inline std::string postgres_server_url() {
  const char* file = std::getenv("KAGURA_TEST_POSTGRES_URL_FILE");
  if (file == nullptr || *file == '\0') {
    throw std::runtime_error(
        "KAGURA_TEST_POSTGRES_URL_FILE is not set: run this test through ctest, whose "
        "postgres_server fixture starts a PostgreSQL server (scripts/test_servers/postgres.sh)");
  }
  std::ifstream in(file);
  std::string url;
  if (!std::getline(in, url) || url.empty()) {
    throw std::runtime_error(std::string("no PostgreSQL server URI in ") + file +
                             ": run the suite through ctest, whose postgres_server fixture "
                             "starts the server and writes that file");
  }
  return url;
}

// A schema created for one test and dropped with this object; url() connects to it.
class PostgresSchema {
 public:
  PostgresSchema() : server_url_(postgres_server_url()) {
    static std::atomic<int> counter{0};
    name_ = "kagura_t" + std::to_string(::getpid()) + "_" + std::to_string(std::random_device()()) +
            "_" + std::to_string(counter++);
    pqxx::connection connection(server_url_);
    pqxx::nontransaction tx(connection);
    tx.exec0("CREATE SCHEMA " + name_);
  }
  ~PostgresSchema() {
    try {
      pqxx::connection connection(server_url_);
      pqxx::nontransaction tx(connection);
      tx.exec0("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
    } catch (const std::exception&) {
      // Left behind if the server is gone; the fixture removes the whole cluster anyway.
    }
  }
  PostgresSchema(const PostgresSchema&) = delete;
  PostgresSchema& operator=(const PostgresSchema&) = delete;

  const std::string& name() const noexcept { return name_; }
  // The server's URI with this schema first on the search path.
  std::string url() const {
    return server_url_ + (server_url_.find('?') == std::string::npos ? "?" : "&") +
           "options=-csearch_path%3D" + name_;
  }

 private:
  std::string server_url_;
  std::string name_;
};

}  // namespace kagura::test
