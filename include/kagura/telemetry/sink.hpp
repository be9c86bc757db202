#pragma once

#include <memory>
#include <utility>

#include "kagura/telemetry/execution.hpp"

namespace kagura::telemetry {

// Completes an execution handed over before its record was (ExecutionSink::submit_incomplete).
class ExecutionCompleter {
 public:
  // Writes the rest of the record. Call it before reading the execution, on any thread; later
  // calls do nothing.
  virtual void complete() noexcept = 0;

 protected:
  ~ExecutionCompleter() = default;
};

// Where finished executions go. Called on the agent's thread, so an implementation must neither
// block on I/O nor throw. The execution is shared, not copied: the collector hands over a
// record of its own, and nothing changes it once it is complete.
class ExecutionSink {
 public:
  virtual ~ExecutionSink() = default;
  virtual void submit(std::shared_ptr<const Execution> execution) noexcept = 0;

  // A sink that reads executions later, on a thread of its own, may take them before their
  // records are written and have them written there, off the agent's thread (the collector
  // keeps what an execution records in a compact form until then): it returns true here and
  // overrides submit_incomplete(). Other sinks get complete executions through submit().
  virtual bool takes_incomplete() const noexcept { return false; }
  // `completer` lives as long as `execution`; nothing may read the execution before
  // completer.complete() has returned.
  virtual void submit_incomplete(std::shared_ptr<const Execution> execution,
                                 ExecutionCompleter& completer) noexcept {
    completer.complete();
    submit(std::move(execution));
  }
};

}  // namespace kagura::telemetry
