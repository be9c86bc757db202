#pragma once

// The pipeline counters of the processes recording into a store, published where other
// processes on the machine can read them: `kagura dashboard --prometheus` reads the store, but
// queued, written and dropped executions are known only inside each recording process. Each
// Telemetry writes a small JSON file <directory>/<host>-<pid>.json every few seconds and a last
// one when it shuts down; the exporter serves the files naming its own store.
//
// The files are local to the machine (~/.kagura/pipelines by default): processes on other
// machines writing to the same PostgreSQL or MongoDB are seen by an exporter running there.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kagura/pipeline/async_writer.hpp"

namespace kagura::pipeline {

struct ProcessStatus {
  std::string host;
  std::int64_t pid = 0;
  std::string backend;   // StorageAdapter::backend_name()
  std::string location;  // StorageAdapter::location(), password masked
  double started_at = 0.0;
  double updated_at = 0.0;
  bool exited = false;  // written by shutdown: the counters are final
  PipelineStats stats;
};

std::string to_json(const ProcessStatus& status);
// Throws std::invalid_argument when the text is not a status file's.
ProcessStatus process_status_from_json(std::string_view text);

// The name this machine goes by in status files.
std::string this_host_name();

// Whether the process is still running: asked of the kernel on this machine, judged by the
// age of its last update elsewhere.
bool process_running(const ProcessStatus& status, std::chrono::seconds stale_after);

// Writes <directory>/<host>-<pid>.json atomically (temporary file, then rename), mode 0600.
// Throws std::runtime_error saying why it cannot.
void write_process_status(const std::filesystem::path& directory, const ProcessStatus& status);

// The statuses in `directory` of processes writing to the store named by backend and location
// (a SQLite location is compared as a canonical path). Files of processes that ended more than
// `forget_after` ago are removed; unreadable files are skipped.
std::vector<ProcessStatus> read_process_statuses(const std::filesystem::path& directory,
                                                 std::string_view backend,
                                                 std::string_view location,
                                                 std::chrono::seconds forget_after);

// Publishes a process's status every `interval` from a thread of its own, and a final one
// (exited = true) from stop(). Failures to write are reported once as a notice and never
// reach the agents.
class StatusPublisher {
 public:
  StatusPublisher(std::filesystem::path directory, ProcessStatus identity,
                  std::function<PipelineStats()> read_stats,
                  std::chrono::milliseconds interval = std::chrono::seconds(5));
  ~StatusPublisher();
  StatusPublisher(const StatusPublisher&) = delete;
  StatusPublisher& operator=(const StatusPublisher&) = delete;

  // Writes the final status and stops the thread; later calls do nothing.
  void stop();
  const std::filesystem::path& directory() const noexcept { return directory_; }

 private:
  void run();
  void publish(bool exited);

  const std::filesystem::path directory_;
  ProcessStatus status_;
  const std::function<PipelineStats()> read_stats_;
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool failure_reported_ = false;
  std::thread thread_;
};

}  // namespace kagura::pipeline
