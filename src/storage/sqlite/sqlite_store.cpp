#include "kagura/storage/sqlite_store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "storage/aggregate.hpp"
#include "storage/sqlite/raw_statement.hpp"
#include "storage/sqlite/rollups.hpp"
#include "storage/sqlite/sqlite_schema.hpp"
#include "storage/sqlite/wal_checkpointer.hpp"
#include "telemetry/execution_json.hpp"

namespace kagura::storage {
namespace {

using telemetry::Execution;
using telemetry::ExecutionStatus;

constexpr int kBusyTimeoutMs = 10000;
constexpr int kOpenFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI;

constexpr const char* kInsertExecution =
    "INSERT INTO executions (seq, id, trace_id, parent_id, agent_name, started_at, duration, "
    "status, error, error_type, model, llm_calls, tool_calls, memory_operations, "
    "prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, unpriced_llm_calls, "
    "cost_nanos, kwargs, events, custom_metrics, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING";

// seq, the rowid, orders rows by start time: microseconds times kSeqSlots, plus a slot taken
// from the id so that executions starting in the same microsecond rarely collide (a collision
// moves to another slot of the same microsecond).
constexpr std::int64_t kSeqSlots = 1024;
// When all the slots of a microsecond are taken (imported records with timestamps in whole
// seconds, say), a row spills into the following microseconds, at most this many: such rows
// may then sort up to a second after their neighbours, but every time filter stays exact
// because it also compares started_at, and the seq bounds below leave room for the spill.
constexpr std::int64_t kSpillMicros = 1'000'000;
constexpr std::int64_t kProbes = 16;

// Times the seq cannot hold (after the year 2255, long before 1970, NaN) are clamped: the order
// among such rows is approximate, and time filters stay exact since they compare started_at.
// Unclamped, the dashboard's `until=7732-11-26` overflowed the multiplication (found by
// fuzz/dashboard_params_fuzzer.cpp).
std::int64_t seq_floor(double started_at) {
  constexpr double kMaxMicros = static_cast<double>(
      std::numeric_limits<std::int64_t>::max() / kSeqSlots - 2 * (1 + kSpillMicros));
  const double micros = std::floor(started_at * 1e6);
  const double clamped =
      micros < kMaxMicros ? (micros > -kMaxMicros ? micros : -kMaxMicros) : kMaxMicros;
  return static_cast<std::int64_t>(clamped) * kSeqSlots;
}

// The first seq above every row that started before `started_at`, spilled rows included.
std::int64_t seq_ceiling(double started_at) {
  return seq_floor(started_at) + kSeqSlots * (1 + kSpillMicros);
}

// From the id's last eight bytes: the random tail of a generated UUIDv7, and cheaper than
// hashing the whole id, which showed in the writer's profile.
std::int64_t preferred_slot(const std::string& id) {
  std::uint64_t tail = 0;
  const std::size_t n = std::min<std::size_t>(id.size(), sizeof tail);
  std::memcpy(&tail, id.data() + id.size() - n, n);
  tail *= 0x9E3779B97F4A7C15ULL;  // Fibonacci hashing spreads the hex digits over the slots
  static_assert(kSeqSlots == 1 << 10);
  return static_cast<std::int64_t>(tail >> 54);  // top 10 bits: 0 .. kSeqSlots - 1
}

constexpr const char* kSummaryColumns =
    "status, duration, started_at, llm_calls, tool_calls, memory_operations, prompt_tokens, "
    "completion_tokens, cached_tokens, reasoning_tokens, unpriced_llm_calls, cost_nanos";

constexpr const char* kRecordColumns =
    "id, coalesce(trace_id, id), parent_id, agent_name, started_at, NULL, duration, status, "
    "error, "
    "error_type, llm_calls, tool_calls, memory_operations, prompt_tokens, completion_tokens, "
    "cached_tokens, reasoning_tokens, unpriced_llm_calls, cost_nanos, kwargs, custom_metrics, "
    "tags";

std::string_view text_of(const SQLite::Column& column) {
  if (column.isNull()) return {};
  return {static_cast<const char*>(column.getBlob()), static_cast<std::size_t>(column.getBytes())};
}

// A WHERE clause built from a filter, with its parameters bound in order. Only bound
// parameters ever reach the SQL text.
class Where {
 public:
  void add(std::string_view condition) {
    sql_ += sql_.empty() ? " WHERE " : " AND ";
    sql_ += condition;
  }
  void text(std::string condition, std::string value) {
    add(std::move(condition));
    params_.emplace_back(std::move(value));
  }
  void texts(std::string condition, std::initializer_list<std::string> values) {
    add(std::move(condition));
    for (const auto& value : values) params_.emplace_back(value);
  }
  void real(std::string condition, double value) {
    add(std::move(condition));
    params_.emplace_back(value);
  }
  void integer(std::string condition, std::int64_t value) {
    add(std::move(condition));
    params_.emplace_back(value);
  }
  const std::string& sql() const { return sql_; }
  int bind(SQLite::Statement& statement, int first = 1) const {
    int index = first;
    for (const auto& param : params_) {
      std::visit([&](const auto& value) { statement.bind(index, value); }, param);
      ++index;
    }
    return index;
  }

