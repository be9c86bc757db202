#pragma once

#include <SQLiteCpp/Database.h>

#include <string>

namespace kagura::storage::sqlite_detail {

// Brings the database to the current schema, one numbered migration at a time, recording the
// version in PRAGMA user_version. `location` names the file in error messages.
void migrate(SQLite::Database& db, const std::string& location);
int schema_version(SQLite::Database& db);

}  // namespace kagura::storage::sqlite_detail
