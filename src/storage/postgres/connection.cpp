#include "storage/postgres/connection.hpp"

#include <cctype>
#include <string>

#include "kagura/storage/connection_string.hpp"

namespace kagura::storage::postgres_detail {
namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Without a timeout libpq waits for the operating system's, minutes for a host that drops
// packets; the user's own setting wins.
std::string with_connect_timeout(std::string connection_string) {
  if (contains(connection_string, "connect_timeout")) return connection_string;
  const bool uri = connection_string.starts_with("postgresql://") ||
                   connection_string.starts_with("postgres://");
  if (!uri) return connection_string + " connect_timeout=10";
  return connection_string + (contains(connection_string, "?") ? "&" : "?") + "connect_timeout=10";
}

// libpq quotes a connection URI it cannot parse, password and all, in its message: every
// URI in the text is masked before the message goes anywhere.
std::string mask_uris(std::string text) {
  for (auto scheme = text.find("://"); scheme != std::string::npos;
       scheme = text.find("://", scheme + 3)) {
    std::size_t begin = scheme;
    while (begin > 0 && std::isalnum(static_cast<unsigned char>(text[begin - 1]))) --begin;
    auto end = text.find_first_of("\"' \n", scheme);
    if (end == std::string::npos) end = text.size();
    const std::string masked = mask_connection_password(text.substr(begin, end - begin));
    text.replace(begin, end - begin, masked);
    scheme = begin + masked.find("://");
  }
  return mask_connection_password(text);
}

}  // namespace

StoreUnreachableError connect_error(const std::string& location, std::string_view message) {
  std::string fix;
  if (contains(message, "password authentication failed") ||
      contains(message, "no password supplied") || contains(message, "role \"")) {
    fix =
        "the server refused the user name or password: correct them in "
        "KAGURA_TELEMETRY_CONNECTION";
  } else if (contains(message, "database \"") && contains(message, "does not exist")) {
    fix =
        "the database does not exist: create it (createdb NAME, or CREATE DATABASE) or correct "
        "the database name in KAGURA_TELEMETRY_CONNECTION";
  } else if (contains(message, "Connection refused") || contains(message, "could not connect") ||
             contains(message, "timeout expired") || contains(message, "could not translate") ||
             contains(message, "No such file or directory") ||
             contains(message, "Network is unreachable")) {
    fix =
        "the server is unreachable: check that PostgreSQL is running and accepts TCP "
        "connections on that host and port, and that KAGURA_TELEMETRY_CONNECTION names them";
  } else {
    fix = "check the server and KAGURA_TELEMETRY_CONNECTION";
  }
  std::string text = mask_uris(std::string(message));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return StoreUnreachableError("cannot connect to postgresql telemetry store " + location + ": " +
                               text + ": " + fix);
}

Connection::Connection(std::string connection_string, std::string location)
    : connection_string_(with_connect_timeout(std::move(connection_string))),
      location_(std::move(location)) {
  connect();
}

void Connection::connect() {
  connection_.reset();
  statements_.clear();
  try {
    connection_ = std::make_unique<pqxx::connection>(connection_string_);
  } catch (const std::exception& e) {
    throw connect_error(location_, e.what());
  }
}

const std::string& Connection::statement(const std::string& sql) {
  const auto found = statements_.find(sql);
  if (found != statements_.end()) return found->second;
  std::string name = "kagura_" + std::to_string(statements_.size());
  connection_->prepare(name, sql);
  return statements_.emplace(sql, std::move(name)).first->second;
}

bool Connection::is_broken(const std::exception& e) const {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return true;
  // A server shutting down terminates its sessions (class 57P) or the socket fails (class 08);
  // libpq reports some of those as plain SQL errors.
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    if (state.starts_with("57P") || state.starts_with("08")) return true;
  }
  return connection_ && !connection_->is_open();
}

StorageError Connection::failure(std::string_view what, const std::exception& e,
                                 bool broken) const {
  std::string text = e.what();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::string message =
      "postgresql telemetry store " + location_ + ": " + std::string(what) + " failed: " + text;
  if (broken) {
    message +=
        ": the connection broke again after reconnecting; check that the server is running "
        "and reachable";
  }
  return StorageError(message);
}

}  // namespace kagura::storage::postgres_detail
