#pragma once

// The PostgreSQL store's one connection: opening it with errors that say what to fix,
// prepared statements that follow it across reconnects, and the reconnect-once-and-retry rule.

#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::storage::postgres_detail {

class Connection {
 public:
  // `location` is the connection string with the password masked, for messages.
  Connection(std::string connection_string, std::string location);

  // Runs `work` on the connection. When the connection turns out to be broken (the server
  // restarted, the network dropped it), reconnects once and runs `work` again; every other
  // failure, and a second broken connection, becomes a StorageError saying what `what` was.
  // `work` must be safe to repeat: it runs in its own transaction, which a break rolls back.
  template <typename Fn>
  auto run(std::string_view what, Fn&& work) -> decltype(work(std::declval<pqxx::connection&>())) {
    for (int attempt = 0;; ++attempt) {
      try {
        if (!connection_) connect();
        return work(*connection_);
      } catch (const StorageError&) {
        throw;
      } catch (const std::exception& e) {
        const bool broken = is_broken(e);
        if (broken) connection_.reset();
        if (!broken || attempt > 0) throw failure(what, e, broken);
      }
    }
  }

  // The name of a prepared statement for `sql` on the current connection, preparing it on
  // first use. Statements are per connection, so a reconnect prepares them again.
  const std::string& statement(const std::string& sql);

  const std::string& location() const noexcept { return location_; }

 private:
  void connect();
  bool is_broken(const std::exception& e) const;
  StorageError failure(std::string_view what, const std::exception& e, bool broken) const;

  std::string connection_string_;
  std::string location_;
  std::unique_ptr<pqxx::connection> connection_;
  std::unordered_map<std::string, std::string> statements_;  // SQL -> name
};

// Turns a failed connection attempt into an error naming the server and the fix.
StoreUnreachableError connect_error(const std::string& location, std::string_view message);

}  // namespace kagura::storage::postgres_detail
