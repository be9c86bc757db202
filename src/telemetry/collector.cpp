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
#include <span>
#include <typeinfo>

#include "kagura/pricing/price_table.hpp"
#include "kagura/telemetry/ids.hpp"
#include "kagura/telemetry/json_reuse.hpp"
#include "kagura/telemetry/notice.hpp"
#include "telemetry/global_switch.hpp"
#include "telemetry/record_journal.hpp"

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
  bool sink_takes_incomplete = false;  // asked once: a virtual call on a cold object otherwise
  std::shared_ptr<CollectorCore> core;
};

// Records of both kinds below are recycled: a finished one comes back to its Recycler when the
// last owner lets go of it, and the next execution on any thread takes one, its strings, event
// list and journal keeping their memory, so recording allocates only what the user's data needs.
//
// Each thread that takes records keeps a batch of its own, so that the lock and the shared list,
// which the pipeline's threads write as they give records back, are touched once per batch
// rather than once per execution (both are cache misses on the agent's thread). A record let go
// of on such a thread goes back into its batch, to be taken next: an execution's running state
// is let go of as the scope ends, so the agent's next call reuses the same memory, still in the
// thread's caches. A thread that ends gives its batch back.
template <typename Record>
class Recycler {
 public:
  constexpr Recycler() = default;
  static Recycler& instance() noexcept;

  Record* take() {
    ThreadBatch& batch = thread_batch();
    if (batch.size == 0) {
      keep_batch_until_thread_exit();
      batch.size = take_batch(batch.records);
    }
    return batch.size > 0 ? batch.records[--batch.size] : new Record;
  }

  // A record owned by a shared_ptr whose control block goes inside the record
  // (InPlaceControlBlock); it comes back here once the control block is gone (weak owners
  // too): only then may another execution use that room.
  std::shared_ptr<Record> take_shared() {
    Record* record = take();
    return std::shared_ptr<Record>(
        record, [](Record*) {}, InPlaceControlBlock<Record>(record));
  }

  void give(Record* record) noexcept {
    ThreadBatch& batch = thread_batch();
    if (batch.kept && batch.size < kBatch) {
      batch.records[batch.size++] = record;
      return;
    }
    give_shared(record);
  }

 private:
  static constexpr std::size_t kMaxKept = 4096;
  static constexpr std::size_t kBatch = 16;

  // Trivially destructible, so that give() may still look at it while the thread's other
  // thread-local objects are destroyed; BatchKeeper hands the records back before that.
  struct ThreadBatch {
    std::array<Record*, kBatch> records;
    std::size_t size;
    bool kept;  // a BatchKeeper will give the records back when the thread ends
  };
  static ThreadBatch& thread_batch() noexcept {
    constinit thread_local ThreadBatch batch{};
    return batch;
  }
  struct BatchKeeper {
    BatchKeeper() { thread_batch().kept = true; }
    BatchKeeper(const BatchKeeper&) = delete;
    BatchKeeper& operator=(const BatchKeeper&) = delete;
    ~BatchKeeper() {
      ThreadBatch& batch = thread_batch();
      batch.kept = false;
      for (std::size_t i = 0; i < batch.size; ++i) instance().give_shared(batch.records[i]);
      batch.size = 0;
    }
  };
  static void keep_batch_until_thread_exit() { thread_local BatchKeeper keeper; }

  // A std::shared_ptr allocator that places the control block in the record it owns; freeing
  // the control block gives the record back to the recycler.
  template <typename T>
  struct InPlaceControlBlock {
    using value_type = T;
    Record* home;

    explicit InPlaceControlBlock(Record* record) noexcept : home(record) {}
    template <typename U>
    InPlaceControlBlock(const InPlaceControlBlock<U>& other) noexcept : home(other.home) {}

    T* allocate(std::size_t n) {
      static_assert(
          sizeof(T) <= Record::kControlBlockBytes && alignof(T) <= alignof(std::max_align_t),
          "raise kControlBlockBytes");
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

  std::size_t take_batch(std::array<Record*, kBatch>& into) {
    std::lock_guard lock(mutex_);
    if (free_.capacity() == 0) free_.reserve(kMaxKept);  // give() then never allocates
    const std::size_t n = std::min(kBatch, free_.size());
    std::copy(free_.end() - static_cast<std::ptrdiff_t>(n), free_.end(), into.begin());
    free_.resize(free_.size() - n);
    return n;
  }

  void give_shared(Record* record) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (free_.size() < kMaxKept) {
        free_.push_back(record);
        return;
      }
    }
    delete record;
  }

