#pragma once

// Recording of agent executions on the agent's own thread.
//
//   auto scope = collector.track_execution("translator", {{"text", text}});
//   scope.record_llm_call({.model = "gpt-4o-mini", .prompt_tokens = 12, ...});
//   ...                       // the destructor ends the execution and hands it to the sink
//
// Each thread has its own current execution, so executions running concurrently on different
// threads never mix their events. An execution started while another is current on the same
// thread becomes its child in the same trace. ExecutionContext carries the current execution to
// another thread (ContextGuard makes it current there).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kagura/telemetry/execution.hpp"
#include "kagura/telemetry/sink.hpp"

namespace kagura::pricing {
class PriceTable;
}

namespace kagura::telemetry {

// What a caller knows about one LLM call. Cost comes from the price table unless `cost_usd`
// is given (e.g. a provider that reports the charge itself).
struct LlmCallInfo {
  std::string model{};
  std::string provider{};
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t cache_write_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  double duration = 0.0;  // seconds
  std::optional<double> time_to_first_token{};
  std::string finish_reason{};
  int retries = 0;
  std::optional<double> cost_usd{};
};

struct ToolCallInfo {
  std::string tool_name{};
  nlohmann::json kwargs = nlohmann::json::object();
  double duration = 0.0;
  bool success = true;
  std::string error{};
};

struct MemoryOperationInfo {
  std::string operation{};
  std::string memory_type{};
  double duration = 0.0;
  std::int64_t items = 0;
  nlohmann::json details{};
};

// Writes into `recorded` the form of `arguments` an execution keeps (a copy, or a copy with
// secrets redacted). `recorded` is a tree of the calling thread's that may hold the arguments
// of its previous call, whose memory a filter that assigns into it (json_reuse.hpp) reuses.
// nullptr: copy_json_reusing. A filter that throws does not fail the call: the arguments are
// then recorded as null, with a notice. It must not record anything itself (that would reuse
// the same tree).
using ArgumentsFilter = void (*)(nlohmann::json& recorded, const nlohmann::json& arguments);

// Records arguments with the value of every member whose key `is_secret` flags, at any depth,
// replaced by "[REDACTED]": what agents use (agent::is_secret_key). The arguments are written
// into the execution's compact journal as they are read, with no copy of the tree, which is
// the cheapest way to record them on the agent's thread; the secrets are replaced when the
// record is written from the journal, before any sink reads it (on the asynchronous writer's
// thread, when that is the sink). So `is_secret` must not throw, and may be called on any
// thread.
struct RedactKeys {
  bool (*is_secret)(std::string_view key) = nullptr;  // nullptr: nothing redacted
};

namespace detail {
class ActiveExecution;
struct CollectorShared;

// A counted reference to an execution in progress. The count is a member of the execution, so
// taking and letting go of a reference updates a line the recording thread already holds; the
// execution goes back to be recycled when the last reference goes.
class ActiveRef {
 public:
  ActiveRef() noexcept = default;
  // Takes over a reference the caller holds.
  static ActiveRef adopt(ActiveExecution* active) noexcept {
    ActiveRef ref;
    ref.active_ = active;
    return ref;
  }
  ActiveRef(const ActiveRef& other) noexcept;
  ActiveRef(ActiveRef&& other) noexcept : active_(std::exchange(other.active_, nullptr)) {}
  ActiveRef& operator=(const ActiveRef& other) noexcept {
    ActiveRef copy(other);
    std::swap(active_, copy.active_);
    return *this;
  }
  ActiveRef& operator=(ActiveRef&& other) noexcept {
    ActiveRef moved(std::move(other));
    std::swap(active_, moved.active_);
    return *this;
  }
  ~ActiveRef() { reset(); }

  void reset() noexcept {
    if (active_ != nullptr) release(std::exchange(active_, nullptr));
  }
  ActiveExecution* get() const noexcept { return active_; }
  ActiveExecution& operator*() const noexcept { return *active_; }
  ActiveExecution* operator->() const noexcept { return active_; }
  explicit operator bool() const noexcept { return active_ != nullptr; }

 private:
  static void release(ActiveExecution* active) noexcept;
  ActiveExecution* active_ = nullptr;
};
}  // namespace detail

// A copyable handle on an execution in progress; empty when telemetry is off.
class ExecutionContext {
 public:
  ExecutionContext() = default;
  bool valid() const noexcept { return static_cast<bool>(active_); }
  explicit operator bool() const noexcept { return valid(); }
  std::string id() const;
  std::string trace_id() const;

 private:
  friend class Collector;
  friend class ContextGuard;
  friend class ExecutionScope;
  explicit ExecutionContext(detail::ActiveRef active) : active_(std::move(active)) {}
  detail::ActiveRef active_;
};

// Makes an execution current on this thread for the guard's lifetime, e.g. in a worker thread
// that does part of an agent's work. An empty context makes no execution current, so what runs
// under the guard records nothing (an agent with telemetry off uses this to keep its calls out
// of an enclosing execution). Guards and scopes must end in reverse order of creation.
class ContextGuard {
 public:
  explicit ContextGuard(ExecutionContext context) noexcept;
  ~ContextGuard();
  ContextGuard(const ContextGuard&) = delete;
  ContextGuard& operator=(const ContextGuard&) = delete;

