// The library's own threads leave the program's asynchronous signals to the program's threads:
// a SIGINT or SIGTERM never lands on a writer parked in a wait (see
// src/pipeline/background_thread.hpp).

#include "pipeline/background_thread.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "kagura/storage/sqlite_store.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "support/test_support.hpp"

namespace kagura::pipeline {
namespace {

namespace fs = std::filesystem;
using kagura::test::TempDir;

sigset_t mask_of_this_thread() {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return mask;
}

// The blocked-signal mask of each thread of this process, from /proc/self/task/*/status, by
// "thread id (name)".
std::map<std::string, std::uint64_t> blocked_masks_by_thread() {
  std::map<std::string, std::uint64_t> masks;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream status(task.path() / "status");
    std::string name;
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("Name:")) name = line.substr(line.find_first_not_of(" \t", 5));
      if (line.starts_with("SigBlk:")) {
        masks[task.path().filename().string() + " (" + name + ")"] =
            std::stoull(line.substr(7), nullptr, 16);
      }
    }
  }
  return masks;
}

bool blocks(std::uint64_t mask, int signal_number) {
  return (mask >> (signal_number - 1)) & 1U;
}

TEST(BackgroundThread, NamesTheThreadAndBlocksTheAsynchronousSignalsAndNoFault) {
  sigset_t seen;
  char name[16] = {};
  start_background_thread("kagura-test", [&seen, &name] {
    seen = mask_of_this_thread();
    pthread_getname_np(pthread_self(), name, sizeof name);
  }).join();
  EXPECT_STREQ(name, "kagura-test");
  for (int asynchronous : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD}) {
    EXPECT_EQ(sigismember(&seen, asynchronous), 1) << "signal " << asynchronous;
  }
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
    EXPECT_EQ(sigismember(&seen, fault), 0) << "signal " << fault;
  }
}

TEST(BackgroundThread, LeavesTheCreatingThreadsMaskAsItWas) {
  const sigset_t before = mask_of_this_thread();
  start_background_thread("kagura-test", [] {}).join();
  const sigset_t after = mask_of_this_thread();
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    EXPECT_EQ(sigismember(&after, signal_number), sigismember(&before, signal_number))
        << "signal " << signal_number;
  }
  EXPECT_EQ(sigismember(&after, SIGINT), 0) << "the test thread itself takes SIGINT";
}

TEST(BackgroundThread, EveryThreadTheTelemetryStartsLeavesSigintAndSigtermToTheProgram) {
  TempDir dir("kagura_background_threads");
  // ThreadSanitizer starts a thread of its own at the first thread created: let that happen
  // before the count.
  std::thread([] {}).join();
  std::set<std::string> before;
  for (const auto& [thread, mask] : blocked_masks_by_thread()) {
    before.insert(thread.substr(0, thread.find(' ')));
  }
  telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.status_directory = dir.path() / "pipelines";
  telemetry::Telemetry telemetry(
      std::make_shared<storage::SqliteStore>((dir.path() / "telemetry.db").string()), options);
  for (int i = 0; i < 20; ++i) telemetry.collector().track_execution("agent", {});
  ASSERT_TRUE(telemetry.flush());

  // A thread that is still starting has every signal blocked until it takes its mask; one that
  // has its name has its mask.
  const auto started_ones = [&before] {
    std::map<std::string, std::uint64_t> started;
    for (const auto& [thread, mask] : blocked_masks_by_thread()) {
      if (!before.contains(thread.substr(0, thread.find(' ')))) started.emplace(thread, mask);
    }
    return started;
  };
  auto new_threads = started_ones();
  for (int tries = 0; tries < 1000; ++tries) {
    if (std::all_of(new_threads.begin(), new_threads.end(), [](const auto& entry) {
          return entry.first.find("(kagura-") != entry.first.npos;
        })) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    new_threads = started_ones();
  }
  int started = 0;
  for (const auto& [thread, mask] : new_threads) {
    EXPECT_NE(thread.find("(kagura-"), std::string::npos) << "thread " << thread << " has no name";
    ++started;
    EXPECT_TRUE(blocks(mask, SIGINT)) << "thread " << thread << " takes SIGINT";
    EXPECT_TRUE(blocks(mask, SIGTERM)) << "thread " << thread << " takes SIGTERM";
    EXPECT_FALSE(blocks(mask, SIGSEGV)) << "thread " << thread << " blocks SIGSEGV";
  }
  // The writer's encoder and writer threads, and the status publisher.
  EXPECT_GE(started, 3);
  telemetry.shutdown();
}

}  // namespace
}  // namespace kagura::pipeline