  std::mutex mutex_;
  std::vector<Record*> free_;
};

// Initialised at compile time, so instance() checks no guard on each call, and never
// destroyed: threads may still give records back while the program exits.
template <typename Record>
union RecyclerStorage {
  Recycler<Record> recycler;
  constexpr RecyclerStorage() : recycler() {}
  ~RecyclerStorage() {}  // NOLINT(modernize-use-equals-default): must not destroy the member
};
template <typename Record>
constinit RecyclerStorage<Record> g_recycler_storage;

template <typename Record>
Recycler<Record>& Recycler<Record>::instance() noexcept {
  return g_recycler_storage<Record>.recycler;
}

// Ids are kept as bits while the execution runs; their digits are written with the record.
void assign_id(std::string& text, const ExecutionIdBits& bits) {
  text.resize(kExecutionIdLength);
  write_execution_id(bits, std::span<char, kExecutionIdLength>(text.data(), text.size()));
}
std::string id_text(const ExecutionIdBits& bits) {
  std::string text;
  assign_id(text, bits);
  return text;
}

// What a finished execution's record is written from, besides its journal.
struct ExecutionHeader {
  ExecutionIdBits id;
  ExecutionIdBits trace_id;
  ExecutionIdBits parent_id;
  bool has_parent = false;
  double started_at = 0;  // Unix seconds
  double duration = 0;    // seconds
};

// A finished execution as its sink receives it: a copy of what the execution recorded, taken
// as it ended, from which the Execution is written when it is completed: by the thread of a
// sink that takes incomplete executions (the asynchronous writer's encoder), else on the agent's
// thread as the execution ends. The sink receives an aliasing pointer to the Execution inside.
class ExecutionRecord final : public ExecutionCompleter {
 public:
  ExecutionRecord() { record_.events.reserve(4); }

  // Before the record is shared.
  void fill(const ExecutionHeader& header, const RecordJournal& journal) {
    completed_ = false;
    header_ = header;
    journal_.assign(journal);
  }

  const Execution& execution() const noexcept { return record_; }

  // ExecutionCompleter: the record written from the journal.
  void complete() noexcept override {
    std::lock_guard lock(mutex_);
    if (completed_) return;
    Writer writer{*this};
    try {
      reset_record();
      journal_.replay(writer);
    } catch (...) {
      // Out of memory: what was written stays; the rest is lost rather than the execution.
    }
    record_.duration = header_.duration;
    record_.ended_at = header_.started_at + header_.duration;
    if (record_.status == ExecutionStatus::running) record_.status = ExecutionStatus::completed;
    record_.events.erase(record_.events.begin() + static_cast<std::ptrdiff_t>(event_count_),
                         record_.events.end());
    completed_ = true;
  }

  // Room for the control block of the shared_ptr that owns this object (Recycler): inside the
  // record, it costs no allocation, and no free on the pipeline's thread of memory the agent's
  // thread allocated.
  static constexpr std::size_t kControlBlockBytes = 64;
  void* control_block_storage() noexcept { return control_block_storage_; }

 private:
  // A recycled record's strings keep their capacity, and its events and argument trees stay to
  // be written over (append_event); what is left over is erased in complete().
  void reset_record() {
    Execution& r = record_;
    assign_id(r.id, header_.id);
    assign_id(r.trace_id, header_.trace_id);
    if (header_.has_parent) {
      assign_id(r.parent_id, header_.parent_id);
    } else {
      r.parent_id.clear();
    }
    r.agent_name.clear();
    r.started_at = header_.started_at;
    r.ended_at.reset();
    r.duration.reset();
    r.status = ExecutionStatus::running;
    r.error.clear();
    r.error_type.clear();
    r.kwargs = nlohmann::json::object();
    if (r.events.size() > kMaxKeptEvents) {
      r.events = std::vector<Event>();
      r.events.reserve(4);
    }
    event_count_ = 0;
    r.metrics = Metrics{};
    r.tags.clear();
  }

