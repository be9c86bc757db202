#pragma once

// Carries out a rule's actions for an alert: a line on stderr, an HTTP POST of the alert's JSON
// (libcurl, with a timeout), or a command run without a shell, with the alert in its environment
// (KAGURA_ALERT_RULE, KAGURA_ALERT_KIND, KAGURA_ALERT_MESSAGE, KAGURA_ALERT_VALUE,
// KAGURA_ALERT_THRESHOLD, KAGURA_ALERT_AGENT, KAGURA_ALERT_EXECUTION_ID,
// KAGURA_ALERT_TIMESTAMP) and its JSON on stdin. A failure is counted and reported through
// `on_failure`, never thrown. Not thread-safe: one thread runs the actions.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "kagura/alerts/alert.hpp"
#include "kagura/alerts/rule.hpp"

namespace kagura::alerts {

struct ActionStats {
  std::uint64_t delivered = 0;  // messages written, webhooks answered 2xx, commands exited 0
  std::uint64_t failed = 0;
};

using FailureHandler = std::function<void(std::string_view message)>;

class ActionRunner {
 public:
  // Default handler: telemetry::notify ("kagura: ..." on stderr).
  explicit ActionRunner(FailureHandler on_failure = {});
  ~ActionRunner();
  ActionRunner(const ActionRunner&) = delete;
  ActionRunner& operator=(const ActionRunner&) = delete;

  // Webhooks are posted before this returns (each bounded by its timeout); commands are started
  // and left running: reap() collects them.
  void run(const Rule& rule, const Alert& alert);
  // Collects the commands that have ended, without waiting.
  void reap();
  // Waits up to `timeout` for the running commands; true when none is left.
  bool wait_for_commands(std::chrono::milliseconds timeout);
  std::size_t running_commands() const noexcept;
  ActionStats stats() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kagura::alerts