 private:
  std::string sql_;
  std::vector<std::variant<std::string, double, std::int64_t>> params_;
};

void add_identity_filters(Where& where, const ExecutionFilter& filter) {
  if (filter.agent_name) where.text("agent_name = ?", *filter.agent_name);
  if (filter.status) {
    where.text("status = ?", std::string(telemetry::to_string(*filter.status)));
    // Spelled out so that SQLite can use the partial index of unfinished and failed runs,
    // which it only considers when the query repeats the index's own condition.
    if (*filter.status != telemetry::ExecutionStatus::completed) {
      where.add("status != 'completed'");
    }
  }
}

// Time bounds go on seq too, which lets SQLite read just that part of the table; the
// started_at condition then makes them exact.
Where row_filter(const ExecutionFilter& filter, double from, double to) {
  Where where;
  add_identity_filters(where, filter);
  if (from > -1e299) {
    where.integer("seq >= ?", seq_floor(from));
    where.real("started_at >= ?", from);
  }
  if (to < 1e299) {
    where.integer("seq < ?", seq_ceiling(to));
    where.real("started_at < ?", to);
  }
  return where;
}

Where bucket_filter(const ExecutionFilter& filter, const detail::TimeSplit& split) {
  Where where;
  add_identity_filters(where, filter);
  where.integer("bucket >= ?", split.first_bucket);
  where.integer("bucket < ?", split.end_bucket);
  return where;
}

// SQLite gives the -wal and -shm files the mode of the database file, so a process that opened
// the database while the file was read-only leaves them read-only; every later connection is
// then read-only too (it cannot write the shared memory), although the database is writable
// again. They take the database file's mode back. Best effort: whatever fails here, opening
// reports.
void restore_wal_file_modes(const std::string& path) {
  if (::access(path.c_str(), W_OK) != 0) return;
  std::error_code error;
  const auto mode = std::filesystem::status(path, error).permissions();
  if (error) return;
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string file = path + suffix;
    if (::access(file.c_str(), F_OK) == 0 && ::access(file.c_str(), W_OK) != 0) {
      std::filesystem::permissions(file, mode, std::filesystem::perm_options::replace, error);
    }
  }
}

std::vector<detail::TimeSplit::Range> row_ranges(const detail::TimeSplit& split) {
  std::vector<detail::TimeSplit::Range> ranges;
  for (const auto& range : {split.whole, split.head, split.tail}) {
    if (range) ranges.push_back(*range);
  }
  return ranges;
}

// Switching a file to WAL takes an exclusive lock, and SQLite reports SQLITE_BUSY at once
// instead of calling the busy handler while another connection holds the file, e.g. a second
// process opening a new store at the same moment. Retry for as long as the busy timeout.
void enable_wal(SQLite::Database& db) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Everything the insert of one execution's row binds, with its text in the batch's JsonArena.
// Building it needs no database, so the pipeline does it in prepare(), on another thread than
// the writes; the writer then reads this compact, sequential form instead of the executions.
struct EncodedRow {
  using Slice = telemetry::detail::JsonArena::Slice;
  std::int64_t seq_base = 0;
  std::int64_t seq_slot = 0;
  double started_at = 0;
  std::optional<double> duration;
  telemetry::ExecutionStatus status = telemetry::ExecutionStatus::running;
  struct Counts {
    std::int64_t llm_calls, tool_calls, memory_operations, prompt_tokens, completion_tokens,
        cached_tokens, reasoning_tokens, unpriced_llm_calls, cost_nanos;
  } counts{};
  // Text columns; an empty slice binds NULL.
  Slice id, trace_id, parent_id, agent_name, error, error_type, model;
  Slice kwargs, events, custom_metrics, tags;  // JSON
};

struct EncodedRows {
  telemetry::detail::JsonArena arena;
  std::vector<EncodedRow> rows;

  void encode(std::span<const Execution* const> batch) {
    arena.clear();
    rows.clear();
    encode_more(batch);
  }