  // The next event of the record, of kind Payload, for the caller to write every field of:
  // the previous execution's event at that place when it is of the same kind, with its
  // strings and JSON to be written over.
  template <typename Payload>
  Payload& append_event(double timestamp) {
    auto& events = record_.events;
    Event& event = event_count_ < events.size() ? events[event_count_] : events.emplace_back();
    ++event_count_;
    event.timestamp = timestamp;
    if (auto* reused = std::get_if<Payload>(&event.payload)) return *reused;
    return event.payload.template emplace<Payload>();
  }

  // Writes each journal entry into the record (RecordJournal::replay).
  struct Writer {
    ExecutionRecord& to;

    void agent_name(std::string_view name) { to.record_.agent_name.assign(name); }
    void arguments(nlohmann::json arguments) { to.record_.kwargs = std::move(arguments); }

    void llm_call(const RecordJournal::LlmCallEntry& entry) {
      const auto& n = entry.numbers;
      LlmCall& call = to.append_event<LlmCall>(n.timestamp);
      call.model.assign(entry.model);
      call.provider.assign(entry.provider);
      call.prompt_tokens = n.prompt_tokens;
      call.completion_tokens = n.completion_tokens;
      call.cached_tokens = n.cached_tokens;
      call.cache_write_tokens = n.cache_write_tokens;
      call.reasoning_tokens = n.reasoning_tokens;
      call.duration = n.duration;
      call.time_to_first_token =
          n.has_time_to_first_token ? std::optional<double>(n.time_to_first_token) : std::nullopt;
      call.finish_reason.assign(entry.finish_reason);
      call.retries = n.retries;
      call.cost_nanos = n.cost_nanos;
      call.priced = n.priced;
      to.record_.metrics.add(call);
    }

    void tool_call(RecordJournal::ToolCallEntry&& entry) {
      ++to.record_.metrics.tool_calls;
      ToolCall& call = to.append_event<ToolCall>(entry.numbers.timestamp);
      call.tool_name.assign(entry.tool_name);
      call.duration = entry.numbers.duration;
      call.success = entry.numbers.success;
      call.error.assign(entry.error);
      call.kwargs = std::move(entry.arguments);
    }

    void memory_operation(RecordJournal::MemoryOperationEntry&& entry) {
      ++to.record_.metrics.memory_operations;
      MemoryOperation& operation = to.append_event<MemoryOperation>(entry.numbers.timestamp);
      operation.operation.assign(entry.operation);
      operation.memory_type.assign(entry.memory_type);
      operation.duration = entry.numbers.duration;
      operation.items = entry.numbers.items;
      operation.details = std::move(entry.details);
    }

    void custom_event(RecordJournal::CustomEventEntry&& entry) {
      CustomEvent& event = to.append_event<CustomEvent>(entry.timestamp);
      event.type.assign(entry.type);
      event.data = std::move(entry.data);
    }

    void failure(const RecordJournal::FailureEntry& entry) {
      Execution& e = to.record_;
      if (entry.unless_failed && e.status == ExecutionStatus::failed) return;
      e.status = ExecutionStatus::failed;
      e.error.assign(entry.message);
      e.error_type.assign(entry.error_type);
    }

    void metric(RecordJournal::MetricEntry&& entry) {
      to.record_.metrics.custom[std::string(entry.name)] = std::move(entry.value);
    }

    void tag(const RecordJournal::TagEntry& entry) {
      to.record_.tags[std::string(entry.key)] = std::string(entry.value);
    }
  };

  alignas(std::max_align_t) std::byte control_block_storage_[kControlBlockBytes];
  std::mutex mutex_;  // complete() may be called from more than one thread
  bool completed_ = false;
  ExecutionHeader header_;
  RecordJournal journal_;
  Execution record_;
  std::size_t event_count_ = 0;  // of record_.events, this execution's; the rest are reused

  // An execution with more events than this does not leave them to the next one.
  static constexpr std::size_t kMaxKeptEvents = 64;
};

