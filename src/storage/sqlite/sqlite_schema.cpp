#include "storage/sqlite/sqlite_schema.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include "kagura/storage/sqlite_store.hpp"

namespace kagura::storage::sqlite_detail {
namespace {

// Migration N brings the schema from version N-1 to N. Append new ones; never edit old ones.
constexpr const char* kMigrations[] = {
    // 1: executions with their events (storage encoding, see execution_json.hpp), and the
    // hourly rollups.
    R"sql(
CREATE TABLE executions (
  -- The start time in microseconds, times 1024, plus a tie-breaker: the table itself is kept
  -- in start order, so time ranges and "newest first" need no index of their own.
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  trace_id TEXT,  -- NULL for a root execution, whose trace id is its own id
  parent_id TEXT,
  agent_name TEXT NOT NULL,
  started_at REAL NOT NULL,
  duration REAL,  -- ended_at is started_at + duration
  status TEXT NOT NULL,
  error TEXT,
  error_type TEXT,
  model TEXT,
  llm_calls INTEGER NOT NULL,
  tool_calls INTEGER NOT NULL,
  memory_operations INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  unpriced_llm_calls INTEGER NOT NULL,
  cost_nanos INTEGER NOT NULL,
  kwargs TEXT NOT NULL,
  events TEXT NOT NULL,
  custom_metrics TEXT,
  tags TEXT
);
-- Every index ends in the rowid, so these also list their rows in start order. The partial
-- ones stay small: most executions complete, and most are the root of their trace.
CREATE INDEX executions_by_agent ON executions (agent_name);
CREATE INDEX executions_not_completed ON executions (status) WHERE status != 'completed';
CREATE INDEX executions_children ON executions (trace_id) WHERE parent_id IS NOT NULL;

CREATE TABLE execution_rollups (
  bucket INTEGER NOT NULL,
  agent_name TEXT NOT NULL,
  status TEXT NOT NULL,
  executions INTEGER NOT NULL,
  with_duration INTEGER NOT NULL,
  duration_sum REAL NOT NULL,
  duration_sketch BLOB NOT NULL,
  llm_calls INTEGER NOT NULL,
  tool_calls INTEGER NOT NULL,
  memory_operations INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  unpriced_llm_calls INTEGER NOT NULL,
  cost_nanos INTEGER NOT NULL,
  first_started_at REAL,
  last_started_at REAL,
  PRIMARY KEY (bucket, agent_name, status)
) WITHOUT ROWID;

CREATE TABLE llm_rollups (
  bucket INTEGER NOT NULL,
  agent_name TEXT NOT NULL,
  status TEXT NOT NULL,
  model TEXT NOT NULL,
  calls INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  unpriced_calls INTEGER NOT NULL,
  cost_nanos INTEGER NOT NULL,
  PRIMARY KEY (bucket, agent_name, status, model)
) WITHOUT ROWID;
)sql",
};

constexpr int kLatest = static_cast<int>(std::size(kMigrations));
static_assert(kLatest == SqliteStore::kSchemaVersion);

}  // namespace

int schema_version(SQLite::Database& db) {
  return db.execAndGet("PRAGMA user_version").getInt();
}

void migrate(SQLite::Database& db, const std::string& location) {
  // An exclusive transaction so two processes opening a new file do not both create it.
  SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
  const int version = schema_version(db);
  if (version > kLatest) {
    throw StorageError("sqlite telemetry store " + location + " has schema version " +
                       std::to_string(version) + ", newer than this build of Kagura reads (" +
                       std::to_string(kLatest) +
                       "): upgrade kagura, or point "
                       "KAGURA_TELEMETRY_CONNECTION at another file");
  }
  if (version == 0) {
    // A file with tables but no version is somebody else's database.
    const auto tables =
        db.execAndGet("SELECT count(*) FROM sqlite_master WHERE type = 'table'").getInt();
    if (tables > 0) {
      throw StorageError("sqlite telemetry store " + location +
                         " already holds tables that Kagura did not create: point "
                         "KAGURA_TELEMETRY_CONNECTION at another file");
    }
  }
  for (int next = version + 1; next <= kLatest; ++next) {
    db.exec(kMigrations[next - 1]);
    db.exec("PRAGMA user_version = " + std::to_string(next));
  }
  transaction.commit();
}

}  // namespace kagura::storage::sqlite_detail
