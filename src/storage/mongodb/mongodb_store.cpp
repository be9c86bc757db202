#include "kagura/storage/mongodb_store.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "storage/aggregate.hpp"
#include "storage/mongodb/execution_document.hpp"
#include "storage/mongodb/mongo_handles.hpp"
#include "storage/mongodb/mongo_uri.hpp"
#include "storage/mongodb/queries.hpp"

namespace kagura::storage {
namespace {

using namespace mongo_detail;
using telemetry::Execution;
using telemetry::ExecutionStatus;

constexpr std::int32_t kDuplicateKey = 11000;

void init_driver_once() {
  // Never paired with mongoc_cleanup(): stores may be destroyed by static destructors after
  // any point where it could run, and the process exit frees the driver anyway.
  static std::once_flag once;
  std::call_once(once, [] { mongoc_init(); });
}

// True when every write error in a bulk reply is a duplicate key: another writer stored the
// same execution between our existence check and the insert, which on a server enforcing the
// unique index is the exactly-once guarantee doing its job.
bool only_duplicate_keys(const bson_t* reply) {
  bson_iter_t iter, errors;
  if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &errors)) {
    return false;
  }
  bool any = false;
  while (bson_iter_next(&errors)) {
    bson_iter_t code;
    if (!BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &code) ||
        !bson_iter_find(&code, "code") || bson_iter_as_int64(&code) != kDuplicateKey) {
      return false;
    }
    any = true;
  }
  bson_iter_t concern;
  if (bson_iter_init_find(&concern, reply, "writeConcernErrors") &&
      BSON_ITER_HOLDS_ARRAY(&concern)) {
    bson_iter_t items;
    if (bson_iter_recurse(&concern, &items) && bson_iter_next(&items)) return false;
  }
  return any;
}

detail::Totals read_totals(const bson_t* d) {
  detail::Totals t;
  t.executions = integer_or(d, "executions", 0);
  t.with_duration = integer_or(d, "with_duration", 0);
  t.duration_sum = number_or(d, "duration_sum", 0.0);
  t.llm_calls = integer_or(d, "llm_calls", 0);
  t.tool_calls = integer_or(d, "tool_calls", 0);
  t.memory_operations = integer_or(d, "memory_operations", 0);
  t.prompt_tokens = integer_or(d, "prompt_tokens", 0);
  t.completion_tokens = integer_or(d, "completion_tokens", 0);
  t.cached_tokens = integer_or(d, "cached_tokens", 0);
  t.reasoning_tokens = integer_or(d, "reasoning_tokens", 0);
  t.unpriced_llm_calls = integer_or(d, "unpriced_llm_calls", 0);
  t.cost_nanos = integer_or(d, "cost_nanos", 0);
  if (t.executions > 0) {
    t.first_started_at = number_or(d, "first_started_at", 0.0);
    t.last_started_at = number_or(d, "last_started_at", 0.0);
  }
  return t;
}

}  // namespace

struct MongoStore::Impl {
  std::string masked_uri;
  std::string database_name;
  // One single-threaded client behind a mutex: a pooled client's monitor threads are not worth
  // it for one writer and the occasional reader, and they spin against the test server.
  std::mutex mutex;
  ClientHandle client;
  CollectionHandle collection;

  explicit Impl(const std::string& uri_text) : masked_uri(mask_password(uri_text)) {
    init_driver_once();
    bson_error_t error;
    UriHandle uri(mongoc_uri_new_with_error(uri_text.c_str(), &error));
    if (!uri) {
      throw StorageError("mongodb telemetry store: bad connection URI '" + masked_uri +
                         "': " + error.message +
                         ": give KAGURA_TELEMETRY_CONNECTION as mongodb://host:port/dbname");
    }
    const char* database = mongoc_uri_get_database(uri.get());
    database_name = database != nullptr && *database != '\0' ? database : kDefaultDatabase;
    client.reset(mongoc_client_new_from_uri(uri.get()));
    if (!client) {
      throw StorageError("mongodb telemetry store " + masked_uri +
                         ": the MongoDB C driver rejected the URI: check its options");
    }
    mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(client.get(), "kagura");
    collection.reset(
        mongoc_client_get_collection(client.get(), database_name.c_str(), kCollection));
    ping();
    create_indexes();
  }

  std::string where() const { return "mongodb telemetry store " + masked_uri; }

  StorageError failure(std::string_view what, const bson_error_t& error) const {
    return StorageError(where() + ": " + std::string(what) + " failed: " + error.message);
  }

