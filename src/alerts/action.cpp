#include "kagura/alerts/action.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "kagura/telemetry/notice.hpp"
#include "net/curl_handles.hpp"
#include "net/json_post.hpp"

extern char** environ;

namespace kagura::alerts {
namespace {

// A webhook URL often carries its secret in the path (Slack, Discord): messages show only the
// scheme, host and port.
std::string url_origin(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "the webhook URL";
  const auto authority_start = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  auto authority = url.substr(authority_start, authority_end - authority_start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  return std::string(url.substr(0, authority_start)) + std::string(authority) +
         (authority_end < url.size() ? "/..." : "");
}

std::string quote_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text;
}

// write() to a pipe whose reader has gone raises SIGPIPE, which would end the agent's process:
// the signal is blocked on this thread for the write and a pending one consumed.
void write_without_sigpipe(int fd, const std::string& data) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  sigset_t pending;
  sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  std::size_t written = 0;
  bool broken = false;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      broken = n < 0 && errno == EPIPE;
      break;  // EPIPE, or EAGAIN: a command that does not read its input gets what fitted
    }
  }
  if (broken && !already_pending) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

std::string number_text(double value) {
  return fmt::format("{:.10g}", value);
}

}  // namespace

struct ActionRunner::State {
  FailureHandler on_failure;
  ActionStats stats;
  net::CurlEasy curl;  // kept: its connection serves the next alert
  struct Running {
    pid_t pid;
    std::string rule;
    std::string program;
  };
  std::vector<Running> running;

  void fail(const std::string& message) {
    ++stats.failed;
    if (on_failure) {
      on_failure(message);
    } else {
      telemetry::notify(message);
    }
  }

  void standard_error(const Alert& alert) {
    const std::string line = fmt::format("kagura alert [{}]: {}\n", alert.rule, alert.message);
    // One write, so that lines of concurrent writers do not interleave.
    if (std::fwrite(line.data(), 1, line.size(), stderr) == line.size()) {
      std::fflush(stderr);
      ++stats.delivered;
    } else {
      ++stats.failed;
    }
  }

  void webhook(const Rule& rule, const Action& action, const std::string& body) {
    const std::string where =
        fmt::format("alert webhook of rule '{}' to {}", rule.name, url_origin(action.url));
    if (const CURLcode started = net::curl_global_status(); started != CURLE_OK) {
      fail(fmt::format("{} not sent: libcurl could not start ({})", where,
                       curl_easy_strerror(started)));
      return;
    }
    net::JsonPostReply reply;
    try {
      if (!curl) curl = net::make_curl_easy();
      reply = net::post_json(curl.get(), {.url = action.url,
                                          .headers = {action.headers.begin(), action.headers.end()},
                                          .body = body,
                                          .timeout = action.timeout,
                                          .user_agent = "kagura-cpp-alerts/0.1",
                                          .kept_reply_bytes = 200});
    } catch (const std::bad_alloc&) {
      fail(where + " not sent: out of memory");
      return;
    }
    if (reply.status == 0) {
      const std::string fix = reply.timed_out
                                  ? fmt::format(
                                        "no answer within {} ms: check the receiver, or "
                                        "raise the action's \"timeout\"",
                                        std::max<std::int64_t>(1, action.timeout.count()))
                                  : "check that the receiver is running and the \"url\" of the "
                                    "action";
      fail(fmt::format("{} failed ({}): {}", where, reply.error, fix));
      return;
    }
    if (reply.status < 200 || reply.status >= 300) {
      fail(fmt::format(
          "{} failed: HTTP {}{}: check the receiver and the action's \"url\" and "
          "\"headers\"",
          where, reply.status, reply.body.empty() ? "" : " (" + quote_line(reply.body) + ")"));
      return;
    }
    ++stats.delivered;
  }

