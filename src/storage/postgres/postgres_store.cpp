#include "kagura/storage/postgres_store.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "kagura/storage/connection_string.hpp"
#include "storage/aggregate.hpp"
#include "storage/postgres/connection.hpp"
#include "storage/postgres/rows.hpp"
#include "storage/postgres/schema.hpp"

namespace kagura::storage {
namespace {

using postgres_detail::double_text;
using postgres_detail::parse_double;
using postgres_detail::parse_int;
using telemetry::Execution;
using telemetry::ExecutionStatus;

// A WHERE clause built from a filter. Values only ever reach the server as parameters, so the
// SQL text depends on which filters are set, not on their values, and each shape is prepared
// once per connection.
class Where {
 public:
  explicit Where(const ExecutionFilter& filter) {
    if (filter.agent_name) add("agent_name = $", *filter.agent_name);
    if (filter.status) add("status = $", std::string(telemetry::to_string(*filter.status)));
    if (filter.since) add("started_at >= $::float8", double_text(*filter.since));
    if (filter.until) add("started_at < $::float8", double_text(*filter.until));
  }
  // `condition` holds one '$', which becomes this parameter's number.
  void add(std::string_view condition, std::string value) {
    params_.push_back(std::move(value));
    const auto dollar = condition.find('$');
    add_sql(std::string(condition.substr(0, dollar + 1)) + std::to_string(params_.size()) +
            std::string(condition.substr(dollar + 1)));
  }
  void add_sql(std::string condition) {
    sql_ += sql_.empty() ? " WHERE " : " AND ";
    sql_ += condition;
  }
  // The number the next parameter will have.
  std::string next() const { return "$" + std::to_string(params_.size() + 1); }
  void push(std::string value) { params_.push_back(std::move(value)); }
  const std::string& sql() const noexcept { return sql_; }
  const std::vector<std::string>& params() const noexcept { return params_; }

 private:
  std::string sql_;
  std::vector<std::string> params_;
};

class PostgresPreparedBatch final : public PreparedBatch {
 public:
  explicit PostgresPreparedBatch(std::vector<std::shared_ptr<const Execution>> batch)
      : PreparedBatch(std::move(batch)) {
    std::vector<const Execution*> all;
    all.reserve(executions().size());
    for (const auto& e : executions()) all.push_back(e.get());
    encoded_.encode(all);
  }
  std::string parameter() const { return encoded_.parameter(skipped()); }

 private:
  postgres_detail::EncodedBatch encoded_;
};

// Exact percentiles of the durations matching the filter: the value of rank floor(q * (n - 1))
// in sorted order, which DurationSketch approximates on the SQLite store.
constexpr const char* kPercentiles =
    "SELECT d[floor(0.5::float8 * (n - 1))::bigint + 1], "
    "d[floor(0.95::float8 * (n - 1))::bigint + 1], "
    "d[floor(0.99::float8 * (n - 1))::bigint + 1] "
    "FROM (SELECT array_agg(duration ORDER BY duration) AS d, count(*) AS n FROM executions";

constexpr const char* kCostSums =
    "count(*), sum(llm_calls)::bigint, sum(prompt_tokens)::bigint, "
    "sum(completion_tokens)::bigint, sum(cached_tokens)::bigint, "
    "sum(unpriced_llm_calls)::bigint, sum(cost_nanos)::bigint";

// The LLM calls are the events of kind "l"; see write_events_storage() for their fields.
constexpr const char* kModelSums =
    "count(*), sum((c->>4)::bigint)::bigint, sum((c->>5)::bigint)::bigint, "
    "sum((c->>6)::bigint)::bigint, count(*) FILTER (WHERE c->>14 = 'false'), "
    "sum((c->>13)::bigint)::bigint";

}  // namespace

std::string mask_postgres_password(const std::string& connection_string) {
  return mask_connection_password(connection_string);
}

struct PostgresStore::Impl {
  std::mutex mutex;
  postgres_detail::Connection connection;