  void encode_more(std::span<const Execution* const> batch) {
    using Slice = EncodedRow::Slice;
    const std::size_t first = rows.size();
    rows.resize(first + batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Execution& e = *batch[i];
      EncodedRow& row = rows[first + i];
      row.seq_base = seq_floor(e.started_at);
      row.seq_slot = preferred_slot(e.id);
      row.started_at = e.started_at;
      row.duration = e.duration;
      if (!row.duration && e.ended_at) row.duration = *e.ended_at - e.started_at;
      row.status = e.status;
      const auto& m = e.metrics;
      row.counts = {m.llm_calls,        m.tool_calls,         m.memory_operations,
                    m.prompt_tokens,    m.completion_tokens,  m.cached_tokens,
                    m.reasoning_tokens, m.unpriced_llm_calls, m.cost_nanos};
      row.id = arena.append_text(e.id);
      // A root's trace id is its own id: stored as NULL, read back with coalesce().
      row.trace_id = e.trace_id == e.id ? Slice{} : arena.append_text(e.trace_id);
      row.parent_id = arena.append_text(e.parent_id);
      row.agent_name = arena.append_text(e.agent_name);
      row.error = arena.append_text(e.error);
      row.error_type = arena.append_text(e.error_type);
      row.model = arena.append_text(e.primary_model());
      row.kwargs = arena.append_value(e.kwargs);
      row.events = arena.append_events_storage(e.events);
      row.custom_metrics =
          e.metrics.custom.empty() ? Slice{} : arena.append_custom_metrics(e.metrics.custom);
      row.tags = e.tags.empty() ? Slice{} : arena.append_tags(e.tags);
    }
  }
};

// The execution a row was encoded from, as the store will read it back: for the rare paths
// that need executions once a prepared batch has let them go (a retried batch with rows
// already stored, a batch spooled because the database refused it).
Execution decode_row(const EncodedRow& row, const telemetry::detail::JsonArena& arena) {
  Execution e;
  e.id = arena.view(row.id);
  e.trace_id = row.trace_id.size == 0 ? e.id : std::string(arena.view(row.trace_id));
  e.parent_id = arena.view(row.parent_id);
  e.agent_name = arena.view(row.agent_name);
  e.started_at = row.started_at;
  e.duration = row.duration;
  if (row.duration) e.ended_at = row.started_at + *row.duration;
  e.status = row.status;
  e.error = arena.view(row.error);
  e.error_type = arena.view(row.error_type);
  auto& m = e.metrics;
  const auto& c = row.counts;
  m.llm_calls = c.llm_calls;
  m.tool_calls = c.tool_calls;
  m.memory_operations = c.memory_operations;
  m.prompt_tokens = c.prompt_tokens;
  m.completion_tokens = c.completion_tokens;
  m.cached_tokens = c.cached_tokens;
  m.reasoning_tokens = c.reasoning_tokens;
  m.unpriced_llm_calls = c.unpriced_llm_calls;
  m.cost_nanos = c.cost_nanos;
  e.kwargs = nlohmann::json::parse(arena.view(row.kwargs));
  if (row.custom_metrics.size != 0) {
    const auto custom = nlohmann::json::parse(arena.view(row.custom_metrics));
    for (const auto& [name, value] : custom.items()) m.custom.emplace(name, value);
  }
  if (row.tags.size != 0) e.tags = telemetry::detail::parse_tags_json(arena.view(row.tags));
  e.events = telemetry::detail::parse_events_storage(arena.view(row.events));
  return e;
}

// Encoded batches go back here when written, so that their buffers serve the next batches
// instead of being freed and allocated again. Shared with the prepared batches, which may
// outlive the store.
class EncodedRowsPool {
 public:
  std::unique_ptr<EncodedRows> take() {
    std::lock_guard lock(mutex_);
    if (spare_.empty()) return std::make_unique<EncodedRows>();
    auto rows = std::move(spare_.back());
    spare_.pop_back();
    return rows;
  }
  void give_back(std::unique_ptr<EncodedRows> rows) {
    std::lock_guard lock(mutex_);
    // The pipeline has at most a few batches in flight; more spares would only hold memory.
    if (spare_.size() < 4) spare_.push_back(std::move(rows));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<EncodedRows>> spare_;
};

// Keeps only the encoded rows: the executions go as soon as they are encoded, while their
// memory is still in the caches, and go back to the collector's recycler or the allocator
// from there (measured in bench/store_bench.cpp: a fifth less CPU for the whole ingest).
class SqlitePreparedBatch final : public PreparedBatch {
 public:
  SqlitePreparedBatch(std::vector<std::shared_ptr<const Execution>> batch,
                      std::shared_ptr<EncodedRowsPool> pool)
      : PreparedBatch({}), pool_(std::move(pool)), encoded_(pool_->take()) {
    encoded_->encode({});
    extend(std::move(batch));
  }
  ~SqlitePreparedBatch() override { pool_->give_back(std::move(encoded_)); }
  SqlitePreparedBatch(const SqlitePreparedBatch&) = delete;
  SqlitePreparedBatch& operator=(const SqlitePreparedBatch&) = delete;

  void extend(std::vector<std::shared_ptr<const Execution>> more) {
    std::vector<const Execution*> added;
    added.reserve(more.size());
    for (const auto& e : more) added.push_back(e.get());
    encoded_->encode_more(added);
    // The rollups too, off the writer's thread; used when every row turns out to be new.
    for (const auto* e : added) rollups_.add(*e);
    count_released(more.size());
  }

