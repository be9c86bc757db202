#pragma once

// The default store: one SQLite file (~/.kagura/telemetry.db unless told otherwise), or
// ":memory:" for tests.
//
// One row per execution holds its summary columns and its events as JSON, so a batch of
// executions costs about one row each to write. Hourly rollups per agent, status and model are
// updated in the same transaction as the rows they summarise, so stats and cost queries read a
// few thousand rollup rows instead of scanning every execution; only the part of a time range
// that does not cover a whole hour is read from the execution rows. WAL mode, so readers (the
// monitor, another process) never block the writer.

#include <filesystem>
#include <memory>
#include <string>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::storage {

class SqliteStore final : public StorageAdapter {
 public:
  static constexpr int kSchemaVersion = 1;
  static constexpr const char* kMemory = ":memory:";

  // Opens or creates the database, creating the parent directory if needed, and migrates an
  // older schema. Throws StorageError naming the path and the fix when the file is not a
  // database, is of a newer schema, or cannot be opened.
  explicit SqliteStore(std::string path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::string backend_name() const override { return "sqlite"; }
  std::string location() const override;

  std::size_t save_executions(std::span<const telemetry::Execution* const> batch) override;
  // Serialises the rows, so that the pipeline's writer thread only runs SQLite.
  std::unique_ptr<PreparedBatch> prepare(
      std::vector<std::shared_ptr<const telemetry::Execution>> batch) override;
  std::size_t write_prepared(PreparedBatch& batch) override;
  bool prepares_in_pieces() const override { return true; }
  void prepare_more(PreparedBatch& batch,
                    std::vector<std::shared_ptr<const telemetry::Execution>> more) override;
  // synchronous=FULL: each commit syncs the log, where NORMAL (the default) leaves a commit
  // safe from a killed process but not from a power loss.
  void require_durable_commits() override;
  std::optional<telemetry::Execution> get_execution(std::string_view id_or_prefix) override;
  std::vector<telemetry::Execution> get_executions(const ExecutionQuery& query) override;
  std::int64_t count_executions(const ExecutionFilter& filter) override;
  SummaryStats get_summary_stats(const ExecutionFilter& filter) override;
  std::vector<CostGroup> get_cost_breakdown(CostGrouping grouping,
                                            const ExecutionFilter& filter) override;
  std::size_t delete_old_executions(double older_than) override;
  void clear_all() override;

  int schema_version() const;
  // Recomputes every rollup from the execution rows (a repair tool; normal writes keep them
  // up to date).
  void rebuild_rollups();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagura::storage
