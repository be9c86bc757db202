#include "kagura/telemetry/collector.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <set>
#include <typeinfo>

#include "kagura/pricing/price_table.hpp"
#include "kagura/telemetry/ids.hpp"
#include "kagura/telemetry/json_reuse.hpp"
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

  struct Price {
    NanoUsd cost_nanos = 0;
    bool priced = true;
  };

  // Outside the execution's lock: an unknown model's notice goes to the user's handler, which
  // may record.
  Price price_of(const LlmCallInfo& info) {
    if (info.cost_usd) return {std::llround(*info.cost_usd * 1e9), true};
    const pricing::ModelPrice* price = find_price(info.model);
    if (price == nullptr) {
      report_unpriced(info.model);
      return {0, false};
    }
    return {price->cost_of({.prompt_tokens = info.prompt_tokens,
                            .completion_tokens = info.completion_tokens,
                            .cached_tokens = info.cached_tokens,
                            .cache_write_tokens = info.cache_write_tokens}),
            true};
  }

  // Writes every field of `call`, which may hold an earlier call's values.
  static void write_llm_call(LlmCall& call, const LlmCallInfo& info, Price price) {
    call.model.assign(info.model);
    call.provider.assign(info.provider);
    call.prompt_tokens = info.prompt_tokens;
    call.completion_tokens = info.completion_tokens;
    call.cached_tokens = info.cached_tokens;
    call.cache_write_tokens = info.cache_write_tokens;
    call.reasoning_tokens = info.reasoning_tokens;
    call.duration = info.duration;
    call.time_to_first_token = info.time_to_first_token;
    call.finish_reason.assign(info.finish_reason);
    call.retries = info.retries;
    call.cost_nanos = price.cost_nanos;
    call.priced = price.priced;
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
class ActiveExecution {
 public:
  ActiveExecution() { record_.events.reserve(4); }

  // Readies a new or recycled object for a new execution, on the recording thread (measured:
  // readying it on the pipeline's thread instead costs both threads more). A recycled record's
  // strings keep their capacity, and its events and argument trees stay in place to be written
  // over (append_event, ArgumentsFilter): an agent records the same kinds of events call after
  // call, so reading cold memory to destroy the previous ones and allocating new ones would be
  // work for nothing. Events left over are erased when the execution finishes.
  void start(const std::shared_ptr<CollectorCore>& core, std::shared_ptr<ExecutionSink> sink) {
    // A recycled record mostly comes back to the collector it last served: keeping its
    // reference then saves two atomic updates of a count other threads share.
    if (core_ != core) core_ = core;
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
    if (r.events.size() > kMaxKeptEvents) {
      r.events = std::vector<Event>();
      r.events.reserve(4);
    }
    event_count_ = 0;
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
      record_.events.erase(record_.events.begin() + static_cast<std::ptrdiff_t>(event_count_),
                           record_.events.end());
      sink = std::move(sink_);
    }
    // From here on nothing writes the record (update() refuses), so readers need no lock.
    sink->submit(std::shared_ptr<const Execution>(shared_from_this(), &record_));
  }

  // What std::enable_shared_from_this gives, set by the recycler: that one checks, on every
  // new owner, the count of the previous owner's control block, a cache miss on memory the
  // pipeline's thread let go of, on the agent's thread; this one is let go by the owner's
  // deleter, on the thread that released the last owner.
  std::shared_ptr<ActiveExecution> shared_from_this() const noexcept { return self_.lock(); }
  void set_owner(const std::shared_ptr<ActiveExecution>& owner) noexcept { self_ = owner; }
  void forget_owner() noexcept { self_.reset(); }

  // The next event of the record, of kind Payload, for the caller to write every field of:
  // the previous execution's event at that place when it is of the same kind, with its
  // strings and JSON to be written over. Called under the lock, from update().
  template <typename Payload>
  Payload& append_event(double timestamp) {
    auto& events = record_.events;
    Event& event = event_count_ < events.size() ? events[event_count_] : events.emplace_back();
    ++event_count_;
    event.timestamp = timestamp;
    if (auto* reused = std::get_if<Payload>(&event.payload)) return *reused;
    return event.payload.template emplace<Payload>();
  }

  // Room for the control block of the shared_ptr that owns this object (ExecutionRecycler):
  // inside the record, it costs no allocation, and no free on the pipeline's thread of memory
  // the agent's thread allocated.
  static constexpr std::size_t kControlBlockBytes = 64;
  void* control_block_storage() noexcept { return control_block_storage_; }

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
  std::weak_ptr<ActiveExecution> self_;
  Execution record_;
  std::size_t event_count_ = 0;  // of record_.events, this execution's; the rest are reused
  std::chrono::steady_clock::time_point started_;
  alignas(std::max_align_t) std::byte control_block_storage_[kControlBlockBytes];

  // An execution with more events than this does not leave them to the next one.
  static constexpr std::size_t kMaxKeptEvents = 64;
};