  void ping() {
    Document command, reply;
    BSON_APPEND_INT32(command.get(), "ping", 1);
    bson_error_t error;
    if (!mongoc_client_command_simple(client.get(), "admin", command.get(), nullptr, reply.reset(),
                                      &error)) {
      throw StoreUnreachableError("cannot reach the MongoDB server of " + where() + ": " +
                                  error.message +
                                  ": start mongod there, or point KAGURA_TELEMETRY_CONNECTION at a "
                                  "reachable server (mongodb://host:port/dbname)");
    }
  }

  void create_indexes() {
    struct Index {
      const char* name;
      std::vector<std::pair<const char*, int>> keys;
      bool unique;
    };
    // The unique index is what makes writes exactly-once on MongoDB even with several writers;
    // the others serve the filters (agent, status, time) and the newest-first listing.
    const std::vector<Index> indexes = {
        {"execution_id_unique", {{field::kId, 1}}, true},
        {"started_at", {{field::kStartedAt, -1}, {field::kId, -1}}, false},
        {"agent_started_at", {{field::kAgent, 1}, {field::kStartedAt, -1}}, false},
        {"status_started_at", {{field::kStatus, 1}, {field::kStartedAt, -1}}, false},
        {"trace_id", {{field::kTraceId, 1}}, false},
    };
    Document command, reply;
    BSON_APPEND_UTF8(command.get(), "createIndexes", kCollection);
    bson_t list;
    BSON_APPEND_ARRAY_BEGIN(command.get(), "indexes", &list);
    for (std::size_t i = 0; i < indexes.size(); ++i) {
      const std::string index_key = std::to_string(i);
      bson_t spec, keys;
      BSON_APPEND_DOCUMENT_BEGIN(&list, index_key.c_str(), &spec);
      BSON_APPEND_DOCUMENT_BEGIN(&spec, "key", &keys);
      for (const auto& [name, order] : indexes[i].keys) BSON_APPEND_INT32(&keys, name, order);
      bson_append_document_end(&spec, &keys);
      BSON_APPEND_UTF8(&spec, "name", indexes[i].name);
      if (indexes[i].unique) BSON_APPEND_BOOL(&spec, "unique", true);
      bson_append_document_end(&list, &spec);
    }
    bson_append_array_end(command.get(), &list);
    bson_error_t error;
    if (!mongoc_client_write_command_with_opts(client.get(), database_name.c_str(), command.get(),
                                               nullptr, reply.reset(), &error)) {
      throw failure("creating the indexes", error);
    }
  }

  // Runs `fn(document)` for each document of the cursor, then throws if the cursor failed.
  template <typename Fn>
  void drain(CursorHandle cursor, std::string_view what, Fn&& fn) {
    const bson_t* document = nullptr;
    while (mongoc_cursor_next(cursor.get(), &document)) fn(document);
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) throw failure(what, error);
  }

  template <typename Fn>
  void aggregate(const bson_t* pipeline, std::string_view what, Fn&& fn) {
    drain(CursorHandle(mongoc_collection_aggregate(collection.get(), MONGOC_QUERY_NONE, pipeline,
                                                   nullptr, nullptr)),
          what, fn);
  }

  template <typename Fn>
  void find(const bson_t* filter, const bson_t* opts, std::string_view what, Fn&& fn) {
    drain(CursorHandle(mongoc_collection_find_with_opts(collection.get(), filter, opts, nullptr)),
          what, fn);
  }

  // The ids of `ids` already stored.
  std::unordered_set<std::string> existing(const std::vector<std::string>& ids) {
    Document filter, opts;
    bson_t condition, list, projection;
    BSON_APPEND_DOCUMENT_BEGIN(filter.get(), field::kId, &condition);
    BSON_APPEND_ARRAY_BEGIN(&condition, "$in", &list);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::string key = std::to_string(i);
      bson_append_utf8(&list, key.c_str(), -1, ids[i].data(), static_cast<int>(ids[i].size()));
    }
    bson_append_array_end(&condition, &list);
    bson_append_document_end(filter.get(), &condition);
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "projection", &projection);
    BSON_APPEND_INT32(&projection, field::kId, 1);
    bson_append_document_end(opts.get(), &projection);
    std::unordered_set<std::string> found;
    find(filter.get(), opts.get(), "checking which executions are stored",
         [&](const bson_t* d) { found.insert(text_or(d, field::kId)); });
    return found;
  }

  std::size_t insert(const std::vector<const Execution*>& executions) {
    Document opts;
    BSON_APPEND_BOOL(opts.get(), "ordered", false);
    BulkHandle bulk(
        mongoc_collection_create_bulk_operation_with_opts(collection.get(), opts.get()));
    telemetry::detail::JsonArena arena;
    bson_error_t error;
    for (const Execution* e : executions) {
      Document document;
      encode_execution(*e, arena, document.get());
      if (!mongoc_bulk_operation_insert_with_opts(bulk.get(), document.get(), nullptr, &error)) {
        throw failure("queueing execution " + e->id, error);
      }
    }
    Document reply;
    const bool ok = mongoc_bulk_operation_execute(bulk.get(), reply.reset(), &error) != 0;
    if (!ok && !only_duplicate_keys(reply.get())) throw failure("inserting executions", error);
    return static_cast<std::size_t>(integer_or(reply.get(), "nInserted", 0));
  }

  std::vector<Execution> read(const bson_t* filter, const bson_t* opts, bool with_events,
                              std::string_view what) {
    std::vector<Execution> result;
    find(filter, opts, what,
         [&](const bson_t* d) { result.push_back(decode_execution(d, with_events)); });
    return result;
  }

  std::size_t delete_many(const bson_t* selector, std::string_view what) {
    Document reply;
    bson_error_t error;
    if (!mongoc_collection_delete_many(collection.get(), selector, nullptr, reply.reset(),
                                       &error)) {
      throw failure(what, error);
    }
    return static_cast<std::size_t>(integer_or(reply.get(), "deletedCount", 0));
  }
};