 private:
  ExecutionContext context_;
  detail::ActiveExecution* previous_;
};

// One execution, from track_execution() to the end of the scope. When the scope is left by an
// exception without fail() having been called, the execution is recorded as failed.
class ExecutionScope {
 public:
  ExecutionScope() = default;  // inactive: every call is a no-op
  ExecutionScope(ExecutionScope&& other) noexcept;
  ExecutionScope& operator=(ExecutionScope&&) = delete;
  ExecutionScope(const ExecutionScope&) = delete;
  ExecutionScope& operator=(const ExecutionScope&) = delete;
  ~ExecutionScope();

  bool active() const noexcept { return static_cast<bool>(active_); }
  std::string id() const;
  std::string trace_id() const;
  ExecutionContext context() const { return ExecutionContext(active_); }

  void record_llm_call(const LlmCallInfo& call);
  void record_tool_call(const ToolCallInfo& call);
  // The same with the tool's arguments written by `filter` into a recycled event's argument
  // tree, instead of being handed over in call.kwargs (which is ignored).
  void record_tool_call(const ToolCallInfo& call, const nlohmann::json& arguments,
                        ArgumentsFilter filter);
  // The same with the tool's arguments recorded as RedactKeys says.
  void record_tool_call(const ToolCallInfo& call, const nlohmann::json& arguments,
                        RedactKeys redact);
  void record_memory_operation(const MemoryOperationInfo& operation);
  // A custom event; `type` must not be one of the built-in event types.
  void record_event(const std::string& type, const nlohmann::json& data = nlohmann::json::object());
  // A custom metric (a number, string or boolean); built-in metric names are refused.
  void record_metric(std::string name, nlohmann::json value);
  void add_tag(std::string key, std::string value);

  // Marks the execution failed; the scope still ends it.
  void fail(std::string message, std::string error_type = {});
  void fail(const std::exception& error);
  // Ends the execution now instead of at scope exit.
  void finish() noexcept;

 private:
  friend class Collector;
  explicit ExecutionScope(detail::ActiveRef active);
  detail::ActiveRef active_;
  detail::ActiveExecution* previous_ = nullptr;
  int uncaught_at_start_ = 0;
};

// Every string in the JSON an agent hands over (execution and tool arguments, memory
// details, custom event data, custom metric values) is cut to this many bytes, at a UTF-8
// character boundary, and ends with "...[truncated N bytes]": one stray 10 MB argument must not
// bloat every row, export and dashboard page that shows the execution. Agent and tool names,
// metric names, tags and error messages are kept whole.
inline constexpr std::size_t kMaxRecordedValueBytes = std::size_t{64} * 1024;

class Collector {
 public:
  Collector(std::shared_ptr<ExecutionSink> sink, std::shared_ptr<const pricing::PriceTable> prices);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Starts an execution and makes it current on this thread. Returns an inactive scope when
  // the collector is disabled.
  ExecutionScope track_execution(std::string_view agent_name,
                                 const nlohmann::json& kwargs = nlohmann::json::object());
  // The same with the arguments recorded as `filter` writes them.
  ExecutionScope track_execution(std::string_view agent_name, const nlohmann::json& kwargs,
                                 ArgumentsFilter filter);
  // The same with the arguments recorded as RedactKeys says.
  ExecutionScope track_execution(std::string_view agent_name, const nlohmann::json& kwargs,
                                 RedactKeys redact);

  // Runs fn() inside an execution. An exception escaping fn() is recorded with its message,
  // the execution marked failed, and the exception rethrown unchanged.
  template <typename Fn>
  decltype(auto) track(std::string_view agent_name, const nlohmann::json& kwargs, Fn&& fn) {
    auto scope = track_execution(agent_name, kwargs);
    try {
      return std::forward<Fn>(fn)(scope);
    } catch (const std::exception& error) {
      scope.fail(error);
      throw;
    } catch (...) {
      scope.fail("unknown exception", "unknown");
      throw;
    }
  }

  // These record into the calling thread's current execution, whichever collector started it,
  // and do nothing when there is none, so library code (an LLM client, a memory) can record
  // without being handed a scope or a collector: Collector::record_tool_call(...).
  static ExecutionContext current() noexcept;
  static void record_llm_call(const LlmCallInfo& call);
  static void record_tool_call(const ToolCallInfo& call);
  static void record_memory_operation(const MemoryOperationInfo& operation);
  static void record_event(const std::string& type,
                           const nlohmann::json& data = nlohmann::json::object());
  static void record_metric(std::string name, nlohmann::json value);
  static void add_tag(std::string key, std::string value);

  void set_enabled(bool enabled) noexcept { enabled_.store(enabled, std::memory_order_relaxed); }
  bool enabled() const noexcept { return enabled_.load(std::memory_order_relaxed); }

  const pricing::PriceTable& prices() const noexcept;
  // Events recorded into an execution after it had ended; they are not stored.
  std::uint64_t late_events() const noexcept;

 private:
  std::atomic<bool> enabled_{true};
  // Outlives the collector while executions it started are still open on other threads.
  std::shared_ptr<detail::CollectorShared> shared_;
};

}  // namespace kagura::telemetry