  const EncodedRows& encoded() const noexcept { return *encoded_; }
  // The rollups of all executions of the batch, as prepared.
  sqlite_detail::RollupDelta& rollups() noexcept { return rollups_; }

 private:
  std::vector<std::shared_ptr<const Execution>> rebuild_executions() const override {
    std::vector<std::shared_ptr<const Execution>> all;
    all.reserve(encoded_->rows.size());
    for (const auto& row : encoded_->rows) {
      all.push_back(std::make_shared<const Execution>(decode_row(row, encoded_->arena)));
    }
    return all;
  }

  sqlite_detail::RollupDelta rollups_;
  std::shared_ptr<EncodedRowsPool> pool_;
  std::unique_ptr<EncodedRows> encoded_;
};

}  // namespace

struct SqliteStore::Impl {
  std::string path;
  std::mutex mutex;
  SQLite::Database db;
  sqlite_detail::RawStatement insert;
  // Prepared on the first microsecond that fills up, which most stores never see.
  std::optional<SQLite::Statement> max_seq_in_range;
  // Reused by save_executions() for the rows of each batch.
  EncodedRows rows;
  std::shared_ptr<EncodedRowsPool> pool = std::make_shared<EncodedRowsPool>();
  sqlite_detail::RollupDelta rollups;
  std::vector<bool> inserted_rows;  // of the batch being written
  // Declared after db: destroyed first, so its thread and connection are gone before db's
  // close checkpoints what is left of the log.
  sqlite_detail::WalCheckpointer checkpointer;