MongoStore::MongoStore(const std::string& uri) : impl_(std::make_unique<Impl>(uri)) {}

MongoStore::~MongoStore() = default;

std::string MongoStore::location() const {
  return impl_->masked_uri;
}

std::size_t MongoStore::save_executions(std::span<const Execution* const> batch) {
  if (batch.empty()) return 0;
  std::lock_guard lock(impl_->mutex);
  // Unique indexes make duplicates fail on MongoDB, but not every server that speaks its
  // protocol enforces them (the test server does not), so the store skips ids already stored
  // or repeated within the batch before inserting.
  std::vector<std::string> ids;
  std::vector<const Execution*> unique;
  std::unordered_set<std::string_view> seen;
  for (const Execution* e : batch) {
    if (seen.insert(e->id).second) {
      unique.push_back(e);
      ids.push_back(e->id);
    }
  }
  const auto stored = impl_->existing(ids);
  std::vector<const Execution*> fresh;
  for (const Execution* e : unique) {
    if (stored.count(e->id) == 0) fresh.push_back(e);
  }
  if (fresh.empty()) return 0;
  return impl_->insert(fresh);
}

std::optional<Execution> MongoStore::get_execution(std::string_view id_or_prefix) {
  std::string prefix(id_or_prefix);
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (prefix.empty()) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  Document filter, opts;
  append_id_prefix(filter.get(), prefix);
  bson_t sort;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, field::kId, 1);
  bson_append_document_end(opts.get(), &sort);
  BSON_APPEND_INT64(opts.get(), "limit", 2);
  auto found = impl_->read(filter.get(), opts.get(), true, "reading execution " + prefix);
  if (found.empty()) return std::nullopt;
  if (found.size() > 1 && found.front().id != prefix) {
    throw AmbiguousIdError("execution id prefix '" + prefix +
                           "' matches more than one execution: give more characters");
  }
  return std::move(found.front());
}

std::vector<Execution> MongoStore::get_executions(const ExecutionQuery& query) {
  // MongoDB reads a limit of 0 as "no limit".
  if (query.limit <= 0) return {};
  std::lock_guard lock(impl_->mutex);
  Document filter, opts;
  append_filter(filter.get(), query);
  if (query.trace_id) BSON_APPEND_UTF8(filter.get(), field::kTraceId, query.trace_id->c_str());
  bson_t sort, projection;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, field::kStartedAt, -1);
  BSON_APPEND_INT32(&sort, field::kId, -1);
  bson_append_document_end(opts.get(), &sort);
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "projection", &projection);
  BSON_APPEND_INT32(&projection, field::kLlm, 0);
  if (!query.include_events) BSON_APPEND_INT32(&projection, "events", 0);
  bson_append_document_end(opts.get(), &projection);
  if (query.offset > 0) BSON_APPEND_INT64(opts.get(), "skip", query.offset);
  BSON_APPEND_INT64(opts.get(), "limit", query.limit);
  return impl_->read(filter.get(), opts.get(), query.include_events, "listing executions");
}

