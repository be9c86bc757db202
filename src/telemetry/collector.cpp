#include "kagura/telemetry/collector.hpp"

#include <cxxabi.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <set>
#include <typeinfo>

#include "kagura/pricing/price_table.hpp"
#include "kagura/telemetry/ids.hpp"
#include "kagura/telemetry/notice.hpp"
#include "telemetry/global_switch.hpp"

namespace kagura::telemetry {
namespace detail {

std::uint64_t next_generation() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

// What an execution needs from its collector for as long as anything refers to it. It holds no
// sink: a finished execution waits in the sink's queue, and if it kept the sink alive through
// here, a writer the program has let go of would own itself, and would end up destroyed by its
// own thread (which cannot join itself) instead of flushing where the program released it.
struct CollectorCore {
  // Tells collectors apart in thread-local caches even when one is freed and another takes
  // its address.
  const std::uint64_t generation = next_generation();
  std::shared_ptr<const pricing::PriceTable> prices;
  std::atomic<std::uint64_t> late_events{0};
  std::mutex unpriced_mutex;
  std::set<std::string, std::less<>> unpriced_models;  // reported once each

  LlmCall price_call(const LlmCallInfo& info) {
    LlmCall call;
    call.model = info.model;
    call.provider = info.provider;
    call.prompt_tokens = info.prompt_tokens;
    call.completion_tokens = info.completion_tokens;
    call.cached_tokens = info.cached_tokens;
    call.cache_write_tokens = info.cache_write_tokens;
    call.reasoning_tokens = info.reasoning_tokens;
    call.duration = info.duration;
    call.time_to_first_token = info.time_to_first_token;
    call.finish_reason = info.finish_reason;
    call.retries = info.retries;
    if (info.cost_usd) {
      call.cost_nanos = std::llround(*info.cost_usd * 1e9);
      call.priced = true;
      return call;
    }
    const pricing::ModelPrice* price = find_price(info.model);
    call.priced = price != nullptr;
    if (price != nullptr) {
      call.cost_nanos = price->cost_of({.prompt_tokens = info.prompt_tokens,
                                        .completion_tokens = info.completion_tokens,
                                        .cached_tokens = info.cached_tokens,
                                        .cache_write_tokens = info.cache_write_tokens});
    }
    if (price == nullptr) report_unpriced(info.model);
    return call;
  }

  // Name matching in the price table normalises the name and tries several spellings; an agent
  // uses the same model call after call, so each thread remembers its last answer.
  const pricing::ModelPrice* find_price(const std::string& model) {
    struct LastLookup {
      std::uint64_t collector = 0;
      std::string model;
      const pricing::ModelPrice* price = nullptr;
    };
    thread_local LastLookup last;
    if (last.collector != generation || last.model != model) {
      last.collector = generation;
      last.model = model;
      last.price = prices->find(model);
    }
    return last.price;
  }

  void report_unpriced(std::string_view model) {
    {
      std::lock_guard lock(unpriced_mutex);
      if (!unpriced_models.emplace(model).second) return;
    }
    notify("no price known for model '" + std::string(model) +
           "'; its calls are recorded as unpriced (cost 0). Add the model to "
           "~/.kagura/pricing.json to price them.");
  }
};

struct CollectorShared {
  std::shared_ptr<ExecutionSink> sink;
  std::shared_ptr<CollectorCore> core;
};

// The execution being recorded, shared by the scope that owns it and by any thread that was
// handed its context. The record lives inside this object, so starting an execution costs one
// allocation, and the sink receives an aliasing pointer to it instead of a copy. The mutex is
// uncontended unless the user records from several threads.
class ActiveExecution : public std::enable_shared_from_this<ActiveExecution> {
 public:
  ActiveExecution() { record_.events.reserve(4); }

