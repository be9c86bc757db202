#include "kagura/storage/deferred_store.hpp"

#include "kagura/storage/connection_string.hpp"
#include "kagura/storage/factory.hpp"

namespace kagura::storage {

DeferredStore::DeferredStore(std::string backend, std::string connection)
    : backend_(std::move(backend)), connection_(std::move(connection)) {}

std::string DeferredStore::location() const {
  std::lock_guard lock(mutex_);
  return store_ ? store_->location() : mask_connection_password(connection_);
}

bool DeferredStore::is_open() const {
  std::lock_guard lock(mutex_);
  return store_ != nullptr;
}

std::shared_ptr<StorageAdapter> DeferredStore::open() {
  std::lock_guard lock(mutex_);
  if (!store_) {
    auto opened = create_storage_adapter(backend_, connection_);
    if (durable_) opened->require_durable_commits();
    store_ = std::move(opened);
  }
  return store_;
}

void DeferredStore::require_durable_commits() {
  std::lock_guard lock(mutex_);
  durable_ = true;
  if (store_) store_->require_durable_commits();
}

std::size_t DeferredStore::save_executions(std::span<const telemetry::Execution* const> batch) {
  return open()->save_executions(batch);
}

std::optional<telemetry::Execution> DeferredStore::get_execution(std::string_view id_or_prefix) {
  return open()->get_execution(id_or_prefix);
}

std::vector<telemetry::Execution> DeferredStore::get_executions(const ExecutionQuery& query) {
  return open()->get_executions(query);
}

std::int64_t DeferredStore::count_executions(const ExecutionFilter& filter) {
  return open()->count_executions(filter);
}

SummaryStats DeferredStore::get_summary_stats(const ExecutionFilter& filter) {
  return open()->get_summary_stats(filter);
}

std::vector<CostGroup> DeferredStore::get_cost_breakdown(CostGrouping grouping,
                                                         const ExecutionFilter& filter) {
  return open()->get_cost_breakdown(grouping, filter);
}

std::size_t DeferredStore::delete_old_executions(double older_than) {
  return open()->delete_old_executions(older_than);
}

void DeferredStore::clear_all() {
  open()->clear_all();
}

}  // namespace kagura::storage
