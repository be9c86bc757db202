#pragma once

// A store that is opened when its server first answers. The global telemetry uses it when the
// configured database is unreachable as the program starts: executions then wait in the
// pipeline's spool and are delivered once the server is up, instead of the program running
// without telemetry. Every call tries to open the store until that succeeds; until then it
// throws the backend's StoreUnreachableError.

#include <memory>
#include <mutex>
#include <string>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::storage {

class DeferredStore final : public StorageAdapter {
 public:
  // Opens through create_storage_adapter(backend, connection) when first needed.
  DeferredStore(std::string backend, std::string connection);

  std::string backend_name() const override { return backend_; }
  std::string location() const override;
  // Whether the store has been opened yet.
  bool is_open() const;

  std::size_t save_executions(std::span<const telemetry::Execution* const> batch) override;
  // Applied now if the store is open, else as soon as it opens.
  void require_durable_commits() override;
  // The pipeline's two-phase writes go through save_executions(): a batch prepared before the
  // store opened could not carry the backend's own preparation anyway.
  std::optional<telemetry::Execution> get_execution(std::string_view id_or_prefix) override;
  std::vector<telemetry::Execution> get_executions(const ExecutionQuery& query) override;
  std::int64_t count_executions(const ExecutionFilter& filter) override;
  SummaryStats get_summary_stats(const ExecutionFilter& filter) override;
  std::vector<CostGroup> get_cost_breakdown(CostGrouping grouping,
                                            const ExecutionFilter& filter) override;
  std::size_t delete_old_executions(double older_than) override;
  void clear_all() override;

 private:
  std::shared_ptr<StorageAdapter> open();

  const std::string backend_;
  const std::string connection_;
  mutable std::mutex mutex_;
  std::shared_ptr<StorageAdapter> store_;
  bool durable_ = false;
};

}  // namespace kagura::storage