  explicit Impl(const std::string& connection_string)
      : connection(connection_string, mask_postgres_password(connection_string)) {
    connection.run("creating the schema", [&](pqxx::connection& c) {
      postgres_detail::migrate(c, connection.location());
      return 0;
    });
  }

  pqxx::result query(pqxx::transaction_base& tx, const std::string& sql,
                     const std::vector<std::string>& params) {
    return tx.exec_prepared(connection.statement(sql), pqxx::prepare::make_dynamic_params(params));
  }

  // One read in a read-only transaction; reconnects and retries once on a broken connection.
  pqxx::result read(std::string_view what, const std::string& sql,
                    const std::vector<std::string>& params) {
    return connection.run(what, [&](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      auto result = query(tx, sql, params);
      tx.commit();
      return result;
    });
  }

  std::size_t write(std::size_t count, const std::string& parameter) {
    return connection.run(
        "saving " + std::to_string(count) + " executions", [&](pqxx::connection& c) {
          pqxx::work tx(c);
          const auto result =
              tx.exec_prepared(connection.statement(postgres_detail::kInsertSql), parameter);
          tx.commit();
          return static_cast<std::size_t>(result.affected_rows());
        });
  }
};

PostgresStore::PostgresStore(std::string connection_string)
    : impl_(std::make_unique<Impl>(connection_string)) {}

PostgresStore::~PostgresStore() = default;

std::string PostgresStore::location() const {
  return impl_->connection.location();
}

int PostgresStore::schema_version() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connection.run("reading the schema version", [](pqxx::connection& c) {
    return postgres_detail::schema_version(c);
  });
}

std::size_t PostgresStore::save_executions(std::span<const Execution* const> batch) {
  if (batch.empty()) return 0;
  postgres_detail::EncodedBatch encoded;
  encoded.encode(batch);
  const std::string parameter = encoded.parameter(0);
  std::lock_guard lock(impl_->mutex);
  return impl_->write(batch.size(), parameter);
}

std::unique_ptr<PreparedBatch> PostgresStore::prepare(
    std::vector<std::shared_ptr<const Execution>> batch) {
  return std::make_unique<PostgresPreparedBatch>(std::move(batch));
}

std::size_t PostgresStore::write_prepared(PreparedBatch& batch) {
  auto* prepared = dynamic_cast<PostgresPreparedBatch*>(&batch);
  if (prepared == nullptr) return save_executions(batch.pointers());
  if (prepared->size() == 0) return 0;
  const std::string parameter = prepared->parameter();
  std::lock_guard lock(impl_->mutex);
  return impl_->write(prepared->size(), parameter);
}

std::optional<Execution> PostgresStore::get_execution(std::string_view id_or_prefix) {
  std::string prefix(id_or_prefix);
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  prefix.erase(std::remove(prefix.begin(), prefix.end(), '\0'), prefix.end());
  if (prefix.empty()) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  // Under the "C" collation every id with this prefix sorts in [prefix, prefix + 0x7f).
  const auto rows =
      impl_->read("reading execution " + prefix,
                  std::string("SELECT ") + postgres_detail::kRecordColumnsWithEvents +
                      " FROM executions WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 2",
                  {prefix, prefix + "\x7f"});
  if (rows.empty()) return std::nullopt;
  if (rows.size() > 1 && rows[0][0].c_str() != prefix) {
    throw AmbiguousIdError("execution id prefix '" + prefix +
                           "' matches more than one execution: give more characters");
  }
  try {
    return postgres_detail::read_execution(rows[0], true);
  } catch (const std::exception& e) {
    throw StorageError("postgresql telemetry store " + location() + ": reading execution " +
                       prefix + " failed: " + e.what());
  }
}

