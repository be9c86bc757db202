#pragma once

// Hands every execution to several sinks (the store's writer and an exporter's, say). The record
// is shared, not copied: each sink holds a reference to the same immutable execution.

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "kagura/telemetry/sink.hpp"

namespace kagura::telemetry {

class FanOutSink final : public ExecutionSink {
 public:
  explicit FanOutSink(std::vector<std::shared_ptr<ExecutionSink>> sinks)
      : sinks_(std::move(sinks)),
        takes_incomplete_(std::all_of(sinks_.begin(), sinks_.end(),
                                      [](const auto& sink) { return sink->takes_incomplete(); })) {}

  void submit(std::shared_ptr<const Execution> execution) noexcept override {
    for (const auto& sink : sinks_) sink->submit(execution);
  }

  // When every sink completes executions on a thread of its own, so does the fan-out: the
  // first to call complete() writes the record, the others find it written.
  bool takes_incomplete() const noexcept override { return takes_incomplete_; }
  void submit_incomplete(std::shared_ptr<const Execution> execution,
                         ExecutionCompleter& completer) noexcept override {
    if (!takes_incomplete_) {
      ExecutionSink::submit_incomplete(std::move(execution), completer);
      return;
    }
    for (const auto& sink : sinks_) sink->submit_incomplete(execution, completer);
  }

 private:
  std::vector<std::shared_ptr<ExecutionSink>> sinks_;
  bool takes_incomplete_;
};

}  // namespace kagura::telemetry
