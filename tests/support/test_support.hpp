#pragma once

// Small helpers shared by the test suites: a temporary directory, notice capture, scoped
// environment changes and running a program as a child process with its output captured.

#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kagura/telemetry/notice.hpp"

extern char** environ;

namespace kagura::test {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards, so tests can run in parallel (ctest -j) and
// leave nothing behind.
class TempDir {
 public:
  explicit TempDir(std::string_view tag = "kagura_test") {
    static std::atomic<unsigned> counter{0};
    std::random_device device;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() /
            (std::string(tag) + "_" + std::to_string(::getpid()) + "_" + std::to_string(device()) +
             "_" + std::to_string(stamp) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

  fs::path write(const std::string& name, std::string_view text) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << text;
    return file;
  }

 private:
  fs::path path_;
};

// Collects the notices raised while it lives (from any thread) and restores the previous
// handler afterwards.
class NoticeCapture {
 public:
  NoticeCapture() {
    previous_ = telemetry::set_notice_handler([this](std::string_view message) {
      std::lock_guard lock(mutex_);
      messages_.emplace_back(message);
    });
  }
  ~NoticeCapture() { telemetry::set_notice_handler(std::move(previous_)); }
  NoticeCapture(const NoticeCapture&) = delete;
  NoticeCapture& operator=(const NoticeCapture&) = delete;

  std::vector<std::string> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::size_t count_containing(std::string_view text) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& message : messages_) {
      if (message.find(text) != std::string::npos) ++n;
    }
    return n;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    messages_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
  telemetry::NoticeHandler previous_;
};

// Sets or unsets environment variables of this process for its lifetime.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first.c_str());
      }
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }

 private:
  void save(const std::string& name) {
    const char* value = std::getenv(name.c_str());
    saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// The environment of a child process: this process's environment with every KAGURA_* variable
// removed (so the developer's own settings never leak into a test), then `changes` applied; a
// change to nullopt removes the variable.
using EnvChanges = std::map<std::string, std::optional<std::string>>;

inline std::vector<std::string> child_environment(const EnvChanges& changes) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string name(text.substr(0, equals));
    if (name.starts_with("KAGURA_") && name != "KAGURA_BIN" && name != "KAGURA_RECORD_HELPER") {
      continue;
    }
    env[name] = std::string(text.substr(equals + 1));
  }
  for (const auto& [name, value] : changes) {
    if (value) {
      env[name] = *value;
    } else {
      env.erase(name);
    }
  }
  std::vector<std::string> out;
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

struct ProcessResult {
  std::string out;
  std::string err;
  int status = 0;  // as from waitpid

  bool exited() const { return WIFEXITED(status); }
  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  bool signalled() const { return WIFSIGNALED(status); }
  int signal() const { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }
};

