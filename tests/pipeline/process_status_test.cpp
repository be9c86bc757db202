// Publishing a recording process's pipeline counters for other processes on the machine.

#include "kagura/pipeline/process_status.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/ids.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/test_support.hpp"

namespace kagura::pipeline {
namespace {

namespace fs = std::filesystem;
using kagura::test::TempDir;

ProcessStatus status_of(std::int64_t pid, std::string backend, std::string location) {
  ProcessStatus status;
  status.host = this_host_name();
  status.pid = pid;
  status.backend = std::move(backend);
  status.location = std::move(location);
  status.started_at = telemetry::unix_now() - 10;
  status.updated_at = telemetry::unix_now();
  return status;
}

TEST(ProcessStatus, RoundTripsEveryField) {
  ProcessStatus status = status_of(4242, "postgresql", "postgresql://kagura:***@db/telemetry");
  status.exited = true;
  status.stats = {.queued = 1,
                  .written = 2,
                  .duplicates = 3,
                  .dropped = 4,
                  .failed = 5,
                  .spooled = 6,
                  .unspooled = 7,
                  .spool_pending = 8,
                  .batches = 9,
                  .pending = 10,
                  .last_error = "server closed the connection \"unexpectedly\""};
  const ProcessStatus back = process_status_from_json(to_json(status));
  EXPECT_EQ(back.host, status.host);
  EXPECT_EQ(back.pid, 4242);
  EXPECT_EQ(back.backend, "postgresql");
  EXPECT_EQ(back.location, status.location);
  EXPECT_DOUBLE_EQ(back.started_at, status.started_at);
  EXPECT_DOUBLE_EQ(back.updated_at, status.updated_at);
  EXPECT_TRUE(back.exited);
  EXPECT_EQ(back.stats.queued, 1u);
  EXPECT_EQ(back.stats.written, 2u);
  EXPECT_EQ(back.stats.duplicates, 3u);
  EXPECT_EQ(back.stats.dropped, 4u);
  EXPECT_EQ(back.stats.failed, 5u);
  EXPECT_EQ(back.stats.spooled, 6u);
  EXPECT_EQ(back.stats.unspooled, 7u);
  EXPECT_EQ(back.stats.spool_pending, 8u);
  EXPECT_EQ(back.stats.batches, 9u);
  EXPECT_EQ(back.stats.pending, 10u);
  EXPECT_EQ(back.stats.last_error, status.stats.last_error);
  EXPECT_THROW(process_status_from_json("{\"host\": 1}"), std::invalid_argument);
  EXPECT_THROW(process_status_from_json("not json"), std::invalid_argument);
}

TEST(ProcessStatus, ReadsOnlyTheProcessesOfOneStoreAndForgetsLongEndedOnes) {
  TempDir dir("kagura_process_status");
  const fs::path statuses = dir.path() / "pipelines";
  const fs::path db = dir.path() / "telemetry.db";
  write_process_status(statuses, status_of(::getpid(), "sqlite", db.string()));
  // The same file named another way is the same store.
  write_process_status(
      statuses, status_of(::getppid(), "sqlite", (dir.path() / "." / "telemetry.db").string()));
  write_process_status(statuses, status_of(3, "sqlite", (dir.path() / "other.db").string()));
  write_process_status(statuses, status_of(4, "postgresql", db.string()));
  ProcessStatus long_ended = status_of(5, "sqlite", db.string());
  long_ended.exited = true;
  long_ended.updated_at = telemetry::unix_now() - 7200;
  write_process_status(statuses, long_ended);
  dir.write("pipelines/garbage.json", "{");

  EXPECT_EQ(fs::status(statuses / (this_host_name() + "-" + std::to_string(::getpid()) + ".json"))
                    .permissions() &
                fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const auto found = read_process_statuses(statuses, "sqlite", db.string(), std::chrono::hours(1));
  std::vector<std::int64_t> pids;
  for (const auto& s : found) pids.push_back(s.pid);
  std::sort(pids.begin(), pids.end());
  std::vector<std::int64_t> expected = {::getpid(), ::getppid()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(pids, expected);
  EXPECT_FALSE(fs::exists(statuses / (this_host_name() + "-5.json")));
  EXPECT_TRUE(fs::exists(statuses / (this_host_name() + "-3.json")));
  EXPECT_TRUE(
      read_process_statuses(dir.path() / "none", "sqlite", db.string(), std::chrono::hours(1))
          .empty());
}

TEST(ProcessStatus, ARunningProcessIsToldFromAnEndedOne) {
  ProcessStatus self = status_of(::getpid(), "sqlite", "x");
  EXPECT_TRUE(process_running(self, std::chrono::seconds(60)));
  self.exited = true;
  EXPECT_FALSE(process_running(self, std::chrono::seconds(60)));
  // A pid beyond pid_max is nobody.
  ProcessStatus gone = status_of(std::int64_t{1} << 30, "sqlite", "x");
  EXPECT_FALSE(process_running(gone, std::chrono::seconds(60)));
  // Elsewhere, judged by the age of the figures.
  ProcessStatus remote = status_of(1, "sqlite", "x");
  remote.host = "another-machine";
  EXPECT_TRUE(process_running(remote, std::chrono::seconds(60)));
  remote.updated_at -= 120;
  EXPECT_FALSE(process_running(remote, std::chrono::seconds(60)));
}

TEST(StatusPublisher, PublishesAtStartPeriodicallyAndAFinalStatus) {
  TempDir dir("kagura_status_publisher");
  std::atomic<std::uint64_t> written{0};
  ProcessStatus identity;
  identity.backend = "sqlite";
  identity.location = "db";
  StatusPublisher publisher(
      dir.path(), identity,
      [&] {
        PipelineStats stats;
        stats.written = written.load();
        return stats;
      },
      std::chrono::milliseconds(50));
  auto read = [&] {
    const auto found = read_process_statuses(dir.path(), "sqlite", "db", std::chrono::hours(1));
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? ProcessStatus{} : found.front();
  };
  EXPECT_EQ(read().pid, ::getpid());
  EXPECT_FALSE(read().exited);
  written = 7;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (read().stats.written != 7 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(read().stats.written, 7u);
  written = 9;
  publisher.stop();
  const ProcessStatus final_status = read();
  EXPECT_TRUE(final_status.exited);
  EXPECT_EQ(final_status.stats.written, 9u);
}

TEST(StatusPublisher, TelemetryPublishesItsWritersCountersUntilShutdown) {
  TempDir dir("kagura_status_telemetry");
  const fs::path db = dir.path() / "telemetry.db";
  telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.status_directory = dir.path() / "pipelines";
  options.status_interval = std::chrono::milliseconds(50);
  {
    telemetry::Telemetry telemetry(std::make_shared<storage::SqliteStore>(db.string()), options);
    for (int i = 0; i < 12; ++i) telemetry.collector().track_execution("agent", {});
    ASSERT_TRUE(telemetry.flush());
    telemetry.shutdown();
  }
  const auto found =
      read_process_statuses(dir.path() / "pipelines", "sqlite", db.string(), std::chrono::hours(1));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found.front().exited);
  EXPECT_EQ(found.front().stats.queued, 12u);
  EXPECT_EQ(found.front().stats.written, 12u);
}

TEST(StatusPublisher, AnUnwritableDirectoryNeverReachesTheAgents) {
  TempDir dir("kagura_status_unwritable");
  // A file where the directory should be: no one, root included, can create it.
  const fs::path blocked = dir.write("pipelines", "a file");
  ProcessStatus identity;
  EXPECT_NO_THROW({
    StatusPublisher publisher(
        blocked, identity, [] { return PipelineStats{}; }, std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  });
  EXPECT_EQ(fs::file_size(blocked), 6u);
}

}  // namespace
}  // namespace kagura::pipeline