  static SQLite::Database open(const std::string& path) {
    try {
      if (path != kMemory && !path.starts_with("file:")) {
        const auto parent = std::filesystem::path(path).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent);
        restore_wal_file_modes(path);
      }
      // Every use of the connection holds Impl::mutex, so SQLite's own per-call locking
      // (serialized mode) would only add a lock and unlock to every bind and step.
      SQLite::Database db(path, kOpenFlags | SQLite::OPEN_NOMUTEX, kBusyTimeoutMs);
      // Larger pages suit rows of about half a kilobyte; only takes effect on a new file.
      db.exec("PRAGMA page_size = 16384");
      if (path != kMemory) enable_wal(db);
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA temp_store = MEMORY");
      db.exec("PRAGMA cache_size = -16384");  // 16 MiB keeps the indexes hot while ingesting
      sqlite_detail::migrate(db, path);
      return db;
    } catch (const StorageError&) {
      throw;
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() == SQLITE_NOTADB) {
        throw StorageError("sqlite telemetry store " + path + " is not a SQLite database (" +
                           e.what() +
                           "): move the file aside or point KAGURA_TELEMETRY_CONNECTION at "
                           "another path");
      }
      if (e.getErrorCode() == SQLITE_CORRUPT) {
        throw StorageError("sqlite telemetry store " + path + " is damaged (" + e.what() +
                           "): move the file aside (sqlite3 FILE .recover saves what it can) "
                           "or point KAGURA_TELEMETRY_CONNECTION at another path");
      }
      std::string message = "cannot open sqlite telemetry store " + path + ": " + e.what() +
                            ": check that the directory exists and is writable, or point "
                            "KAGURA_TELEMETRY_CONNECTION at another path";
      // A full disk, a read-only or unreadable file system, a lock held too long: the file
      // may be fine again later, so the pipeline keeps executions in its spool meanwhile, as
      // for a server that is down, instead of recording nothing.
      switch (e.getErrorCode()) {
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
          throw StoreUnreachableError(message);
        default:
          throw StorageError(message);
      }
    } catch (const std::filesystem::filesystem_error& e) {
      throw StoreUnreachableError("cannot create the directory of sqlite telemetry store " + path +
                                  ": " + e.what());
    }
  }

  explicit Impl(std::string p)
      : path(std::move(p)),
        db(open(path)),
        insert(db, kInsertExecution),
        checkpointer(path, kOpenFlags) {
    checkpointer.attach(db);
  }

  StorageError error(std::string_view what, const std::exception& e) const {
    return StorageError("sqlite telemetry store " + path + ": " + std::string(what) +
                        " failed: " + e.what());
  }

  // Inserts one row; false when its id is already stored. A clash of seq (two executions in
  // the same microsecond and slot) moves to the next free slot of that microsecond.
  bool insert_row(const EncodedRow& row, const telemetry::detail::JsonArena& arena) {
    const auto bind_text = [&](int index, EncodedRow::Slice slice) {
      if (slice.size == 0) {
        insert.bind_null(index);
      } else {
        insert.bind_text(index, arena.view(slice));
      }
    };
    std::int64_t seq = row.seq_base + row.seq_slot;
    for (std::int64_t attempt = 0;; ++attempt) {
      insert.bind(1, seq);
      bind_text(2, row.id);
      bind_text(3, row.trace_id);
      bind_text(4, row.parent_id);
      bind_text(5, row.agent_name);
      insert.bind(6, row.started_at);
      if (row.duration) {
        insert.bind(7, *row.duration);
      } else {
        insert.bind_null(7);
      }
      insert.bind_text(8, telemetry::to_string(row.status));
      bind_text(9, row.error);
      bind_text(10, row.error_type);
      bind_text(11, row.model);
      const auto& c = row.counts;
      insert.bind(12, c.llm_calls);
      insert.bind(13, c.tool_calls);
      insert.bind(14, c.memory_operations);
      insert.bind(15, c.prompt_tokens);
      insert.bind(16, c.completion_tokens);
      insert.bind(17, c.cached_tokens);
      insert.bind(18, c.reasoning_tokens);
      insert.bind(19, c.unpriced_llm_calls);
      insert.bind(20, c.cost_nanos);
      bind_text(21, row.kwargs);
      bind_text(22, row.events);
      bind_text(23, row.custom_metrics);
      bind_text(24, row.tags);
      try {
        return insert.execute() == 1;
      } catch (const SQLite::Exception& error) {
        if (error.getExtendedErrorCode() != SQLITE_CONSTRAINT_PRIMARYKEY) throw;
      }
      // A few collisions are chance; more mean a crowd sharing this microsecond, which
      // probing slot by slot would make quadratic.
      if (attempt + 1 < kProbes) {
        seq = row.seq_base + (row.seq_slot + attempt + 1) % kSeqSlots;
      } else {
        seq = first_seq_after_spill(row.seq_base);
      }
    }
  }

  // The microsecond is crowded: the next seq after every row in it or spilled from it.
  std::int64_t first_seq_after_spill(std::int64_t seq_base) {
    const std::int64_t end = seq_base + kSeqSlots * (1 + kSpillMicros);
    if (!max_seq_in_range) {
      max_seq_in_range.emplace(db, "SELECT max(seq) FROM executions WHERE seq >= ? AND seq < ?");
    }
    max_seq_in_range->reset();
    max_seq_in_range->bind(1, seq_base);
    max_seq_in_range->bind(2, end);
    max_seq_in_range->executeStep();
    const std::int64_t next = max_seq_in_range->getColumn(0).getInt64() + 1;
    if (next >= end) {
      throw StorageError("sqlite telemetry store: more than " +
                         std::to_string(kSeqSlots * (1 + kSpillMicros)) +
                         " executions start within one second of each other at the same "
                         "microsecond; give them distinct start times");
    }
    return next;
  }

  // Writes a batch in one transaction: its rows, and the rollups of the rows that were new.
  // `prepared_rollups`, when given, are those of every row of the batch, computed beforehand;
  // they are used as they are unless a row was already stored.
  std::size_t write_rows(std::span<const EncodedRow> rows,
                         const telemetry::detail::JsonArena& arena,
                         sqlite_detail::RollupDelta* prepared_rollups = nullptr) {
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    inserted_rows.assign(rows.size(), false);
    std::size_t inserted = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (insert_row(rows[i], arena)) {
        inserted_rows[i] = true;
        ++inserted;
      }
    }
    if (prepared_rollups != nullptr && inserted == rows.size()) {
      prepared_rollups->apply(db);
    } else {
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (inserted_rows[i]) rollups.add(decode_row(rows[i], arena));
      }
      rollups.apply(db);
    }
    transaction.commit();
    return inserted;
  }

  Execution read_record(SQLite::Statement& row, bool with_events) {
    Execution e;
    e.id = row.getColumn(0).getString();
    e.trace_id = row.getColumn(1).getString();
    e.parent_id = std::string(text_of(row.getColumn(2)));
    e.agent_name = row.getColumn(3).getString();
    e.started_at = row.getColumn(4).getDouble();
    if (!row.getColumn(6).isNull()) {
      e.duration = row.getColumn(6).getDouble();
      e.ended_at = e.started_at + *e.duration;
    }
    e.status = telemetry::parse_execution_status(text_of(row.getColumn(7)));
    e.error = std::string(text_of(row.getColumn(8)));
    e.error_type = std::string(text_of(row.getColumn(9)));
    auto& m = e.metrics;
    m.llm_calls = row.getColumn(10).getInt64();
    m.tool_calls = row.getColumn(11).getInt64();
    m.memory_operations = row.getColumn(12).getInt64();
    m.prompt_tokens = row.getColumn(13).getInt64();
    m.completion_tokens = row.getColumn(14).getInt64();
    m.cached_tokens = row.getColumn(15).getInt64();
    m.reasoning_tokens = row.getColumn(16).getInt64();
    m.unpriced_llm_calls = row.getColumn(17).getInt64();
    m.cost_nanos = row.getColumn(18).getInt64();
    e.kwargs = nlohmann::json::parse(text_of(row.getColumn(19)));
    if (const auto custom = text_of(row.getColumn(20)); !custom.empty()) {
      // Named, not a temporary in the range-for: items() only refers to the parsed object,
      // and a temporary would be destroyed before the loop body runs.
      const auto metrics = nlohmann::json::parse(custom);
      for (const auto& [name, value] : metrics.items()) m.custom.emplace(name, value);
    }
    if (const auto tags = text_of(row.getColumn(21)); !tags.empty()) {
      e.tags = telemetry::detail::parse_tags_json(tags);
    }
    if (with_events) e.events = telemetry::detail::parse_events_storage(text_of(row.getColumn(22)));
    return e;
  }

  // Adds the rows in `where` to `accumulate` one summary at a time.
  // Calls accumulate(row, summary) for each execution row in `where`; `leading` names columns
  // selected before the summary (e.g. "agent_name, "), which start the row.
  template <typename Fn>
  void for_each_summary(const std::string& leading, const Where& where, Fn&& accumulate) {
    SQLite::Statement rows(
        db, "SELECT " + leading + kSummaryColumns + " FROM executions" + where.sql());
    where.bind(rows);
    const int first = leading.empty() ? 0 : 1;
    while (rows.executeStep()) {
      const auto column = [&](int offset) { return rows.getColumn(first + offset); };
      detail::ExecutionSummary s;
      s.status = telemetry::parse_execution_status(text_of(column(0)));
      if (!column(1).isNull()) s.duration = column(1).getDouble();
      s.started_at = column(2).getDouble();
      s.llm_calls = column(3).getInt64();
      s.tool_calls = column(4).getInt64();
      s.memory_operations = column(5).getInt64();
      s.prompt_tokens = column(6).getInt64();
      s.completion_tokens = column(7).getInt64();
      s.cached_tokens = column(8).getInt64();
      s.reasoning_tokens = column(9).getInt64();
      s.unpriced_llm_calls = column(10).getInt64();
      s.cost_nanos = column(11).getInt64();
      accumulate(rows, s);
    }
  }

  // Calls accumulate(key, status, totals) for each rollup cell in `where`; the key is the
  // column named by `key_sql`.
  template <typename Fn>
  void for_each_rollup_cell(const std::string& key_sql, const Where& where, Fn&& accumulate) {
    SQLite::Statement rows(db, "SELECT " + key_sql + ", status, " + sqlite_detail::kTotalsColumns +
                                   " FROM execution_rollups" + where.sql());
    where.bind(rows);
    while (rows.executeStep()) {
      const auto status = telemetry::parse_execution_status(text_of(rows.getColumn(1)));
      accumulate(rows.getColumn(0), status, sqlite_detail::read_totals(rows, 2));
    }
  }
};

