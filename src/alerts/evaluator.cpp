#include "kagura/alerts/evaluator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>

namespace kagura::alerts {
namespace {

using telemetry::Execution;
using telemetry::ExecutionStatus;
using telemetry::NanoUsd;

struct Entry {
  double time = 0;
  NanoUsd cost = 0;
  bool failed = false;
};

// The executions of one window, oldest first, with running totals so that a check costs O(1)
// however busy the agents are.
struct Window {
  std::deque<Entry> entries;
  NanoUsd cost = 0;
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  double newest = -std::numeric_limits<double>::infinity();

  void take(const Entry& entry, int sign) {
    cost += sign * entry.cost;
    (entry.failed ? failed : completed) += sign;
  }

  // Returns the entries the capacity forced out.
  std::uint64_t add(const Entry& entry, double span, std::size_t capacity) {
    // Too old to ever count again: windows end at the newest time seen.
    if (entry.time <= newest - span) return 0;
    // Executions arrive nearly in order, so the place is found from the back.
    auto at = entries.end();
    while (at != entries.begin() && std::prev(at)->time > entry.time) --at;
    entries.insert(at, entry);
    take(entry, +1);
    newest = std::max(newest, entry.time);
    while (!entries.empty() && entries.front().time <= newest - span) {
      take(entries.front(), -1);
      entries.pop_front();
    }
    std::uint64_t overflow = 0;
    while (entries.size() > capacity) {
      take(entries.front(), -1);
      entries.pop_front();
      ++overflow;
    }
    return overflow;
  }
};

struct RuleState {
  std::map<std::string, Window, std::less<>> windows;     // by agent, "" for all
  std::map<std::string, double, std::less<>> last_fired;  // by agent, "" for all
  NanoUsd threshold_nanos = 0;
};

std::string one_line(std::string_view text, std::size_t limit = 200) {
  std::string out;
  for (char c : text.substr(0, limit)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (text.size() > limit) out += "...";
  return out;
}

std::string agents_phrase(const Rule& rule, const std::string& key) {
  if (rule.per_agent) return fmt::format("agent '{}'", key);
  if (rule.agents.empty()) return "all agents";
  if (rule.agents.size() == 1) return fmt::format("agent '{}'", rule.agents.front());
  std::string names;
  for (const auto& agent : rule.agents) names += (names.empty() ? "'" : ", '") + agent + "'";
  return "agents " + names;
}

}  // namespace

double execution_time(const Execution& execution) noexcept {
  if (execution.ended_at) return *execution.ended_at;
  if (execution.duration) return execution.started_at + *execution.duration;
  return execution.started_at;
}

struct Evaluator::State {
  std::vector<Rule> rules;
  std::vector<RuleState> states;
  std::size_t capacity = kDefaultWindowCapacity;
  EvaluatorStats stats;

