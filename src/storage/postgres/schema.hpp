#pragma once

#include <pqxx/pqxx>
#include <string>

namespace kagura::storage::postgres_detail {

// Brings the database to the current schema, one numbered migration at a time, recording the
// version in kagura_schema_version. `location` names the server in error messages.
void migrate(pqxx::connection& connection, const std::string& location);
int schema_version(pqxx::connection& connection);

}  // namespace kagura::storage::postgres_detail
