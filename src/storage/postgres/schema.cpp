#include "storage/postgres/schema.hpp"

#include <iterator>

#include "kagura/storage/postgres_store.hpp"

namespace kagura::storage::postgres_detail {
namespace {

// Migration N brings the schema from version N-1 to N. Append new ones; never edit old ones.
constexpr const char* kMigrations[] = {
    // 1: executions, with events in the storage encoding of execution_json.hpp.
    R"sql(
CREATE TABLE executions (
  -- "C" collation: ids are compared byte by byte, so that a prefix is a range of the primary
  -- key and ties in time order by id as on every other backend, whatever the server's locale.
  id TEXT COLLATE "C" PRIMARY KEY,
  trace_id TEXT COLLATE "C" NOT NULL,
  parent_id TEXT COLLATE "C",  -- NULL for a root execution
  agent_name TEXT NOT NULL,
  started_at DOUBLE PRECISION NOT NULL,  -- Unix seconds, exactly as recorded
  duration DOUBLE PRECISION,  -- ended_at is started_at + duration
  status TEXT NOT NULL,
  error TEXT,
  error_type TEXT,
  model TEXT,
  llm_calls BIGINT NOT NULL,
  tool_calls BIGINT NOT NULL,
  memory_operations BIGINT NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  cached_tokens BIGINT NOT NULL,
  reasoning_tokens BIGINT NOT NULL,
  unpriced_llm_calls BIGINT NOT NULL,
  cost_nanos BIGINT NOT NULL,
  kwargs JSONB NOT NULL,
  events JSONB NOT NULL,
  custom_metrics JSONB,
  tags JSONB
);
CREATE INDEX executions_by_time ON executions (started_at);
CREATE INDEX executions_by_agent ON executions (agent_name, started_at);
-- Partial: most executions complete, and listings ask for the others.
CREATE INDEX executions_not_completed ON executions (status, started_at)
  WHERE status <> 'completed';
CREATE INDEX executions_children ON executions (trace_id) WHERE parent_id IS NOT NULL;
)sql",
};

constexpr int kLatest = static_cast<int>(std::size(kMigrations));
static_assert(kLatest == PostgresStore::kSchemaVersion);

// Any constant of our own: serialises the migrations of stores opening at the same time.
constexpr long long kMigrationLock = 0x6b61677572610001LL;

}  // namespace

int schema_version(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  const auto exists = tx.exec1("SELECT to_regclass('kagura_schema_version') IS NOT NULL");
  if (!exists[0].as<bool>()) return 0;
  const auto version = tx.exec1("SELECT coalesce(max(version), 0) FROM kagura_schema_version");
  return version[0].as<int>();
}

void migrate(pqxx::connection& connection, const std::string& location) {
  pqxx::work tx(connection);
  tx.exec1("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
  tx.exec0("CREATE TABLE IF NOT EXISTS kagura_schema_version (version INTEGER NOT NULL)");
  const int version =
      tx.exec1("SELECT coalesce(max(version), 0) FROM kagura_schema_version")[0].as<int>();
  if (version > kLatest) {
    throw StorageError("postgresql telemetry store " + location + " has schema version " +
                       std::to_string(version) + ", newer than this build of Kagura reads (" +
                       std::to_string(kLatest) +
                       "): upgrade kagura, or point KAGURA_TELEMETRY_CONNECTION at another "
                       "database");
  }
  if (version == 0) {
    // An executions table without our version row is somebody else's.
    if (tx.exec1("SELECT to_regclass('executions') IS NOT NULL")[0].as<bool>()) {
      throw StorageError("postgresql telemetry store " + location +
                         " already holds an executions table that Kagura did not create: point "
                         "KAGURA_TELEMETRY_CONNECTION at another database or schema");
    }
  }
  for (int next = version + 1; next <= kLatest; ++next) {
    tx.exec0(kMigrations[next - 1]);
    tx.exec0("INSERT INTO kagura_schema_version (version) VALUES (" + std::to_string(next) + ")");
  }
  tx.commit();
}

}  // namespace kagura::storage::postgres_detail