SqliteStore::SqliteStore(std::string path) : impl_(std::make_unique<Impl>(std::move(path))) {}

SqliteStore::~SqliteStore() = default;

std::string SqliteStore::location() const {
  return impl_->path;
}

void SqliteStore::require_durable_commits() {
  std::lock_guard lock(impl_->mutex);
  try {
    impl_->db.exec("PRAGMA synchronous = FULL");
  } catch (const std::exception& e) {
    throw impl_->error("PRAGMA synchronous = FULL", e);
  }
}

int SqliteStore::schema_version() const {
  std::lock_guard lock(impl_->mutex);
  return sqlite_detail::schema_version(impl_->db);
}

std::size_t SqliteStore::save_executions(std::span<const Execution* const> batch) {
  if (batch.empty()) return 0;
  std::lock_guard lock(impl_->mutex);
  try {
    impl_->rows.encode(batch);
    return impl_->write_rows(impl_->rows.rows, impl_->rows.arena);
  } catch (const std::exception& e) {
    impl_->rollups = {};
    impl_->insert.reset();
    throw impl_->error("saving " + std::to_string(batch.size()) + " executions", e);
  }
}

std::unique_ptr<PreparedBatch> SqliteStore::prepare(
    std::vector<std::shared_ptr<const Execution>> batch) {
  return std::make_unique<SqlitePreparedBatch>(std::move(batch), impl_->pool);
}

void SqliteStore::prepare_more(PreparedBatch& batch,
                               std::vector<std::shared_ptr<const Execution>> more) {
  auto* prepared = dynamic_cast<SqlitePreparedBatch*>(&batch);
  if (prepared == nullptr) {
    throw std::invalid_argument("SqliteStore::prepare_more: a batch this store did not prepare");
  }
  prepared->extend(std::move(more));
}

std::size_t SqliteStore::write_prepared(PreparedBatch& batch) {
  auto* prepared = dynamic_cast<SqlitePreparedBatch*>(&batch);
  if (prepared == nullptr) return save_executions(batch.pointers());
  if (prepared->size() == 0) return 0;
  std::lock_guard lock(impl_->mutex);
  try {
    const auto& encoded = prepared->encoded();
    // The prepared rollups count every execution of the batch, skipped ones too.
    auto* rollups = prepared->skipped() == 0 ? &prepared->rollups() : nullptr;
    return impl_->write_rows(std::span<const EncodedRow>(encoded.rows).subspan(prepared->skipped()),
                             encoded.arena, rollups);
  } catch (const std::exception& e) {
    impl_->rollups = {};
    impl_->insert.reset();
    throw impl_->error("saving " + std::to_string(prepared->size()) + " executions", e);
  }
}