std::vector<Execution> PostgresStore::get_executions(const ExecutionQuery& query) {
  Where where(query);
  if (query.trace_id) where.add("trace_id = $", *query.trace_id);
  const std::string limit = where.next();
  where.push(std::to_string(std::max<std::int64_t>(query.limit, 0)));
  const std::string offset = where.next();
  where.push(std::to_string(std::max<std::int64_t>(query.offset, 0)));
  const std::string sql = std::string("SELECT ") +
                          (query.include_events ? postgres_detail::kRecordColumnsWithEvents
                                                : postgres_detail::kRecordColumns) +
                          " FROM executions" + where.sql() +
                          " ORDER BY started_at DESC, id DESC LIMIT " + limit + "::bigint OFFSET " +
                          offset + "::bigint";
  std::lock_guard lock(impl_->mutex);
  const auto rows = impl_->read("listing executions", sql, where.params());
  std::vector<Execution> result;
  result.reserve(rows.size());
  try {
    for (const auto& row : rows) {
      result.push_back(postgres_detail::read_execution(row, query.include_events));
    }
  } catch (const std::exception& e) {
    throw StorageError("postgresql telemetry store " + location() +
                       ": listing executions failed: " + e.what());
  }
  return result;
}

std::int64_t PostgresStore::count_executions(const ExecutionFilter& filter) {
  const Where where(filter);
  std::lock_guard lock(impl_->mutex);
  const auto rows = impl_->read("counting executions",
                                "SELECT count(*) FROM executions" + where.sql(), where.params());
  return parse_int(rows[0][0]);
}

SummaryStats PostgresStore::get_summary_stats(const ExecutionFilter& filter) {
  const Where where(filter);
  const std::string totals_sql =
      "SELECT status, count(*), count(duration), coalesce(sum(duration), 0), max(duration), "
      "sum(llm_calls)::bigint, sum(tool_calls)::bigint, sum(memory_operations)::bigint, "
      "sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint, sum(cached_tokens)::bigint, "
      "sum(reasoning_tokens)::bigint, sum(unpriced_llm_calls)::bigint, sum(cost_nanos)::bigint, "
      "min(started_at), max(started_at) FROM executions" +
      where.sql() + " GROUP BY status";
  Where durations(filter);
  durations.add_sql("duration IS NOT NULL");
  const std::string percentile_sql = std::string(kPercentiles) + durations.sql() + ") AS s";

  std::lock_guard lock(impl_->mutex);
  const auto [totals, percentiles] =
      impl_->connection.run("computing summary stats", [&](pqxx::connection& c) {
        // One snapshot for both queries, so the percentiles describe the same rows.
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
        auto totals = impl_->query(tx, totals_sql, where.params());
        auto percentiles = impl_->query(tx, percentile_sql, durations.params());
        tx.commit();
        return std::pair{std::move(totals), std::move(percentiles)};
      });

  SummaryStats s;
  std::int64_t with_duration = 0;
  double duration_sum = 0.0;
  for (const auto& row : totals) {
    const auto count = parse_int(row[1]);
    switch (telemetry::parse_execution_status(row[0].c_str())) {
      case ExecutionStatus::completed:
        s.completed += count;
        break;
      case ExecutionStatus::failed:
        s.failed += count;
        break;
      case ExecutionStatus::running:
        s.running += count;
        break;
    }
    s.total_executions += count;
    with_duration += parse_int(row[2]);
    duration_sum += parse_double(row[3]);
    if (!row[4].is_null()) s.max_duration = std::max(s.max_duration, parse_double(row[4]));
    s.llm_calls += parse_int(row[5]);
    s.tool_calls += parse_int(row[6]);
    s.memory_operations += parse_int(row[7]);
    s.prompt_tokens += parse_int(row[8]);
    s.completion_tokens += parse_int(row[9]);
    s.cached_tokens += parse_int(row[10]);
    s.reasoning_tokens += parse_int(row[11]);
    s.unpriced_llm_calls += parse_int(row[12]);
    s.cost_nanos += parse_int(row[13]);
    const double first = parse_double(row[14]);
    const double last = parse_double(row[15]);
    if (!s.first_started_at || first < *s.first_started_at) s.first_started_at = first;
    if (!s.last_started_at || last > *s.last_started_at) s.last_started_at = last;
  }
  s.total_tokens = s.prompt_tokens + s.completion_tokens;
  const auto finished = s.completed + s.failed;
  s.success_rate =
      finished == 0 ? 0.0 : static_cast<double>(s.completed) / static_cast<double>(finished);
  s.avg_duration = with_duration == 0 ? 0.0 : duration_sum / static_cast<double>(with_duration);
  if (!percentiles.empty()) {
    const auto& row = percentiles[0];
    if (!row[0].is_null()) s.p50_duration = parse_double(row[0]);
    if (!row[1].is_null()) s.p95_duration = parse_double(row[1]);
    if (!row[2].is_null()) s.p99_duration = parse_double(row[2]);
  }
  return s;
}

