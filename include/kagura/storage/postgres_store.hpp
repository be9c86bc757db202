#pragma once

// A telemetry store on a PostgreSQL server, for teams that share one store between machines.
//
// One row per execution, with its events, arguments, custom metrics and tags as JSONB, so that
// the server itself computes stats and cost breakdowns (LLM calls grouped by model are read out
// of the events with jsonb_array_elements) and only the answers cross the network. A batch is
// written by one prepared INSERT that unpacks the whole batch from a single JSON parameter: one
// round trip and one transaction per batch, whatever its size.
//
// A connection that breaks (the server restarted, a proxy dropped it) is reopened once by the
// next call, which then runs again; writes are safe to repeat because ids already stored are
// skipped.

#include <memory>
#include <string>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::storage {

class PostgresStore final : public StorageAdapter {
 public:
  static constexpr int kSchemaVersion = 1;

  // Connects with a libpq connection string or URI, e.g.
  // "postgresql://user:password@host:5432/database", and creates or migrates the schema.
  // Throws StorageError naming the server (password masked) and the fix when the server is
  // unreachable, the password is wrong, the database is missing, or the schema is newer.
  explicit PostgresStore(std::string connection_string);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  std::string backend_name() const override { return "postgresql"; }
  std::string location() const override;

  std::size_t save_executions(std::span<const telemetry::Execution* const> batch) override;
  // Serialises the batch into the INSERT's parameter, so that the writer thread only talks to
  // the server.
  std::unique_ptr<PreparedBatch> prepare(
      std::vector<std::shared_ptr<const telemetry::Execution>> batch) override;
  std::size_t write_prepared(PreparedBatch& batch) override;
  std::optional<telemetry::Execution> get_execution(std::string_view id_or_prefix) override;
  std::vector<telemetry::Execution> get_executions(const ExecutionQuery& query) override;
  std::int64_t count_executions(const ExecutionFilter& filter) override;
  SummaryStats get_summary_stats(const ExecutionFilter& filter) override;
  std::vector<CostGroup> get_cost_breakdown(CostGrouping grouping,
                                            const ExecutionFilter& filter) override;
  std::size_t delete_old_executions(double older_than) override;
  void clear_all() override;

  int schema_version() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The connection string with any password replaced by "***", for messages.
std::string mask_postgres_password(const std::string& connection_string);

}  // namespace kagura::storage
