#include "storage/sqlite/wal_checkpointer.hpp"

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <memory>

#include "kagura/telemetry/notice.hpp"
#include "pipeline/background_thread.hpp"

namespace kagura::storage::sqlite_detail {
namespace {

// How long the thread's connection waits for a lock before giving up on an operation.
constexpr int kBusyTimeoutMs = 10000;

}  // namespace

WalCheckpointer::WalCheckpointer(std::string path, int open_flags)
    : path_(std::move(path)), open_flags_(open_flags) {}

WalCheckpointer::~WalCheckpointer() {
  if (writer_ != nullptr) sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WalCheckpointer::attach(SQLite::Database& writer) {
  writer_ = writer.getHandle();
  sqlite3_wal_hook(writer_, &WalCheckpointer::on_commit, this);
}

std::uint64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

std::uint64_t WalCheckpointer::restarts() const {
  std::lock_guard lock(mutex_);
  return restarts_;
}

int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
  if (pages < kThresholdPages) return SQLITE_OK;
  auto& checkpointer = *static_cast<WalCheckpointer*>(self);
  bool failed = false;
  {
    std::lock_guard lock(checkpointer.mutex_);
    if (checkpointer.stopping_) return SQLITE_OK;
    failed = checkpointer.failed_;
    if (!failed) {
      checkpointer.log_pages_ = pages;
      if (!checkpointer.thread_.joinable()) {
        checkpointer.thread_ = pipeline::start_background_thread(
            "kagura-checkpt", [&checkpointer] { checkpointer.run(); });
      }
    }
  }
  if (failed) {
    // What SQLite's automatic checkpoint would have done.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (pages >= kRestartPages) {
    checkpointer.restart_log(db, schema);
  } else {
    checkpointer.wake_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::restart_log(sqlite3* db, const char* schema) {
  // Only the writer can find a moment with no write transaction open: a RESTART from the
  // thread would wait for one in vain while commits follow each other. But a checkpoint
  // running on the thread makes RESTART fail at once (SQLite does not wait for the checkpoint
  // lock), so the thread is held off and its current checkpoint awaited first. It has copied
  // most of the log already; this copies the rest and lets the next commit start the log over.
  {
    std::unique_lock lock(mutex_);
    writer_restarting_ = true;
    idle_.wait(lock, [this] { return !checkpointing_; });
  }
  const int rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    writer_restarting_ = false;
    if (rc == SQLITE_OK) {
      ++restarts_;
      log_pages_ = 0;
    }
  }
  // Another process's checkpoint or a long reader: SQLITE_BUSY, and the next commit tries again.
}

void WalCheckpointer::run() {
  std::unique_ptr<SQLite::Database> db;
  try {
    // SQLITE_OPEN_NOMUTEX: this connection is used by this thread only.
    db = std::make_unique<SQLite::Database>(path_, open_flags_ | SQLITE_OPEN_NOMUTEX,
                                            kBusyTimeoutMs);
    // A connection finds the log on its first read; until then a checkpoint does nothing. The
    // statement ends in this scope: one left open would hold a read snapshot that keeps the
    // log from ever starting over.
    SQLite::Statement probe(*db, "SELECT count(*) FROM sqlite_schema");
    probe.executeStep();
  } catch (const std::exception& e) {
    telemetry::notify(std::string("cannot open ") + path_ + " for background checkpoints: " +
                      e.what() + "; the writer will checkpoint the log itself");
    std::lock_guard lock(mutex_);
    failed_ = true;
    return;
  }
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return (log_pages_ > 0 && !writer_restarting_) || stopping_; });
      if (stopping_) return;
      log_pages_ = 0;
      checkpointing_ = true;
    }
    const int rc = sqlite3_wal_checkpoint_v2(db->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      telemetry::notify(std::string("background checkpoint of ") + path_ +
                        " failed: " + sqlite3_errstr(rc) + "; will try again after more writes");
    }
    {
      std::lock_guard lock(mutex_);
      checkpointing_ = false;
      if (rc == SQLITE_OK) ++checkpoints_;
    }
    idle_.notify_all();
  }
}

}  // namespace kagura::storage::sqlite_detail