// Finished executions come back here when the pipeline lets go of them, and the next
// track_execution() on any thread takes one: the record, its id strings and its event list keep
// their memory, so recording an execution allocates only what the user's data needs.
//
// Each recording thread takes records a batch at a time into a list of its own, so that the
// lock and the shared list, which the pipeline's thread writes as it gives records back, are
// touched once per batch rather than once per execution (both are cache misses on the agent's
// thread). A thread that ends gives its unused records back.
class ExecutionRecycler {
 public:
  static ExecutionRecycler& instance() {
    static auto* recycler = new ExecutionRecycler;  // never destroyed: used until exit
    return *recycler;
  }

  std::shared_ptr<ActiveExecution> take() {
    thread_local ThreadBatch batch;
    if (batch.size == 0) batch.size = take_batch(batch.records);
    ActiveExecution* active = batch.size > 0 ? batch.records[--batch.size] : new ActiveExecution;
    // The control block goes inside the record (InPlaceControlBlock), and the record comes back
    // here once the control block is gone: only then may another execution use that room.
    std::shared_ptr<ActiveExecution> owner(
        active, [](ActiveExecution* done) { done->forget_owner(); },
        InPlaceControlBlock<ActiveExecution>(active));
    active->set_owner(owner);
    return owner;
  }

 private:
  static constexpr std::size_t kMaxKept = 4096;
  static constexpr std::size_t kBatch = 16;

  struct ThreadBatch {
    std::array<ActiveExecution*, kBatch> records{};
    std::size_t size = 0;
    ThreadBatch() = default;
    ThreadBatch(const ThreadBatch&) = delete;
    ThreadBatch& operator=(const ThreadBatch&) = delete;
    ~ThreadBatch() {
      for (std::size_t i = 0; i < size; ++i) instance().give(records[i]);
      size = 0;
    }
  };

  // A std::shared_ptr allocator that places the control block in the record it owns; freeing
  // the control block gives the record back to the recycler.
  template <typename T>
  struct InPlaceControlBlock {
    using value_type = T;
    ActiveExecution* home;

    explicit InPlaceControlBlock(ActiveExecution* record) noexcept : home(record) {}
    template <typename U>
    InPlaceControlBlock(const InPlaceControlBlock<U>& other) noexcept : home(other.home) {}

    T* allocate(std::size_t n) {
      static_assert(sizeof(T) <= ActiveExecution::kControlBlockBytes &&
                        alignof(T) <= alignof(std::max_align_t),
                    "raise ActiveExecution::kControlBlockBytes");
      if (n != 1) throw std::bad_alloc();
      return static_cast<T*>(home->control_block_storage());
    }
    // The last use of the control block's memory: the record may go to the next execution.
    void deallocate(T*, std::size_t) noexcept { instance().give(home); }

    template <typename U>
    bool operator==(const InPlaceControlBlock<U>& other) const noexcept {
      return home == other.home;
    }
  };

  ExecutionRecycler() { free_.reserve(kMaxKept); }  // give() never allocates

  std::size_t take_batch(std::array<ActiveExecution*, kBatch>& into) {
    std::lock_guard lock(mutex_);
    const std::size_t n = std::min(kBatch, free_.size());
    std::copy(free_.end() - static_cast<std::ptrdiff_t>(n), free_.end(), into.begin());
    free_.resize(free_.size() - n);
    return n;
  }

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
  const auto price = active.core().price_of(info);
  const double now = unix_now();
  active.update([&](Execution& e) {
    LlmCall& call = active.append_event<LlmCall>(now);
    detail::CollectorCore::write_llm_call(call, info, price);
    e.metrics.add(call);
  });
}