  // Readies a new or recycled object for a new execution. What a recycled one still holds of
  // its previous execution is freed here, on the recording thread that allocates the next one
  // (measured: freeing it on the pipeline's thread instead costs both threads more), and
  // clearing keeps the capacity of its strings and event list.
  void start(std::shared_ptr<CollectorCore> core, std::shared_ptr<ExecutionSink> sink) {
    core_ = std::move(core);
    sink_ = std::move(sink);
    finished_ = false;
    started_ = std::chrono::steady_clock::now();
    Execution& r = record_;
    r.trace_id.clear();
    r.parent_id.clear();
    r.agent_name.clear();
    r.ended_at.reset();
    r.duration.reset();
    r.status = ExecutionStatus::running;
    r.error.clear();
    r.error_type.clear();
    r.kwargs = nullptr;
    r.events.clear();
    r.metrics = Metrics{};
    r.tags.clear();
  }

  template <typename Fn>
  void update(Fn&& fn) {
    std::lock_guard lock(mutex_);
    if (finished_) {
      core_->late_events.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    fn(record_);
  }

  void finish() noexcept {
    std::shared_ptr<ExecutionSink> sink;  // released once submitted: see CollectorCore
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      finished_ = true;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      record_.duration = elapsed;
      record_.ended_at = record_.started_at + elapsed;
      if (record_.status == ExecutionStatus::running) record_.status = ExecutionStatus::completed;
      sink = std::move(sink_);
    }
    // From here on nothing writes the record (update() refuses), so readers need no lock.
    sink->submit(std::shared_ptr<const Execution>(shared_from_this(), &record_));
  }

  CollectorCore& core() noexcept { return *core_; }
  // Set before the execution is shared and never changed, so they are read without the lock.
  Execution& record_before_start() noexcept { return record_; }
  const std::string& id() const noexcept { return record_.id; }
  const std::string& trace_id() const noexcept { return record_.trace_id; }

 private:
  std::shared_ptr<CollectorCore> core_;
  std::shared_ptr<ExecutionSink> sink_;  // until finish()
  std::mutex mutex_;
  bool finished_ = false;
  Execution record_;
  std::chrono::steady_clock::time_point started_;
};

// Finished executions come back here when the pipeline lets go of them, and the next
// track_execution() on any thread takes one: the record, its id strings and its event list keep
// their memory, so recording an execution allocates only what the user's data needs.
class ExecutionRecycler {
 public:
  static ExecutionRecycler& instance() {
    static auto* recycler = new ExecutionRecycler;  // never destroyed: used until exit
    return *recycler;
  }

  std::shared_ptr<ActiveExecution> take() {
    ActiveExecution* active = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        active = free_.back();
        free_.pop_back();
      }
    }
    if (active == nullptr) active = new ActiveExecution;
    return std::shared_ptr<ActiveExecution>(active,
                                            [](ActiveExecution* done) { instance().give(done); });
  }

 private:
  static constexpr std::size_t kMaxKept = 4096;

  void give(ActiveExecution* active) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (free_.size() < kMaxKept) {
        free_.push_back(active);
        return;
      }
    }
    delete active;
  }

  std::mutex mutex_;
  std::vector<ActiveExecution*> free_;
};

}  // namespace detail

