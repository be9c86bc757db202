// The background checkpoint of the SQLite store's write-ahead log.

#include "storage/sqlite/wal_checkpointer.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "support/test_support.hpp"

namespace kagura::storage::sqlite_detail {
namespace {

namespace fs = std::filesystem;

constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
constexpr int kPageSize = 4096;

SQLite::Database open_wal_database(const std::string& path) {
  SQLite::Database db(path, kFlags, /*busyTimeoutMs=*/10000);  // as the store opens it
  db.exec("PRAGMA page_size = " + std::to_string(kPageSize));
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload BLOB)");
  return db;
}

std::uintmax_t wal_frames(const std::string& path) {
  std::error_code ignored;
  const auto size = fs::file_size(path + "-wal", ignored);
  return ignored ? 0 : size / (kPageSize + 24);  // a frame is a page and a 24-byte header
}

// Commits small transactions of ~1 KiB rows, as the pipeline does, until `done` says stop or
// `max_rows` rows are written; returns the rows written.
std::int64_t write_until(SQLite::Database& db, const std::function<bool()>& done,
                         std::int64_t max_rows) {
  const std::string payload(kPageSize / 4, 'x');
  SQLite::Statement insert(db, "INSERT INTO t (payload) VALUES (?)");
  std::int64_t rows = 0;
  while (rows < max_rows && !done()) {
    SQLite::Transaction transaction(db);
    for (int i = 0; i < 16; ++i, ++rows) {
      insert.bind(1, payload.data(), static_cast<int>(payload.size()));
      insert.exec();
      insert.reset();
    }
    transaction.commit();
  }
  return rows;
}

bool wait_for(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(WalCheckpointerTest, CheckpointsOnItsOwnThreadOnceTheLogPassesTheThreshold) {
  test::TempDir dir;
  const std::string path = (dir.path() / "wal.db").string();
  auto db = open_wal_database(path);
  WalCheckpointer checkpointer(path, kFlags);
  checkpointer.attach(db);

  write_until(
      db, [&] { return wal_frames(path) >= WalCheckpointer::kThresholdPages / 2; }, 1'000'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(checkpointer.checkpoints(), 0u) << "below the threshold nothing is checkpointed";
  const auto file_before = fs::file_size(path);

  write_until(
      db, [&] { return checkpointer.checkpoints() > 0; }, 100'000);
  ASSERT_TRUE(wait_for([&] { return checkpointer.checkpoints() > 0; }))
      << "the background thread never checkpointed";
  EXPECT_GT(fs::file_size(path), file_before + static_cast<std::uintmax_t>(kPageSize) *
                                                   WalCheckpointer::kThresholdPages / 2)
      << "the checkpointed pages did not reach the database file";
}

TEST(WalCheckpointerTest, LogStartsOverInsteadOfGrowingUnderContinuousWrites) {
  test::TempDir dir;
  const std::string path = (dir.path() / "wal.db").string();
  auto db = open_wal_database(path);
  WalCheckpointer checkpointer(path, kFlags);
  checkpointer.attach(db);

  // Commits back to back never leave the log idle; written as a whole, these rows would need
  // a log of about four times the restart size.
  const std::int64_t rows_per_page = 3;
  const std::int64_t rows = 4 * WalCheckpointer::kRestartPages * rows_per_page;
  ASSERT_EQ(write_until(
                db, [] { return false; }, rows),
            rows);

  EXPECT_GE(checkpointer.restarts(), 1u);
  // Room for the pages committed while a restart waits for its turn.
  EXPECT_LE(wal_frames(path), static_cast<std::uintmax_t>(WalCheckpointer::kRestartPages +
                                                          WalCheckpointer::kThresholdPages));
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM t").getInt64(), rows);
}

TEST(WalCheckpointerTest, StoreKeepsEveryRowWrittenWhileCheckpointing) {
  test::TempDir dir;
  const std::string path = (dir.path() / "store.db").string();
  std::vector<std::string> ids;
  {
    SqliteStore store(path);
    std::vector<telemetry::Execution> batch(500);
    for (int round = 0; round < 60; ++round) {
      std::vector<const telemetry::Execution*> pointers;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& e = batch[i];
        e.id = telemetry::new_execution_id();
        e.trace_id = e.id;
        e.agent_name = "agent";
        e.started_at = telemetry::unix_now();
        e.kwargs = {{"text", std::string(600, 'k')}};
        e.status = telemetry::ExecutionStatus::completed;
        ids.push_back(e.id);
        pointers.push_back(&e);
      }
      ASSERT_EQ(store.save_executions(pointers), batch.size());
    }
  }
  EXPECT_FALSE(fs::exists(path + "-wal")) << "closing the store checkpoints and removes the log";
  SqliteStore reopened(path);
  EXPECT_EQ(reopened.count_executions({}), static_cast<std::int64_t>(ids.size()));
  EXPECT_TRUE(reopened.get_execution(ids.front()));
  EXPECT_TRUE(reopened.get_execution(ids.back()));
}

}  // namespace
}  // namespace kagura::storage::sqlite_detail
