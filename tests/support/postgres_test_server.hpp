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

#include "support/test_support.hpp"

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

// A server of a test's own, started by the fixture's script (scripts/test_servers/postgres.sh)
// in a temporary directory, so that stopping and restarting it disturbs no other test.
class OwnPostgresServer {
 public:
  OwnPostgresServer() {
    const char* script = std::getenv("KAGURA_TEST_POSTGRES_SCRIPT");
    if (script == nullptr) {
      throw std::runtime_error(
          "KAGURA_TEST_POSTGRES_SCRIPT is not set: run this test through ctest");
    }
    script_ = script;
    run("start");
    std::ifstream in(dir_.path() / "server" / "postgres.url");
    std::getline(in, url_);
  }
  ~OwnPostgresServer() {
    std::system((script_ + " stop " + server_dir() + " >/dev/null 2>&1").c_str());
  }
  OwnPostgresServer(const OwnPostgresServer&) = delete;
  OwnPostgresServer& operator=(const OwnPostgresServer&) = delete;

  // start, stop, pause (stop keeping the data) or resume (on the same port).
  void run(const std::string& command) {
    const int status =
        std::system((script_ + " " + command + " " + server_dir() + " >/dev/null").c_str());
    if (status != 0) throw std::runtime_error("postgres.sh " + command + " failed");
  }
  const std::string& url() const { return url_; }

 private:
  std::string server_dir() const { return (dir_.path() / "server").string(); }

  TempDir dir_{"kagura_postgres_own"};
  std::string script_;
  std::string url_;
};

}  // namespace kagura::test
