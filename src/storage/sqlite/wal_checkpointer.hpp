#pragma once

// Moves the write-ahead log into the database file on a thread of its own.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so the
// writer thread copies the log and waits for two fsyncs every thousand pages; on the ingest
// benchmark that cost a fifth of the pipeline's rate. SQLite's documentation suggests running
// checkpoints from another thread instead; this class does that with its own connection.
//
// PASSIVE checkpoints never block the writer but cannot make the log start over while commits
// keep coming, so past kRestartPages the writer itself runs a RESTART checkpoint after its
// commit: it copies the few pages the thread has not and lets the next commit start the log
// from its beginning, so the log file stays near that size instead of growing without bound.

#include <SQLiteCpp/Database.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace kagura::storage::sqlite_detail {

class WalCheckpointer {
 public:
  // `path` and `open_flags` open a second connection to the writer's database.
  WalCheckpointer(std::string path, int open_flags);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces SQLite's automatic checkpoint on `writer`, which must outlive this object. The
  // log size is reported after each commit, and the thread starts on the first report over
  // the threshold, so connections that only read never start one.
  void attach(SQLite::Database& writer);

  // Pages in the log after which the thread checkpoints (SQLite's own default threshold).
  static constexpr int kThresholdPages = 1000;
  // Pages after which the writer makes the log start over.
  static constexpr int kRestartPages = 4 * kThresholdPages;

  // Checkpoints completed by the thread, and restarts of the log by the writer.
  std::uint64_t checkpoints() const;
  std::uint64_t restarts() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void restart_log(sqlite3* db, const char* schema);
  void run();

  std::string path_;
  int open_flags_;
  sqlite3* writer_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable wake_;    // the thread: a checkpoint is due, or stop
  std::condition_variable idle_;    // the writer: the thread's checkpoint has ended
  int log_pages_ = 0;               // as last reported by a commit; 0 once the thread has taken it
  bool checkpointing_ = false;      // the thread is in a checkpoint
  bool writer_restarting_ = false;  // the writer waits for the thread to make the log restart
  bool stopping_ = false;
  bool failed_ = false;  // the thread could not open its connection: the writer checkpoints
  std::uint64_t checkpoints_ = 0;
  std::uint64_t restarts_ = 0;
  std::thread thread_;
};

}  // namespace kagura::storage::sqlite_detail
