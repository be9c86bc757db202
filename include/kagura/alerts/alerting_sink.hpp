#pragma once

// Checks alert rules as executions finish, in the recording process. It wraps the sink that
// stores executions: submit() hands the execution on and queues it for a background thread
// ("kagura-alerts") that evaluates the rules and runs the actions, so the agent's thread only
// pays for a queue push. A full queue drops the execution from alerting (never from the store)
// and counts it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "kagura/alerts/action.hpp"
#include "kagura/alerts/rule.hpp"
#include "kagura/telemetry/sink.hpp"

namespace kagura::alerts {

struct AlertingOptions {
  std::size_t queue_capacity = 4096;
  FailureHandler on_failure;  // default: telemetry::notify
};

struct AlertingStats {
  std::uint64_t queued = 0;
  std::uint64_t dropped = 0;  // executions not checked because the queue was full
  std::uint64_t evaluated = 0;
  std::uint64_t alerts = 0;
  std::uint64_t suppressed = 0;  // by cooldowns
  std::uint64_t actions_delivered = 0;
  std::uint64_t actions_failed = 0;
};

class AlertingSink final : public telemetry::ExecutionSink {
 public:
  AlertingSink(std::shared_ptr<telemetry::ExecutionSink> inner, std::vector<Rule> rules,
               AlertingOptions options = {});
  // shutdown() with a short timeout.
  ~AlertingSink() override;
  AlertingSink(const AlertingSink&) = delete;
  AlertingSink& operator=(const AlertingSink&) = delete;

  void submit(std::shared_ptr<const telemetry::Execution> execution) noexcept override;

  // Waits until every execution submitted so far has been checked and its webhooks posted.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Checks what is queued (until `timeout`, then drops the rest), waits briefly for running
  // commands, and stops the thread. Later submissions still reach the inner sink.
  void shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  AlertingStats stats() const;

 private:
  struct State;
  std::shared_ptr<telemetry::ExecutionSink> inner_;
  std::unique_ptr<State> state_;
};

}  // namespace kagura::alerts
