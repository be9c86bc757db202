#pragma once

// A telemetry store in MongoDB, through the MongoDB C driver (libmongoc; Debian has no C++
// driver). Connection strings are MongoDB URIs, "mongodb://host:port/dbname"; the database
// comes from the URI's path ("kagura" without one) and holds one collection, "executions".
//
// One document per execution, keyed by an indexed execution_id field rather than _id, so that
// _id stays the server's ObjectId. Stats and cost come from aggregation pipelines ($match,
// $group, $unwind) run by the server; duration percentiles from a DurationSketch filled with
// the matching durations, fetched through a projection.

#include <memory>
#include <string>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::storage {

class MongoStore final : public StorageAdapter {
 public:
  static constexpr const char* kDefaultDatabase = "kagura";
  static constexpr const char* kCollection = "executions";

  // Connects, checks that the server answers, and creates the indexes. Throws StorageError
  // naming the server (password masked) and the fix when the URI is malformed or the server
  // cannot be reached.
  explicit MongoStore(const std::string& uri);
  ~MongoStore() override;
  MongoStore(const MongoStore&) = delete;
  MongoStore& operator=(const MongoStore&) = delete;

  std::string backend_name() const override { return "mongodb"; }
  std::string location() const override;

  std::size_t save_executions(std::span<const telemetry::Execution* const> batch) override;
  std::optional<telemetry::Execution> get_execution(std::string_view id_or_prefix) override;
  std::vector<telemetry::Execution> get_executions(const ExecutionQuery& query) override;
  std::int64_t count_executions(const ExecutionFilter& filter) override;
  SummaryStats get_summary_stats(const ExecutionFilter& filter) override;
  std::vector<CostGroup> get_cost_breakdown(CostGrouping grouping,
                                            const ExecutionFilter& filter) override;
  std::size_t delete_old_executions(double older_than) override;
  void clear_all() override;

  // Drops the whole database; for tests that create a database per store.
  void drop_database();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kagura::storage