// A child process with its stdout and stderr on pipes.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const EnvChanges& changes) {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    // Everything the child needs is prepared before fork(): the test binary has threads, so
    // the child may only make async-signal-safe calls until exec.
    const auto env_strings = child_environment(changes);
    std::vector<char*> env_ptrs;
    for (const auto& s : env_strings) env_ptrs.push_back(const_cast<char*>(s.c_str()));
    env_ptrs.push_back(nullptr);
    std::vector<char*> arg_ptrs;
    for (const auto& s : argv) arg_ptrs.push_back(const_cast<char*>(s.c_str()));
    arg_ptrs.push_back(nullptr);

    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::dup2(err_pipe[1], STDERR_FILENO);
      const int null_in = ::open("/dev/null", O_RDONLY);
      if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
      // The child must see SIGINT/SIGTERM at their defaults whatever the test runner set up,
      // since the library only installs its flush handler over SIG_DFL.
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int ignored = 0;
      ::waitpid(pid_, &ignored, 0);
      remove_driver_leftovers(pid_);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Reads until stdout contains `text` or both pipes are closed; true if the text was seen.
  bool wait_for_stdout(std::string_view text) {
    while (result_.out.find(text) == std::string::npos) {
      if (!pump(-1)) return result_.out.find(text) != std::string::npos;
    }
    return true;
  }

  // Reads both pipes to the end and reaps the child.
  ProcessResult finish() {
    while (pump(-1)) {
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    return reaped_with(status);
  }

  // finish(), unless the child is still running after `timeout`: then nothing is reaped (the
  // destructor kills the child) and the answer is empty, so that the test can report what the
  // child was doing (describe_process) instead of hanging until CTest's timeout.
  std::optional<ProcessResult> finish_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto remaining_ms = [&] {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
    };
    while (remaining_ms() > 0 && pump(remaining_ms())) {
    }
    for (;;) {
      int status = 0;
      const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
      if (reaped == pid_) return reaped_with(status);
      if (reaped < 0 && errno != EINTR) return std::nullopt;
      if (remaining_ms() == 0) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  // The result, once waitpid() has reaped the child with `status`.
  ProcessResult reaped_with(int status) {
    reaped_ = true;
    result_.status = status;
    if (WIFSIGNALED(status)) remove_driver_leftovers(pid_);
    return result_;
  }

  // libmongoc, loaded by every program linking Kagura, creates /dev/shm/mongoc-PID at load and
  // removes it at exit; a process killed by a signal leaves it behind, and a later process
  // given the same pid then prints "Falling back to malloc for counters" on stderr. A test that
  // kills a process removes what the kill left.
  static void remove_driver_leftovers(pid_t pid) {
    ::unlink(("/dev/shm/mongoc-" + std::to_string(pid)).c_str());
  }

  // One poll round of at most timeout_ms (-1: no limit); false once both pipes are at end of
  // file.
  bool pump(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    const nfds_t count = 2;
    if (out_fd_ < 0 && err_fd_ < 0) return false;
    const int ready = ::poll(fds, count, timeout_ms);
    if (ready < 0) return errno == EINTR;
    read_from(fds[0], out_fd_, result_.out);
    read_from(fds[1], err_fd_, result_.err);
    return out_fd_ >= 0 || err_fd_ >= 0;
  }
  static void read_from(const pollfd& p, int& fd, std::string& into) {
    if (fd < 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      ::close(fd);
      fd = -1;
    }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  ProcessResult result_;
};

// What a running process is doing, from /proc: its signal masks (pending, blocked, ignored,
// caught) and, for each thread, its name, state and the kernel function it waits in.
inline std::string describe_process(pid_t pid) {
  const auto read_text = [](const fs::path& path) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  };
  const fs::path proc = fs::path("/proc") / std::to_string(pid);
  std::string description = "process " + std::to_string(pid) + ":";
  std::ifstream status(proc / "status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("State:") || line.starts_with("Sig") || line.starts_with("ShdPnd:")) {
      description += "\n  " + line;
    }
  }
  std::error_code error;
  for (const auto& task : fs::directory_iterator(proc / "task", error)) {
    std::string stat = read_text(task.path() / "stat");
    // The state is the field after the parenthesised name.
    const auto name_end = stat.rfind(')');
    const std::string state = name_end == std::string::npos ? "?" : stat.substr(name_end + 2, 1);
    description += "\n  thread " + task.path().filename().string() + " (" +
                   read_text(task.path() / "comm") + ") state " + state + " in " +
                   read_text(task.path() / "wchan");
  }
  return description;
}

inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 const EnvChanges& changes = {}) {
  ChildProcess child(argv, changes);
  return child.finish();
}

// The path of a program the tests run: from the environment variable ctest sets (`name`), or
// else `fallback` relative to the directory of the test binary (tests/ in the build tree).
// The fallback keeps a test runnable directly, and through a ctest that passed on only part of
// its ENVIRONMENT list.
inline std::string program_path(const char* name, const fs::path& fallback) {
  if (const char* value = std::getenv(name); value != nullptr && *value != '\0') return value;
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  const fs::path candidate = (self.parent_path() / fallback).lexically_normal();
  if (error || !fs::exists(candidate)) {
    throw std::runtime_error(std::string(name) + " is not set and " + candidate.string() +
                             " does not exist: run the tests through ctest");
  }
  return candidate.string();
}

inline std::string kagura_bin() {
  return program_path("KAGURA_BIN", "../kagura");
}
inline std::string record_helper() {
  return program_path("KAGURA_RECORD_HELPER", "record_and_wait");
}

}  // namespace kagura::test