std::optional<Execution> SqliteStore::get_execution(std::string_view id_or_prefix) {
  std::string prefix(id_or_prefix);
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (prefix.empty()) return std::nullopt;
  std::lock_guard lock(impl_->mutex);
  try {
    SQLite::Statement rows(impl_->db, std::string("SELECT ") + kRecordColumns +
                                          ", events FROM executions WHERE id >= ? AND id < ? "
                                          "ORDER BY id LIMIT 2");
    rows.bind(1, prefix);
    rows.bind(2, prefix + "\x7f");  // every id with this prefix sorts below it
    if (!rows.executeStep()) return std::nullopt;
    Execution first = impl_->read_record(rows, true);
    if (first.id != prefix && rows.executeStep()) {
      throw AmbiguousIdError("execution id prefix '" + prefix +
                             "' matches more than one execution: give more characters");
    }
    return first;
  } catch (const StorageError&) {
    throw;
  } catch (const std::exception& e) {
    throw impl_->error("reading execution " + prefix, e);
  }
}

std::vector<Execution> SqliteStore::get_executions(const ExecutionQuery& query) {
  std::lock_guard lock(impl_->mutex);
  try {
    Where where = row_filter(query, query.since.value_or(-1e300), query.until.value_or(1e300));
    if (query.trace_id) {
      // The root's id is the trace id; only children are in the (partial) trace index.
      where.texts("(id = ? OR (trace_id = ? AND parent_id IS NOT NULL))",
                  {*query.trace_id, *query.trace_id});
    }
    std::string sql = std::string("SELECT ") + kRecordColumns +
                      (query.include_events ? ", events" : "") + " FROM executions" + where.sql() +
                      " ORDER BY seq DESC LIMIT ? OFFSET ?";
    SQLite::Statement rows(impl_->db, sql);
    const int next = where.bind(rows);
    rows.bind(next, std::max<std::int64_t>(query.limit, 0));
    rows.bind(next + 1, std::max<std::int64_t>(query.offset, 0));
    std::vector<Execution> result;
    while (rows.executeStep()) result.push_back(impl_->read_record(rows, query.include_events));
    return result;
  } catch (const std::exception& e) {
    throw impl_->error("listing executions", e);
  }
}

std::int64_t SqliteStore::count_executions(const ExecutionFilter& filter) {
  return get_summary_stats(filter).total_executions;
}

SummaryStats SqliteStore::get_summary_stats(const ExecutionFilter& filter) {
  std::lock_guard lock(impl_->mutex);
  try {
    detail::StatsAccumulator stats;
    const auto split = detail::split_time_range(filter.since, filter.until);
    if (split.has_buckets) {
      impl_->for_each_rollup_cell(
          "bucket", bucket_filter(filter, split),
          [&](const SQLite::Column&, ExecutionStatus status, const detail::Totals& totals) {
            stats.merge(status, totals);
          });
    }
    for (const auto& range : row_ranges(split)) {
      impl_->for_each_summary(
          "", row_filter(filter, range.from, range.to),
          [&](SQLite::Statement&, const detail::ExecutionSummary& s) { stats.add(s); });
    }
    return stats.to_stats();
  } catch (const std::exception& e) {
    throw impl_->error("computing summary stats", e);
  }
}

