#pragma once

#include <memory>

#include "kagura/telemetry/execution.hpp"

namespace kagura::telemetry {

// Where finished executions go. Called on the agent's thread, so an implementation must neither
// block on I/O nor throw.
class ExecutionSink {
 public:
  virtual ~ExecutionSink() = default;
  virtual void submit(std::unique_ptr<Execution> execution) noexcept = 0;
};

}  // namespace kagura::telemetry
