#pragma once

#include <memory>

#include "kagura/telemetry/execution.hpp"

namespace kagura::telemetry {

// Where finished executions go. Called on the agent's thread, so an implementation must neither
// block on I/O nor throw. The execution is shared, not copied: the collector hands over the
// record it built in place, and nothing changes it afterwards.
class ExecutionSink {
 public:
  virtual ~ExecutionSink() = default;
  virtual void submit(std::shared_ptr<const Execution> execution) noexcept = 0;
};

}  // namespace kagura::telemetry