std::vector<CostGroup> SqliteStore::get_cost_breakdown(CostGrouping grouping,
                                                       const ExecutionFilter& filter) {
  std::lock_guard lock(impl_->mutex);
  try {
    const auto split = detail::split_time_range(filter.since, filter.until);
    std::vector<CostGroup> groups;
    if (grouping == CostGrouping::model) {
      std::unordered_map<std::string, detail::LlmTotals> by_model;
      if (split.has_buckets) {
        const Where where = bucket_filter(filter, split);
        SQLite::Statement rows(impl_->db,
                               "SELECT model, sum(calls), sum(prompt_tokens), "
                               "sum(completion_tokens), sum(cached_tokens), "
                               "sum(reasoning_tokens), sum(unpriced_calls), sum(cost_nanos) "
                               "FROM llm_rollups" +
                                   where.sql() + " GROUP BY model");
        where.bind(rows);
        while (rows.executeStep()) {
          detail::LlmTotals t;
          t.calls = rows.getColumn(1).getInt64();
          t.prompt_tokens = rows.getColumn(2).getInt64();
          t.completion_tokens = rows.getColumn(3).getInt64();
          t.cached_tokens = rows.getColumn(4).getInt64();
          t.reasoning_tokens = rows.getColumn(5).getInt64();
          t.unpriced_calls = rows.getColumn(6).getInt64();
          t.cost_nanos = rows.getColumn(7).getInt64();
          by_model[rows.getColumn(0).getString()].merge(t);
        }
      }
      for (const auto& range : row_ranges(split)) {
        // Edges of the range: the calls are inside each row's events.
        Where where = row_filter(filter, range.from, range.to);
        where.add("llm_calls > 0");
        SQLite::Statement rows(impl_->db, "SELECT events FROM executions" + where.sql());
        where.bind(rows);
        while (rows.executeStep()) {
          for (const auto& event :
               telemetry::detail::parse_events_storage(text_of(rows.getColumn(0)))) {
            if (const auto* call = std::get_if<telemetry::LlmCall>(&event.payload)) {
              by_model[call->model].add(*call);
            }
          }
        }
      }
      for (const auto& [model, totals] : by_model) {
        groups.push_back(detail::to_cost_group(model, totals));
      }
    } else {
      const bool by_day = grouping == CostGrouping::day;
      std::unordered_map<std::string, detail::Totals> by_key;
      if (split.has_buckets) {
        impl_->for_each_rollup_cell(
            by_day ? "bucket" : "agent_name", bucket_filter(filter, split),
            [&](const SQLite::Column& key, ExecutionStatus, const detail::Totals& totals) {
              const std::string name = by_day ? detail::utc_day(key.getInt64()) : key.getString();
              by_key[name].merge(totals);
            });
      }
      for (const auto& range : row_ranges(split)) {
        const Where where = row_filter(filter, range.from, range.to);
        impl_->for_each_summary(
            "agent_name, ", where, [&](SQLite::Statement& row, const detail::ExecutionSummary& s) {
              const std::string name = by_day ? detail::utc_day(detail::bucket_of(s.started_at))
                                              : row.getColumn(0).getString();
              by_key[name].add(s);
            });
      }
      for (const auto& [key, totals] : by_key) groups.push_back(detail::to_cost_group(key, totals));
    }
    detail::sort_cost_groups(groups, grouping);
    return groups;
  } catch (const std::exception& e) {
    throw impl_->error("computing the cost breakdown", e);
  }
}

std::size_t SqliteStore::delete_old_executions(double older_than) {
  std::lock_guard lock(impl_->mutex);
  try {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement remove(impl_->db, "DELETE FROM executions WHERE seq < ? AND started_at < ?");
    remove.bind(1, seq_ceiling(older_than));
    remove.bind(2, older_than);
    const auto deleted = static_cast<std::size_t>(remove.exec());
    // Whole buckets before the cut go; the bucket the cut falls in is rebuilt from its rows.
    const auto cut_bucket = detail::bucket_of(older_than);
    for (const char* table : {"execution_rollups", "llm_rollups"}) {
      SQLite::Statement drop(impl_->db, std::string("DELETE FROM ") + table + " WHERE bucket <= ?");
      drop.bind(1, cut_bucket);
      drop.exec();
    }
    const Where bucket_rows = row_filter({}, static_cast<double>(cut_bucket),
                                         static_cast<double>(cut_bucket + detail::kBucketSeconds));
    SQLite::Statement rows(impl_->db, std::string("SELECT ") + kRecordColumns +
                                          ", events FROM executions" + bucket_rows.sql());
    bucket_rows.bind(rows);
    while (rows.executeStep()) impl_->rollups.add(impl_->read_record(rows, true));
    impl_->rollups.apply(impl_->db);
    transaction.commit();
    return deleted;
  } catch (const std::exception& e) {
    impl_->rollups = {};
    throw impl_->error("deleting old executions", e);
  }
}

void SqliteStore::clear_all() {
  std::lock_guard lock(impl_->mutex);
  try {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    impl_->db.exec(
        "DELETE FROM executions; DELETE FROM execution_rollups; DELETE FROM llm_rollups");
    transaction.commit();
  } catch (const std::exception& e) {
    throw impl_->error("clearing the store", e);
  }
}

void SqliteStore::rebuild_rollups() {
  std::lock_guard lock(impl_->mutex);
  try {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    impl_->db.exec("DELETE FROM execution_rollups; DELETE FROM llm_rollups");
    SQLite::Statement rows(impl_->db, std::string("SELECT ") + kRecordColumns +
                                          ", events FROM executions ORDER BY seq");
    std::size_t pending = 0;
    while (rows.executeStep()) {
      impl_->rollups.add(impl_->read_record(rows, true));
      if (++pending == 10000) {
        impl_->rollups.apply(impl_->db);
        pending = 0;
      }
    }
    impl_->rollups.apply(impl_->db);
    transaction.commit();
  } catch (const std::exception& e) {
    impl_->rollups = {};
    throw impl_->error("rebuilding rollups", e);
  }
}

}  // namespace kagura::storage