std::vector<CostGroup> PostgresStore::get_cost_breakdown(CostGrouping grouping,
                                                         const ExecutionFilter& filter) {
  Where where(filter);
  std::string sql;
  switch (grouping) {
    case CostGrouping::model:
      where.add_sql("llm_calls > 0");
      where.add_sql("c->>0 = 'l'");
      sql = std::string("SELECT c->>2, ") + kModelSums +
            " FROM executions CROSS JOIN LATERAL jsonb_array_elements(events) AS c" + where.sql() +
            " GROUP BY c->>2";
      break;
    case CostGrouping::agent:
      sql = std::string("SELECT agent_name, ") + kCostSums + " FROM executions" + where.sql() +
            " GROUP BY agent_name";
      break;
    case CostGrouping::day:
      // The day of the whole second, as the other backends take it: dividing the fractional
      // time could round a start just before midnight into the next day.
      sql = std::string("SELECT floor(floor(started_at) / 86400)::bigint, ") + kCostSums +
            " FROM executions" + where.sql() + " GROUP BY 1";
      break;
  }
  std::lock_guard lock(impl_->mutex);
  const auto rows = impl_->read("computing the cost breakdown", sql, where.params());
  std::vector<CostGroup> groups;
  groups.reserve(rows.size());
  for (const auto& row : rows) {
    CostGroup g;
    g.key = grouping == CostGrouping::day ? detail::utc_day(parse_int(row[0]) * detail::kDaySeconds)
                                          : std::string(row[0].c_str(), row[0].size());
    g.executions = grouping == CostGrouping::model ? 0 : parse_int(row[1]);
    g.llm_calls = grouping == CostGrouping::model ? parse_int(row[1]) : parse_int(row[2]);
    if (grouping == CostGrouping::model) {
      g.prompt_tokens = parse_int(row[2]);
      g.completion_tokens = parse_int(row[3]);
      g.cached_tokens = parse_int(row[4]);
      g.unpriced_llm_calls = parse_int(row[5]);
      g.cost_nanos = parse_int(row[6]);
    } else {
      g.prompt_tokens = parse_int(row[3]);
      g.completion_tokens = parse_int(row[4]);
      g.cached_tokens = parse_int(row[5]);
      g.unpriced_llm_calls = parse_int(row[6]);
      g.cost_nanos = parse_int(row[7]);
    }
    groups.push_back(std::move(g));
  }
  detail::sort_cost_groups(groups, grouping);
  return groups;
}

std::size_t PostgresStore::delete_old_executions(double older_than) {
  const std::string sql = "DELETE FROM executions WHERE started_at < $1::float8";
  const std::string cut = double_text(older_than);
  std::lock_guard lock(impl_->mutex);
  return impl_->connection.run("deleting old executions", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    const auto result = impl_->query(tx, sql, {cut});
    tx.commit();
    return static_cast<std::size_t>(result.affected_rows());
  });
}

void PostgresStore::clear_all() {
  std::lock_guard lock(impl_->mutex);
  impl_->connection.run("clearing the store", [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec0("DELETE FROM executions");
    tx.commit();
    return 0;
  });
}

}  // namespace kagura::storage