namespace {

thread_local detail::ActiveExecution* t_current = nullptr;

bool is_builtin_metric(std::string_view name) {
  static constexpr std::string_view kBuiltin[] = {
      "llm_calls",          "tool_calls",   "memory_operations", "prompt_tokens",
      "completion_tokens",  "total_tokens", "cached_tokens",     "reasoning_tokens",
      "unpriced_llm_calls", "total_cost"};
  for (auto builtin : kBuiltin) {
    if (name == builtin) return true;
  }
  return false;
}

std::size_t utf8_boundary_at_or_before(const std::string& text, std::size_t at) {
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return at;
}

// Works in place and only on strings that are too long, so ordinary values cost one walk.
void bound_value_sizes(nlohmann::json& value) {
  if (value.is_string()) {
    auto& text = value.get_ref<std::string&>();
    if (text.size() <= kMaxRecordedValueBytes) return;
    const std::size_t keep = utf8_boundary_at_or_before(text, kMaxRecordedValueBytes);
    const std::size_t dropped = text.size() - keep;
    text.resize(keep);
    text += "...[truncated " + std::to_string(dropped) + " bytes]";
  } else if (value.is_structured()) {
    for (auto& item : value) bound_value_sizes(item);
  }
}

bool is_builtin_event(std::string_view type) {
  return type == "llm_call" || type == "tool_call" || type == "memory_operation";
}

void record_llm(detail::ActiveExecution& active, const LlmCallInfo& info) {
  LlmCall call = active.core().price_call(info);
  const double now = unix_now();
  active.update([&](Execution& e) {
    e.metrics.add(call);
    e.events.push_back(Event{now, std::move(call)});
  });
}

void record_tool(detail::ActiveExecution& active, ToolCallInfo info) {
  bound_value_sizes(info.kwargs);
  const double now = unix_now();
  active.update([&](Execution& e) {
    ++e.metrics.tool_calls;
    e.events.push_back(Event{now, ToolCall{std::move(info.tool_name), std::move(info.kwargs),
                                           info.duration, info.success, std::move(info.error)}});
  });
}

void record_memory(detail::ActiveExecution& active, MemoryOperationInfo info) {
  bound_value_sizes(info.details);
  const double now = unix_now();
  active.update([&](Execution& e) {
    ++e.metrics.memory_operations;
    e.events.push_back(
        Event{now, MemoryOperation{std::move(info.operation), std::move(info.memory_type),
                                   info.duration, info.items, std::move(info.details)}});
  });
}

void record_custom(detail::ActiveExecution& active, std::string type, nlohmann::json data) {
  if (is_builtin_event(type) || type.empty()) {
    notify("custom event type '" + type +
           "' refused: use record_llm_call, record_tool_call or record_memory_operation for "
           "built-in event types, and a non-empty name otherwise");
    return;
  }
  bound_value_sizes(data);
  const double now = unix_now();
  active.update([&](Execution& e) {
    e.events.push_back(Event{now, CustomEvent{std::move(type), std::move(data)}});
  });
}

void record_metric_into(detail::ActiveExecution& active, std::string name, nlohmann::json value) {
  if (is_builtin_metric(name)) {
    notify("metric name '" + name +
           "' is computed by Kagura and cannot be recorded by hand; choose another name");
    return;
  }
  active.update([&](Execution& e) { e.metrics.custom[std::move(name)] = std::move(value); });
}

void add_tag_into(detail::ActiveExecution& active, std::string key, std::string value) {
  active.update([&](Execution& e) { e.tags[std::move(key)] = std::move(value); });
}

}  // namespace

std::string ExecutionContext::id() const {
  return active_ ? active_->id() : std::string();
}
std::string ExecutionContext::trace_id() const {
  return active_ ? active_->trace_id() : std::string();
}

ContextGuard::ContextGuard(ExecutionContext context) noexcept
    : context_(std::move(context)), previous_(t_current) {
  t_current = context_.active_.get();
}

ContextGuard::~ContextGuard() {
  t_current = previous_;
}

ExecutionScope::ExecutionScope(std::shared_ptr<detail::ActiveExecution> active)
    : active_(std::move(active)),
      previous_(t_current),
      uncaught_at_start_(std::uncaught_exceptions()) {
  t_current = active_.get();
}

ExecutionScope::ExecutionScope(ExecutionScope&& other) noexcept
    : active_(std::move(other.active_)),
      previous_(other.previous_),
      uncaught_at_start_(other.uncaught_at_start_) {}

ExecutionScope::~ExecutionScope() {
  if (!active_) return;
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    active_->update([](Execution& e) {
      if (e.status != ExecutionStatus::failed) {
        e.status = ExecutionStatus::failed;
        e.error = "an exception left the execution scope";
      }
    });
  }
  finish();
}

std::string ExecutionScope::id() const {
  return active_ ? active_->id() : std::string();
}
std::string ExecutionScope::trace_id() const {
  return active_ ? active_->trace_id() : std::string();
}