// The fields of a tool-call event other than its arguments.
void write_tool_call(ToolCall& call, const ToolCallInfo& info) {
  call.tool_name.assign(info.tool_name);
  call.duration = info.duration;
  call.success = info.success;
  call.error.assign(info.error);
}

void record_tool(detail::ActiveExecution& active, ToolCallInfo info) {
  bound_value_sizes(info.kwargs);
  const double now = unix_now();
  active.update([&](Execution& e) {
    ++e.metrics.tool_calls;
    ToolCall& call = active.append_event<ToolCall>(now);
    write_tool_call(call, info);
    call.kwargs = std::move(info.kwargs);
  });
}

// Writes `arguments` into `recorded` through `filter`. A filter that throws (out of memory, or
// a user's own) must not fail the agent's call: the arguments are then recorded as null, and
// false tells the caller to report it (outside the execution's lock, see price_of).
bool record_arguments(ArgumentsFilter filter, nlohmann::json& recorded,
                      const nlohmann::json& arguments) noexcept {
  try {
    (filter != nullptr ? filter : &copy_json_reusing)(recorded, arguments);
    if (recorded.is_null()) recorded = nlohmann::json::object();
    bound_value_sizes(recorded);
    return true;
  } catch (...) {
    recorded = nullptr;
    return false;
  }
}

void report_failed_filter() noexcept {
  notify(
      "arguments not recorded: the ArgumentsFilter threw, so the execution keeps null "
      "arguments; a filter must not throw");
}

void record_tool_reusing(detail::ActiveExecution& active, ToolCallInfo info,
                         const nlohmann::json& arguments, ArgumentsFilter filter) {
  const double now = unix_now();
  bool recorded = true;
  active.update([&](Execution& e) {
    ++e.metrics.tool_calls;
    ToolCall& call = active.append_event<ToolCall>(now);
    write_tool_call(call, info);
    recorded = record_arguments(filter, call.kwargs, arguments);
  });
  if (!recorded) report_failed_filter();
}

void record_memory(detail::ActiveExecution& active, MemoryOperationInfo info) {
  bound_value_sizes(info.details);
  const double now = unix_now();
  active.update([&](Execution& e) {
    ++e.metrics.memory_operations;
    MemoryOperation& operation = active.append_event<MemoryOperation>(now);
    operation.operation.assign(info.operation);
    operation.memory_type.assign(info.memory_type);
    operation.duration = info.duration;
    operation.items = info.items;
    operation.details = std::move(info.details);
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
  active.update([&](Execution&) {
    CustomEvent& event = active.append_event<CustomEvent>(now);
    event.type.assign(type);
    event.data = std::move(data);
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

// A recycled record readied for a new execution on this thread, its arguments still to set.
std::shared_ptr<detail::ActiveExecution> start_execution(detail::CollectorShared& shared,
                                                         std::string agent_name) {
  auto active = detail::ExecutionRecycler::instance().take();
  active->start(shared.core, shared.sink);
  Execution& record = active->record_before_start();
  record.started_at = new_execution_id_and_time(record.id);
  if (t_current != nullptr) {
    record.parent_id = t_current->id();
    record.trace_id = t_current->trace_id();
  } else {
    record.trace_id = record.id;
  }
  record.agent_name = std::move(agent_name);
  return active;
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
void ExecutionScope::record_tool_call(ToolCallInfo call, const nlohmann::json& arguments,
                                      ArgumentsFilter filter) {
  if (active_) record_tool_reusing(*active_, std::move(call), arguments, filter);
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
  auto active = start_execution(*shared_, std::move(agent_name));
  Execution& record = active->record_before_start();
  if (kwargs.is_null()) {
    record.kwargs = nlohmann::json::object();
  } else {
    bound_value_sizes(kwargs);
    record.kwargs = std::move(kwargs);
  }
  return ExecutionScope(std::move(active));
}

ExecutionScope Collector::track_execution(std::string agent_name, const nlohmann::json& kwargs,
                                          ArgumentsFilter filter) {
  if (!enabled() || !detail::g_telemetry_enabled.load(std::memory_order_relaxed)) return {};
  auto active = start_execution(*shared_, std::move(agent_name));
  Execution& record = active->record_before_start();
  if (!record_arguments(filter, record.kwargs, kwargs)) report_failed_filter();
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