// The execution being recorded, shared by the scope that owns it and by any thread that was
// handed its context. The mutex is uncontended unless the user records from several threads.
//
// It holds what the execution has recorded so far in a journal (RecordJournal says why), and no
// Execution: that is written later from an ExecutionRecord, which finish() fills with a copy of
// the journal in one sequential stretch. So the agent's thread writes, call after call, into
// the same few lines of its own (the scope lets go of this object as it ends, and the thread's
// next execution takes it back from the Recycler's batch), and into memory it does not own only
// once per execution.
class ActiveExecution {
 public:
  void start(const CollectorShared& shared, std::string_view agent_name,
             const ActiveExecution* parent) {
    // A recycled object mostly comes back to the collector it last served: keeping its
    // reference then saves two atomic updates of a count other threads share.
    if (core_ != shared.core) core_ = shared.core;
    references_.store(1, std::memory_order_relaxed);
    sink_ = shared.sink;
    sink_takes_incomplete_ = shared.sink_takes_incomplete;
    finished_ = false;
    journal_.clear();
    header_.started_at = new_execution_id_and_time(header_.id);
    started_ = std::chrono::steady_clock::now();
    header_.has_parent = parent != nullptr;
    if (parent != nullptr) {
      header_.parent_id = parent->header_.id;
      header_.trace_id = parent->header_.trace_id;
    } else {
      header_.trace_id = header_.id;
    }
    journal_.add_agent_name(agent_name);
  }

  // Appends to the journal, unless the execution has ended (then counts a late event).
  template <typename Fn>
  void journal(Fn&& fn) {
    std::lock_guard lock(mutex_);
    if (finished_) {
      core_->late_events.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    fn(journal_);
  }
  // Before the execution is shared.
  RecordJournal& journal_before_start() noexcept { return journal_; }

  void finish() noexcept {
    std::shared_ptr<ExecutionSink> sink;  // released once submitted: see CollectorCore
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      finished_ = true;
      header_.duration =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      sink = std::move(sink_);
    }
    // From here on journal() refuses, so the journal is this thread's to read.
    try {
      auto record = Recycler<ExecutionRecord>::instance().take_shared();
      record->fill(header_, journal_);
      ExecutionRecord& completer = *record;
      std::shared_ptr<const Execution> execution(std::move(record), &completer.execution());
      if (sink_takes_incomplete_) {
        sink->submit_incomplete(std::move(execution), completer);
      } else {
        completer.complete();
        sink->submit(std::move(execution));
      }
    } catch (...) {
      report_lost_execution();
    }
  }

  // ActiveRef's count. start() sets it to one, the reference of whoever started the execution.
  void add_reference() noexcept { references_.fetch_add(1, std::memory_order_relaxed); }
  // True for the last reference: the object may then go to another execution.
  bool drop_reference() noexcept {
    return references_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }

  CollectorCore& core() noexcept { return *core_; }
  // Set before the execution is shared and never changed, so they are read without the lock.
  std::string id() const { return id_text(header_.id); }
  std::string trace_id() const { return id_text(header_.trace_id); }

 private:
  // Out of memory for the record (a recycled one is used when there is one): the execution is
  // lost, and said so, rather than the agent's call.
  static void report_lost_execution() noexcept {
    try {
      notify("telemetry: out of memory, an execution was not recorded");
    } catch (...) {
    }
  }

  std::mutex mutex_;
  bool finished_ = false;
  bool sink_takes_incomplete_ = false;
  ExecutionHeader header_;
  std::chrono::steady_clock::time_point started_;
  RecordJournal journal_;
  std::shared_ptr<CollectorCore> core_;
  std::shared_ptr<ExecutionSink> sink_;  // until finish()
  std::atomic<std::uint32_t> references_{0};
};

ActiveRef::ActiveRef(const ActiveRef& other) noexcept : active_(other.active_) {
  if (active_ != nullptr) active_->add_reference();
}

void ActiveRef::release(ActiveExecution* active) noexcept {
  if (active->drop_reference()) Recycler<ActiveExecution>::instance().give(active);
}

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

bool is_builtin_event(std::string_view type) {
  return type == "llm_call" || type == "tool_call" || type == "memory_operation";
}

void record_llm(detail::ActiveExecution& active, const LlmCallInfo& info) {
  const auto price = active.core().price_of(info);
  const detail::RecordJournal::LlmNumbers numbers{
      .timestamp = unix_now(),
      .prompt_tokens = info.prompt_tokens,
      .completion_tokens = info.completion_tokens,
      .cached_tokens = info.cached_tokens,
      .cache_write_tokens = info.cache_write_tokens,
      .reasoning_tokens = info.reasoning_tokens,
      .duration = info.duration,
      .time_to_first_token = info.time_to_first_token.value_or(0.0),
      .cost_nanos = price.cost_nanos,
      .retries = info.retries,
      .has_time_to_first_token = info.time_to_first_token.has_value(),
      .priced = price.priced};
  active.journal([&](detail::RecordJournal& journal) { journal.add_llm_call(numbers, info); });
}