void ExecutionScope::record_llm_call(const LlmCallInfo& call) {
  if (active_) record_llm(*active_, call);
}
void ExecutionScope::record_tool_call(ToolCallInfo call) {
  if (active_) record_tool(*active_, std::move(call));
}
void ExecutionScope::record_memory_operation(MemoryOperationInfo operation) {
  if (active_) record_memory(*active_, std::move(operation));
}
void ExecutionScope::record_event(std::string type, nlohmann::json data) {
  if (active_) record_custom(*active_, std::move(type), std::move(data));
}
void ExecutionScope::record_metric(std::string name, nlohmann::json value) {
  if (active_) record_metric_into(*active_, std::move(name), std::move(value));
}
void ExecutionScope::add_tag(std::string key, std::string value) {
  if (active_) add_tag_into(*active_, std::move(key), std::move(value));
}

void ExecutionScope::fail(std::string message, std::string error_type) {
  if (!active_) return;
  active_->update([&](Execution& e) {
    e.status = ExecutionStatus::failed;
    e.error = std::move(message);
    e.error_type = std::move(error_type);
  });
}

void ExecutionScope::fail(const std::exception& error) {
  // The dynamic type names the kind of failure ("kagura::llm::LlmError", "std::out_of_range").
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(error).name(), nullptr, nullptr, &status), std::free);
  fail(error.what(), status == 0 && name ? name.get() : typeid(error).name());
}

void ExecutionScope::finish() noexcept {
  if (!active_) return;
  if (t_current == active_.get()) t_current = previous_;
  active_->finish();
  active_.reset();
}

Collector::Collector(std::shared_ptr<ExecutionSink> sink,
                     std::shared_ptr<const pricing::PriceTable> prices)
    : shared_(std::make_shared<detail::CollectorShared>()) {
  shared_->sink = std::move(sink);
  shared_->core = std::make_shared<detail::CollectorCore>();
  shared_->core->prices = std::move(prices);
}

Collector::~Collector() = default;

const pricing::PriceTable& Collector::prices() const noexcept {
  return *shared_->core->prices;
}

std::uint64_t Collector::late_events() const noexcept {
  return shared_->core->late_events.load(std::memory_order_relaxed);
}

ExecutionScope Collector::track_execution(std::string agent_name, nlohmann::json kwargs) {
  if (!enabled() || !detail::g_telemetry_enabled.load(std::memory_order_relaxed)) return {};
  auto active = detail::ExecutionRecycler::instance().take();
  active->start(shared_->core, shared_->sink);
  Execution& record = active->record_before_start();
  new_execution_id(record.id);
  record.started_at = unix_now();
  if (t_current != nullptr) {
    record.parent_id = t_current->id();
    record.trace_id = t_current->trace_id();
  } else {
    record.trace_id = record.id;
  }
  record.agent_name = std::move(agent_name);
  if (kwargs.is_null()) {
    record.kwargs = nlohmann::json::object();
  } else {
    bound_value_sizes(kwargs);
    record.kwargs = std::move(kwargs);
  }
  return ExecutionScope(std::move(active));
}

ExecutionContext Collector::current() noexcept {
  if (t_current == nullptr) return {};
  return ExecutionContext(t_current->shared_from_this());
}

void Collector::record_llm_call(const LlmCallInfo& call) {
  if (t_current != nullptr) record_llm(*t_current, call);
}
void Collector::record_tool_call(ToolCallInfo call) {
  if (t_current != nullptr) record_tool(*t_current, std::move(call));
}
void Collector::record_memory_operation(MemoryOperationInfo operation) {
  if (t_current != nullptr) record_memory(*t_current, std::move(operation));
}
void Collector::record_event(std::string type, nlohmann::json data) {
  if (t_current != nullptr) record_custom(*t_current, std::move(type), std::move(data));
}
void Collector::record_metric(std::string name, nlohmann::json value) {
  if (t_current != nullptr) record_metric_into(*t_current, std::move(name), std::move(value));
}
void Collector::add_tag(std::string key, std::string value) {
  if (t_current != nullptr) add_tag_into(*t_current, std::move(key), std::move(value));
}

}  // namespace kagura::telemetry