  // Adds the execution to the windows of the rules that cover it.
  void record(const Execution& e, double time) {
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const Rule& rule = rules[i];
      if (!rule.is_window_rule() || !rule.applies_to(e.agent_name)) continue;
      Window& window = states[i].windows[rule.per_agent ? e.agent_name : std::string()];
      stats.window_overflow += window.add(
          {time, e.metrics.cost_nanos, e.status == ExecutionStatus::failed}, rule.window, capacity);
    }
  }
};

Evaluator::Evaluator(std::vector<Rule> rules, std::size_t window_capacity)
    : state_(std::make_unique<State>()) {
  state_->rules = std::move(rules);
  state_->capacity = std::max<std::size_t>(1, window_capacity);
  state_->states.resize(state_->rules.size());
  for (std::size_t i = 0; i < state_->rules.size(); ++i) {
    state_->states[i].threshold_nanos = std::llround(state_->rules[i].threshold * 1e9);
  }
}

Evaluator::~Evaluator() = default;
Evaluator::Evaluator(Evaluator&&) noexcept = default;
Evaluator& Evaluator::operator=(Evaluator&&) noexcept = default;

void Evaluator::remember(const Execution& execution) {
  if (execution.status == ExecutionStatus::running) return;
  state_->record(execution, execution_time(execution));
}

std::vector<Alert> Evaluator::evaluate(const Execution& e) {
  std::vector<Alert> alerts;
  if (e.status == ExecutionStatus::running) return alerts;
  auto& s = *state_;
  ++s.stats.evaluated;
  const double time = execution_time(e);
  s.record(e, time);

  for (std::size_t i = 0; i < s.rules.size(); ++i) {
    const Rule& rule = s.rules[i];
    if (!rule.applies_to(e.agent_name)) continue;
    RuleState& state = s.states[i];
    Alert alert;
    alert.rule_index = i;
    alert.rule = rule.name;
    alert.kind = rule.kind;
    alert.threshold = rule.threshold;
    alert.timestamp = time;
    // A window over several agents names none (or the one agent the rule is about).
    if (!rule.is_window_rule() || rule.per_agent) {
      alert.agent = e.agent_name;
    } else if (rule.agents.size() == 1) {
      alert.agent = rule.agents.front();
    }
    alert.execution_id = e.id;
    std::string key = e.agent_name;
    bool fired = false;

    switch (rule.kind) {
      case RuleKind::execution_cost:
        if (e.metrics.cost_nanos > state.threshold_nanos) {
          fired = true;
          alert.value = telemetry::nano_usd_to_usd(e.metrics.cost_nanos);
          alert.message = fmt::format("execution {} of agent '{}' cost ${:.4f}, above ${:.4f}",
                                      e.id, e.agent_name, alert.value, rule.threshold);
        }
        break;
      case RuleKind::latency:
        if (e.duration && *e.duration > rule.threshold) {
          fired = true;
          alert.value = *e.duration;
          alert.message = fmt::format("execution {} of agent '{}' took {:.2f}s, above {:g}s", e.id,
                                      e.agent_name, *e.duration, rule.threshold);
        }
        break;
      case RuleKind::failed_execution:
        if (e.status == ExecutionStatus::failed) {
          fired = true;
          alert.value = 1;
          std::string what = e.error_type.empty() ? e.error : e.error_type + ": " + e.error;
          alert.message = fmt::format("execution {} of agent '{}' failed{}{}", e.id, e.agent_name,
                                      what.empty() ? "" : ": ", one_line(what));
        }
        break;
      case RuleKind::window_cost:
      case RuleKind::error_rate: {
        key = rule.per_agent ? e.agent_name : std::string();
        const Window& window = state.windows[key];
        alert.window = rule.window;
        const std::int64_t finished = window.completed + window.failed;
        if (rule.kind == RuleKind::window_cost) {
          if (window.cost > state.threshold_nanos) {
            fired = true;
            alert.value = telemetry::nano_usd_to_usd(window.cost);
            alert.message =
                fmt::format("cost over the last {} was ${:.4f} ({} {}, {}), above ${:.4f}",
                            format_span(rule.window), alert.value, finished,
                            finished == 1 ? "execution" : "executions", agents_phrase(rule, key),
                            rule.threshold);
          }
        } else if (finished >= rule.min_executions && finished > 0) {
          const double rate = static_cast<double>(window.failed) / static_cast<double>(finished);
          if (rate > rule.threshold) {
            fired = true;
            alert.value = rate;
            alert.message = fmt::format(
                "error rate over the last {} was {:.1f}% ({} of {} executions failed, {}), "
                "above {:g}%",
                format_span(rule.window), rate * 100, window.failed, finished,
                agents_phrase(rule, key), rule.threshold * 100);
          }
        }
        break;
      }
    }
    if (!fired) continue;
    if (const auto last = state.last_fired.find(key);
        last != state.last_fired.end() && std::abs(time - last->second) < rule.cooldown) {
      ++s.stats.suppressed;
      continue;
    }
    auto [slot, inserted] = state.last_fired.try_emplace(key, time);
    if (!inserted) slot->second = std::max(slot->second, time);
    ++s.stats.alerts;
    alerts.push_back(std::move(alert));
  }
  return alerts;
}

bool Evaluator::covers(std::string_view agent) const noexcept {
  return std::any_of(state_->rules.begin(), state_->rules.end(),
                     [&](const Rule& rule) { return rule.applies_to(agent); });
}

double Evaluator::longest_window() const noexcept {
  double longest = 0;
  for (const auto& rule : state_->rules) {
    if (rule.is_window_rule()) longest = std::max(longest, rule.window);
  }
  return longest;
}

const std::vector<Rule>& Evaluator::rules() const noexcept {
  return state_->rules;
}

EvaluatorStats Evaluator::stats() const noexcept {
  return state_->stats;
}

}  // namespace kagura::alerts