  void command(const Rule& rule, const Action& action, const Alert& alert,
               const std::string& body) {
    const std::string& program = action.command.front();
    std::map<std::string, std::string> variables = {
        {"KAGURA_ALERT_RULE", alert.rule},
        {"KAGURA_ALERT_KIND", std::string(to_string(alert.kind))},
        {"KAGURA_ALERT_MESSAGE", alert.message},
        {"KAGURA_ALERT_VALUE", number_text(alert.value)},
        {"KAGURA_ALERT_THRESHOLD", number_text(alert.threshold)},
        {"KAGURA_ALERT_AGENT", alert.agent.value_or("")},
        {"KAGURA_ALERT_EXECUTION_ID", alert.execution_id.value_or("")},
        {"KAGURA_ALERT_TIMESTAMP", number_text(alert.timestamp)},
    };
    std::vector<std::string> env_strings;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view text(*entry);
      if (variables.count(std::string(text.substr(0, text.find('=')))) != 0) continue;
      env_strings.emplace_back(text);
    }
    // The kernel refuses a variable over 128 KiB; the whole alert is on stdin anyway.
    constexpr std::size_t kMaxVariable = 4096;
    for (const auto& [name, value] : variables) {
      env_strings.push_back(name + "=" + value.substr(0, kMaxVariable));
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = action.command;
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);

    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
      fail(fmt::format("alert command '{}' of rule '{}' not started: {}", program, rule.name,
                       std::strerror(errno)));
      return;
    }
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_adddup2(&files, in[0], STDIN_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // The command gets ordinary signal handling, whatever the agent's thread had blocked or
    // ignored.
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int error =
        posix_spawnp(&pid, program.c_str(), &files, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attributes);
    ::close(in[0]);
    if (error != 0) {
      ::close(in[1]);
      const char* fix = error == ENOENT   ? "check the program name, or give its full path"
                        : error == EACCES ? "check that the program is executable"
                                          : "check the \"command\" of the action";
      fail(fmt::format("alert command '{}' of rule '{}' could not start ({}): {}", program,
                       rule.name, std::strerror(error), fix));
      return;
    }
    // A command that does not read its input must not hold this thread up.
    ::fcntl(in[1], F_SETFL, ::fcntl(in[1], F_GETFL) | O_NONBLOCK);
    write_without_sigpipe(in[1], body + "\n");
    ::close(in[1]);
    running.push_back({pid, rule.name, program});
  }

  void reap() {
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      const pid_t done = ::waitpid(it->pid, &status, WNOHANG);
      if (done == 0 || (done < 0 && errno == EINTR)) {
        ++it;
        continue;
      }
      if (done < 0) {
        // Reaped elsewhere (the program waits for all its children, or ignores SIGCHLD): the
        // outcome is unknown.
      } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ++stats.delivered;
      } else if (WIFEXITED(status)) {
        fail(fmt::format("alert command '{}' of rule '{}' exited with status {}", it->program,
                         it->rule, WEXITSTATUS(status)));
      } else if (WIFSIGNALED(status)) {
        fail(fmt::format("alert command '{}' of rule '{}' was ended by signal {}", it->program,
                         it->rule, WTERMSIG(status)));
      }
      it = running.erase(it);
    }
  }
};

ActionRunner::ActionRunner(FailureHandler on_failure) : state_(std::make_unique<State>()) {
  state_->on_failure = std::move(on_failure);
}

ActionRunner::~ActionRunner() {
  // Children still running are left to finish; reaping what has ended avoids zombies for the
  // rest of the process's life.
  state_->reap();
}

void ActionRunner::run(const Rule& rule, const Alert& alert) {
  state_->reap();
  const std::string body = to_json(alert).dump();
  for (const Action& action : rule.actions) {
    try {
      switch (action.type) {
        case ActionType::standard_error:
          state_->standard_error(alert);
          break;
        case ActionType::webhook:
          state_->webhook(rule, action, body);
          break;
        case ActionType::command:
          state_->command(rule, action, alert, body);
          break;
      }
    } catch (const std::exception& e) {
      state_->fail(fmt::format("alert action {} of rule '{}' failed: {}", to_string(action.type),
                               rule.name, e.what()));
    }
  }
}

void ActionRunner::reap() {
  state_->reap();
}

bool ActionRunner::wait_for_commands(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  state_->reap();
  while (!state_->running.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    state_->reap();
  }
  return state_->running.empty();
}

std::size_t ActionRunner::running_commands() const noexcept {
  return state_->running.size();
}

ActionStats ActionRunner::stats() const noexcept {
  return state_->stats;
}

}  // namespace kagura::alerts