// A tool call into the journal, with `arguments` as they are to be recorded (nullptr: null)
// and the members `redact` flags replaced.
void journal_tool_call(detail::ActiveExecution& active, const ToolCallInfo& info,
                       const nlohmann::json* arguments, RedactKeys redact = {}) {
  const detail::RecordJournal::ToolNumbers numbers{
      .timestamp = unix_now(), .duration = info.duration, .success = info.success};
  active.journal([&](detail::RecordJournal& journal) {
    journal.add_tool_call(numbers, info, arguments, redact);
  });
}

void record_tool(detail::ActiveExecution& active, const ToolCallInfo& info) {
  journal_tool_call(active, info, &info.kwargs);
}

// Writes `arguments` into `recorded` through `filter`. A filter that throws (out of memory, or
// a user's own) must not fail the agent's call: the arguments are then recorded as null, and
// false tells the caller to report it (outside the execution's lock, see price_of).
bool record_arguments(ArgumentsFilter filter, nlohmann::json& recorded,
                      const nlohmann::json& arguments) noexcept {
  try {
    (filter != nullptr ? filter : &copy_json_reusing)(recorded, arguments);
    if (recorded.is_null()) recorded = nlohmann::json::object();
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

// Where filters write arguments before they go to the journal: the tree of this thread's
// previous call of the same kind (an execution's, a tool's), its memory reused
// (json_reuse.hpp) and still in the thread's caches.
struct FilteredArguments {
  nlohmann::json execution;
  nlohmann::json tool;
};
FilteredArguments& filtered_arguments() {
  thread_local FilteredArguments scratch;
  return scratch;
}

void record_tool_reusing(detail::ActiveExecution& active, const ToolCallInfo& info,
                         const nlohmann::json& arguments, ArgumentsFilter filter) {
  nlohmann::json& filtered = filtered_arguments().tool;
  const bool recorded = record_arguments(filter, filtered, arguments);
  journal_tool_call(active, info, recorded ? &filtered : nullptr);
  if (!recorded) report_failed_filter();
}

// Arguments given as null are recorded as an empty object, as a filter's null result is.
const nlohmann::json& arguments_or_empty(const nlohmann::json& arguments) {
  static const nlohmann::json kNoArguments = nlohmann::json::object();
  return arguments.is_null() ? kNoArguments : arguments;
}

void record_tool_redacting(detail::ActiveExecution& active, const ToolCallInfo& info,
                           const nlohmann::json& arguments, RedactKeys redact) {
  journal_tool_call(active, info, &arguments_or_empty(arguments), redact);
}

void record_memory(detail::ActiveExecution& active, const MemoryOperationInfo& info) {
  const detail::RecordJournal::MemoryNumbers numbers{
      .timestamp = unix_now(), .duration = info.duration, .items = info.items};
  active.journal(
      [&](detail::RecordJournal& journal) { journal.add_memory_operation(numbers, info); });
}

void record_custom(detail::ActiveExecution& active, const std::string& type,
                   const nlohmann::json& data) {
  if (is_builtin_event(type) || type.empty()) {
    notify("custom event type '" + type +
           "' refused: use record_llm_call, record_tool_call or record_memory_operation for "
           "built-in event types, and a non-empty name otherwise");
    return;
  }
  const double now = unix_now();
  active.journal(
      [&](detail::RecordJournal& journal) { journal.add_custom_event(now, type, data); });
}

void record_metric_into(detail::ActiveExecution& active, std::string name, nlohmann::json value) {
  if (is_builtin_metric(name)) {
    notify("metric name '" + name +
           "' is computed by Kagura and cannot be recorded by hand; choose another name");
    return;
  }
  active.journal([&](detail::RecordJournal& journal) { journal.add_metric(name, value); });
}

void add_tag_into(detail::ActiveExecution& active, std::string key, std::string value) {
  active.journal([&](detail::RecordJournal& journal) { journal.add_tag(key, value); });
}

// A recycled record readied for a new execution on this thread, its arguments still to set.
detail::ActiveRef start_execution(detail::CollectorShared& shared, std::string_view agent_name) {
  auto* active = detail::Recycler<detail::ActiveExecution>::instance().take();
  active->start(shared, agent_name, t_current);
  return detail::ActiveRef::adopt(active);
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

ExecutionScope::ExecutionScope(detail::ActiveRef active)
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
    active_->journal([](detail::RecordJournal& journal) {
      journal.add_failure("an exception left the execution scope", {}, /*unless_failed=*/true);
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
void ExecutionScope::record_tool_call(const ToolCallInfo& call) {
  if (active_) record_tool(*active_, call);
}
void ExecutionScope::record_tool_call(const ToolCallInfo& call, const nlohmann::json& arguments,
                                      ArgumentsFilter filter) {
  if (active_) record_tool_reusing(*active_, call, arguments, filter);
}
void ExecutionScope::record_tool_call(const ToolCallInfo& call, const nlohmann::json& arguments,
                                      RedactKeys redact) {
  if (active_) record_tool_redacting(*active_, call, arguments, redact);
}
void ExecutionScope::record_memory_operation(const MemoryOperationInfo& operation) {
  if (active_) record_memory(*active_, operation);
}
void ExecutionScope::record_event(const std::string& type, const nlohmann::json& data) {
  if (active_) record_custom(*active_, type, data);
}
void ExecutionScope::record_metric(std::string name, nlohmann::json value) {
  if (active_) record_metric_into(*active_, std::move(name), std::move(value));
}
void ExecutionScope::add_tag(std::string key, std::string value) {
  if (active_) add_tag_into(*active_, std::move(key), std::move(value));
}

void ExecutionScope::fail(std::string message, std::string error_type) {
  if (!active_) return;
  active_->journal([&](detail::RecordJournal& journal) {
    journal.add_failure(message, error_type, /*unless_failed=*/false);
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
  shared_->sink_takes_incomplete = shared_->sink && shared_->sink->takes_incomplete();
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

ExecutionScope Collector::track_execution(std::string_view agent_name,
                                          const nlohmann::json& kwargs) {
  return track_execution(agent_name, kwargs, RedactKeys{});
}

ExecutionScope Collector::track_execution(std::string_view agent_name, const nlohmann::json& kwargs,
                                          ArgumentsFilter filter) {
  if (!enabled() || !detail::g_telemetry_enabled.load(std::memory_order_relaxed)) return {};
  auto active = start_execution(*shared_, agent_name);
  nlohmann::json& filtered = filtered_arguments().execution;
  const bool recorded = record_arguments(filter, filtered, kwargs);
  active->journal_before_start().add_arguments(recorded ? &filtered : nullptr);
  if (!recorded) report_failed_filter();
  return ExecutionScope(std::move(active));
}

ExecutionScope Collector::track_execution(std::string_view agent_name, const nlohmann::json& kwargs,
                                          RedactKeys redact) {
  if (!enabled() || !detail::g_telemetry_enabled.load(std::memory_order_relaxed)) return {};
  auto active = start_execution(*shared_, agent_name);
  active->journal_before_start().add_arguments(&arguments_or_empty(kwargs), redact);
  return ExecutionScope(std::move(active));
}

ExecutionContext Collector::current() noexcept {
  if (t_current == nullptr) return {};
  t_current->add_reference();
  return ExecutionContext(detail::ActiveRef::adopt(t_current));
}

void Collector::record_llm_call(const LlmCallInfo& call) {
  if (t_current != nullptr) record_llm(*t_current, call);
}
void Collector::record_tool_call(const ToolCallInfo& call) {
  if (t_current != nullptr) record_tool(*t_current, call);
}
void Collector::record_memory_operation(const MemoryOperationInfo& operation) {
  if (t_current != nullptr) record_memory(*t_current, operation);
}
void Collector::record_event(const std::string& type, const nlohmann::json& data) {
  if (t_current != nullptr) record_custom(*t_current, type, data);
}
void Collector::record_metric(std::string name, nlohmann::json value) {
  if (t_current != nullptr) record_metric_into(*t_current, std::move(name), std::move(value));
}
void Collector::add_tag(std::string key, std::string value) {
  if (t_current != nullptr) add_tag_into(*t_current, std::move(key), std::move(value));
}

}  // namespace kagura::telemetry
