#pragma once

// The JSON API behind the web dashboard, apart from HTTP: each call takes a request's query
// parameters and answers a JSON document, or throws ApiError with the HTTP status and a message
// saying what is wrong and how to fix it. Filters follow the rules of `kagura monitor`'s
// options (agent, status, since, until; times as parse_time_spec() reads them).

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::cli::dashboard {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

// Query parameters as httplib gives them.
using ApiParams = std::multimap<std::string, std::string>;

class WebApi {
 public:
  // `clock` gives the time relative spans ("24h") count back from; tests may fix it.
  explicit WebApi(std::shared_ptr<storage::StorageAdapter> store,
                  std::function<double()> clock = nullptr);

  // GET /api/summary: SummaryStats with the field names of `kagura monitor stats --json`.
  nlohmann::json summary(const ApiParams& params) const;
  // GET /api/timeseries?bucket=hour|day: executions and cost per UTC hour or day.
  nlohmann::json timeseries(const ApiParams& params) const;
  // GET /api/cost?by=model|agent|day: as `kagura monitor cost --json`, without the projection.
  nlohmann::json cost(const ApiParams& params) const;
  // GET /api/agents: every agent's summary, as `kagura monitor compare --json` rows.
  nlohmann::json agents(const ApiParams& params) const;
  // GET /api/executions: a page of executions, newest first, with the total that match.
  nlohmann::json executions(const ApiParams& params) const;
  // GET /api/executions/{id}: one execution (an unambiguous id prefix is enough) with its
  // events, and the tree of its child executions.
  nlohmann::json execution(std::string_view id_or_prefix) const;

 private:
  // A read that arrives while the same read (endpoint and parameters) is under way waits for
  // it and shares its answer: a store serves one read at a time, so sixteen dashboards polling
  // at once then cost one read instead of sixteen in a row. The answer is never older than the
  // read in flight when the request came.
  nlohmann::json shared_read(const std::string& endpoint, const ApiParams& params,
                             const std::function<nlohmann::json()>& read) const;

  std::shared_ptr<storage::StorageAdapter> store_;
  std::function<double()> clock_;
  mutable std::mutex in_flight_mutex_;
  mutable std::map<std::string, std::shared_future<nlohmann::json>> in_flight_;
};

// A JSON document as the API sends it; invalid UTF-8 from the store is replaced, not fatal.
std::string dump_json(const nlohmann::json& json);

}  // namespace kagura::cli::dashboard
