#pragma once

// Hands every execution to several sinks (the store's writer and an exporter's, say). The record
// is shared, not copied: each sink holds a reference to the same immutable execution.

#include <memory>
#include <utility>
#include <vector>

#include "kagura/telemetry/sink.hpp"

namespace kagura::telemetry {

class FanOutSink final : public ExecutionSink {
 public:
  explicit FanOutSink(std::vector<std::shared_ptr<ExecutionSink>> sinks)
      : sinks_(std::move(sinks)) {}

  void submit(std::shared_ptr<const Execution> execution) noexcept override {
    for (const auto& sink : sinks_) sink->submit(execution);
  }

 private:
  std::vector<std::shared_ptr<ExecutionSink>> sinks_;
};

}  // namespace kagura::telemetry
