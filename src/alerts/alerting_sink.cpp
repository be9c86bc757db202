#include "kagura/alerts/alerting_sink.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "kagura/alerts/evaluator.hpp"
#include "kagura/telemetry/notice.hpp"
#include "pipeline/background_thread.hpp"

namespace kagura::alerts {

namespace {
using Clock = std::chrono::steady_clock;
// How long shutdown waits for commands still running before it leaves them to finish alone.
constexpr auto kCommandGrace = std::chrono::seconds(2);
}  // namespace

struct AlertingSink::State {
  State(std::vector<Rule> rules, AlertingOptions options)
      : evaluator(std::move(rules)),
        runner(options.on_failure),
        capacity(std::max<std::size_t>(1, options.queue_capacity)) {}

  // Only the worker thread touches these two.
  Evaluator evaluator;
  ActionRunner runner;

  const std::size_t capacity;
  mutable std::mutex mutex;
  std::condition_variable work;
  std::condition_variable progress;
  std::deque<std::shared_ptr<const telemetry::Execution>> queue;
  std::uint64_t enqueued = 0;
  std::uint64_t done = 0;  // taken off the queue and finished with, or dropped at shutdown
  bool stopping = false;
  bool stopped = false;
  Clock::time_point drain_deadline = Clock::time_point::max();
  AlertingStats stats;
  bool drop_noticed = false;
  std::thread thread;

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      if (queue.empty()) {
        if (stopping) break;
        // Wakes now and then while commands run, to reap them.
        if (runner.running_commands() > 0) {
          work.wait_for(lock, std::chrono::milliseconds(200));
          lock.unlock();
          runner.reap();
          lock.lock();
          refresh_stats();
        } else {
          work.wait(lock, [&] { return !queue.empty() || stopping; });
        }
        continue;
      }
      if (stopping && Clock::now() >= drain_deadline) {
        stats.dropped += queue.size();
        done += queue.size();
        queue.clear();
        progress.notify_all();
        break;
      }
      auto execution = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      check(*execution);
      execution.reset();
      lock.lock();
      ++done;
      refresh_stats();
      progress.notify_all();
    }
    lock.unlock();
    const auto left = drain_deadline == Clock::time_point::max()
                          ? Clock::duration(kCommandGrace)
                          : std::min<Clock::duration>(kCommandGrace, drain_deadline - Clock::now());
    runner.wait_for_commands(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max<Clock::duration>(left, Clock::duration::zero())));
    lock.lock();
    refresh_stats();
  }

  void check(const telemetry::Execution& execution) noexcept {
    try {
      for (const Alert& alert : evaluator.evaluate(execution)) {
        runner.run(evaluator.rules()[alert.rule_index], alert);
      }
    } catch (const std::exception& e) {
      telemetry::notify(std::string("alert rules could not be checked: ") + e.what());
    } catch (...) {
    }
  }

  // With the mutex held.
  void refresh_stats() {
    const auto evaluated = evaluator.stats();
    const auto actions = runner.stats();
    stats.evaluated = evaluated.evaluated;
    stats.alerts = evaluated.alerts;
    stats.suppressed = evaluated.suppressed;
    stats.actions_delivered = actions.delivered;
    stats.actions_failed = actions.failed;
  }
};

AlertingSink::AlertingSink(std::shared_ptr<telemetry::ExecutionSink> inner, std::vector<Rule> rules,
                           AlertingOptions options)
    : inner_(std::move(inner)),
      state_(std::make_unique<State>(std::move(rules), std::move(options))) {
  state_->thread =
      pipeline::start_background_thread("kagura-alerts", [state = state_.get()] { state->run(); });
}

AlertingSink::~AlertingSink() {
  shutdown(std::chrono::seconds(5));
}

void AlertingSink::submit(std::shared_ptr<const telemetry::Execution> execution) noexcept {
  if (!execution) return;
  const bool check = execution->status != telemetry::ExecutionStatus::running &&
                     state_->evaluator.covers(execution->agent_name);
  if (!check) {
    if (inner_) inner_->submit(std::move(execution));
    return;
  }
  if (inner_) inner_->submit(execution);
  bool first_drop = false;
  try {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) return;
    if (state_->queue.size() >= state_->capacity) {
      ++state_->stats.dropped;
      first_drop = !state_->drop_noticed;
      state_->drop_noticed = true;
    } else {
      state_->queue.push_back(std::move(execution));
      ++state_->enqueued;
      ++state_->stats.queued;
    }
  } catch (...) {
    return;  // out of memory: this execution goes unchecked, the agent goes on
  }
  if (first_drop) {
    telemetry::notify("alert rules fall behind: executions beyond " +
                      std::to_string(state_->capacity) +
                      " waiting are not checked (they are still recorded); slow webhooks hold "
                      "the checks up, so lower their \"timeout\"");
  } else {
    state_->work.notify_one();
  }
}

bool AlertingSink::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  const std::uint64_t target = state_->enqueued;
  return state_->progress.wait_for(lock, timeout, [&] {
    return state_->done >= target || state_->stopped;
  }) && state_->done >= target;
}

void AlertingSink::shutdown(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(state_->mutex);
    if (state_->stopping) {
      // Another caller is stopping the thread.
      state_->progress.wait(lock, [&] { return state_->stopped; });
      return;
    }
    state_->stopping = true;
    state_->drain_deadline = Clock::now() + timeout;
  }
  state_->work.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
  std::lock_guard lock(state_->mutex);
  state_->stopped = true;
  state_->progress.notify_all();
}

AlertingStats AlertingSink::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

}  // namespace kagura::alerts