std::int64_t MongoStore::count_executions(const ExecutionFilter& filter) {
  std::lock_guard lock(impl_->mutex);
  Document match, reply;
  append_filter(match.get(), filter);
  bson_error_t error;
  const std::int64_t count = mongoc_collection_count_documents(
      impl_->collection.get(), match.get(), nullptr, nullptr, reply.reset(), &error);
  if (count < 0) throw impl_->failure("counting executions", error);
  return count;
}

SummaryStats MongoStore::get_summary_stats(const ExecutionFilter& filter) {
  std::lock_guard lock(impl_->mutex);
  std::unordered_map<std::string, detail::Totals> by_status;
  Document pipeline;
  build_totals_pipeline(pipeline.get(), filter, "$status");
  impl_->aggregate(pipeline.get(), "computing summary stats",
                   [&](const bson_t* d) { by_status[text_or(d, "_id")] = read_totals(d); });
  // Percentiles need the durations themselves: the sketch is filled here, from a projection of
  // just the duration and status of the matching executions.
  Document durations, opts;
  append_filter(durations.get(), filter);
  BSON_APPEND_INT32(durations.get(), field::kHasDuration, 1);
  bson_t projection;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "projection", &projection);
  BSON_APPEND_INT32(&projection, "_id", 0);
  BSON_APPEND_INT32(&projection, field::kStatus, 1);
  BSON_APPEND_INT32(&projection, field::kDuration, 1);
  bson_append_document_end(opts.get(), &projection);
  impl_->find(durations.get(), opts.get(), "reading durations", [&](const bson_t* d) {
    by_status[text_or(d, field::kStatus)].durations.add(number_or(d, field::kDuration, 0.0));
  });
  detail::StatsAccumulator stats;
  for (const auto& [status, totals] : by_status) {
    stats.merge(telemetry::parse_execution_status(status), totals);
  }
  return stats.to_stats();
}

std::vector<CostGroup> MongoStore::get_cost_breakdown(CostGrouping grouping,
                                                      const ExecutionFilter& filter) {
  std::lock_guard lock(impl_->mutex);
  std::vector<CostGroup> groups;
  Document pipeline;
  if (grouping == CostGrouping::model) {
    build_model_pipeline(pipeline.get(), filter);
    impl_->aggregate(pipeline.get(), "computing cost by model", [&](const bson_t* d) {
      detail::LlmTotals t;
      t.calls = integer_or(d, "calls", 0);
      t.prompt_tokens = integer_or(d, "prompt_tokens", 0);
      t.completion_tokens = integer_or(d, "completion_tokens", 0);
      t.cached_tokens = integer_or(d, "cached_tokens", 0);
      t.reasoning_tokens = integer_or(d, "reasoning_tokens", 0);
      t.unpriced_calls = integer_or(d, "unpriced", 0);
      t.cost_nanos = integer_or(d, "cost_nanos", 0);
      groups.push_back(detail::to_cost_group(text_or(d, "_id"), t));
    });
  } else {
    const bool by_day = grouping == CostGrouping::day;
    build_totals_pipeline(pipeline.get(), filter, by_day ? "$day" : "$agent_name");
    impl_->aggregate(pipeline.get(), by_day ? "computing cost by day" : "computing cost by agent",
                     [&](const bson_t* d) {
                       groups.push_back(detail::to_cost_group(text_or(d, "_id"), read_totals(d)));
                     });
  }
  detail::sort_cost_groups(groups, grouping);
  return groups;
}

std::size_t MongoStore::delete_old_executions(double older_than) {
  std::lock_guard lock(impl_->mutex);
  Document selector;
  bson_t range;
  BSON_APPEND_DOCUMENT_BEGIN(selector.get(), field::kStartedAt, &range);
  BSON_APPEND_DOUBLE(&range, "$lt", older_than);
  bson_append_document_end(selector.get(), &range);
  return impl_->delete_many(selector.get(), "deleting old executions");
}

void MongoStore::clear_all() {
  std::lock_guard lock(impl_->mutex);
  Document everything;
  impl_->delete_many(everything.get(), "clearing the store");
}

void MongoStore::drop_database() {
  std::lock_guard lock(impl_->mutex);
  DatabaseHandle database(
      mongoc_client_get_database(impl_->client.get(), impl_->database_name.c_str()));
  bson_error_t error;
  if (!mongoc_database_drop_with_opts(database.get(), nullptr, &error)) {
    throw impl_->failure("dropping database " + impl_->database_name, error);
  }
}

}  // namespace kagura::storage
