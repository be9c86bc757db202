#pragma once

// A prepared statement held as SQLite's own handle, for the insert the writer runs for every
// row. SQLiteCpp (used everywhere else) can bind text without a copy only from a std::string or
// a NUL-terminated pointer; the writer's text lives in slices of one buffer, so binding it there
// would mean a copy or a strlen per column.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

#include <cstdint>
#include <string_view>

namespace kagura::storage::sqlite_detail {

class RawStatement {
 public:
  RawStatement(SQLite::Database& db, const char* sql) : db_(db.getHandle()) {
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement_, nullptr) !=
        SQLITE_OK) {
      throw SQLite::Exception(db_);
    }
  }
  ~RawStatement() { sqlite3_finalize(statement_); }
  RawStatement(const RawStatement&) = delete;
  RawStatement& operator=(const RawStatement&) = delete;

  void bind(int index, std::int64_t value) { check(sqlite3_bind_int64(statement_, index, value)); }
  void bind(int index, double value) { check(sqlite3_bind_double(statement_, index, value)); }
  void bind_null(int index) { check(sqlite3_bind_null(statement_, index)); }
  // The text must stay valid until the statement runs.
  void bind_text(int index, std::string_view text) {
    check(sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_STATIC,
                              SQLITE_UTF8));
  }

  // Runs the statement to completion and resets it; returns the rows it changed. Throws
  // SQLite::Exception, with the extended error code, on failure (after resetting).
  int execute() {
    const int rc = sqlite3_step(statement_);
    if (rc != SQLITE_DONE) {
      const SQLite::Exception error(db_, rc);
      sqlite3_reset(statement_);
      throw error;
    }
    sqlite3_reset(statement_);
    return sqlite3_changes(db_);
  }
  void reset() noexcept { sqlite3_reset(statement_); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
  }

  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

}  // namespace kagura::storage::sqlite_detail
