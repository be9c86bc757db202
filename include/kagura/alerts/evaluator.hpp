#pragma once

// Checks finished executions against rules. It keeps what window rules need (a bounded,
// time-ordered ring of recent (time, cost, status) per rule and agent) and the cooldowns. Not
// thread-safe: one thread feeds it (the alerting sink's, or kagura alerts watch).

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "kagura/alerts/alert.hpp"
#include "kagura/alerts/rule.hpp"
#include "kagura/telemetry/execution.hpp"

namespace kagura::alerts {

// When an execution happened for the rules: its end (started_at + duration when ended_at is
// missing, started_at as a last resort). Windows end at the newest such time seen.
double execution_time(const telemetry::Execution& execution) noexcept;

struct EvaluatorStats {
  std::uint64_t evaluated = 0;
  std::uint64_t alerts = 0;
  std::uint64_t suppressed = 0;       // conditions met during a cooldown
  std::uint64_t window_overflow = 0;  // oldest entries a full window ring gave up
};

class Evaluator {
 public:
  // Entries kept per window (per rule, and per agent with per_agent); beyond it the oldest go.
  static constexpr std::size_t kDefaultWindowCapacity = 65536;

  explicit Evaluator(std::vector<Rule> rules, std::size_t window_capacity = kDefaultWindowCapacity);
  ~Evaluator();
  Evaluator(Evaluator&&) noexcept;
  Evaluator& operator=(Evaluator&&) noexcept;

  // Checks one finished execution (running ones are ignored) and returns the alerts to act on.
  std::vector<Alert> evaluate(const telemetry::Execution& execution);
  // Adds an execution to the windows without checking anything: history from before a watch
  // started.
  void remember(const telemetry::Execution& execution);

  // Whether any rule covers this agent; the sink skips the others on the agent's thread.
  bool covers(std::string_view agent) const noexcept;
  // The longest window of the rules, in seconds (0 without window rules).
  double longest_window() const noexcept;
  const std::vector<Rule>& rules() const noexcept;
  EvaluatorStats stats() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kagura::alerts
