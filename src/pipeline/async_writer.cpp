#include "kagura/pipeline/async_writer.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "kagura/pipeline/exit_flush.hpp"
#include "kagura/telemetry/notice.hpp"
#include "pipeline/background_thread.hpp"

namespace kagura::pipeline {
namespace {

// How many queued executions make the writer start a batch without waiting for its timer: a
// full batch, or a full queue when the queue is smaller than a batch (otherwise a full queue
// would wait for the timer, and a blocked submitter with it).
std::size_t batch_ready_size(const AsyncWriterOptions& options) noexcept {
  return std::min(options.max_batch, options.queue_capacity);
}

// Executions per piece when the destination prepares batches in pieces (see
// BatchDestination::prepares_in_pieces): a few hundred executions' memory stays in the caches
// between the agents' thread and the encoder.
constexpr std::size_t kPieceSize = 256;

}  // namespace

std::string_view to_string(OverflowPolicy policy) noexcept {
  switch (policy) {
    case OverflowPolicy::drop_newest:
      return "drop_newest";
    case OverflowPolicy::drop_oldest:
      return "drop_oldest";
    case OverflowPolicy::block:
      return "block";
  }
  return "drop_newest";
}

OverflowPolicy parse_overflow_policy(std::string_view text) {
  if (text == "drop_newest") return OverflowPolicy::drop_newest;
  if (text == "drop_oldest") return OverflowPolicy::drop_oldest;
  if (text == "block") return OverflowPolicy::block;
  throw std::invalid_argument("unknown overflow policy '" + std::string(text) +
                              "': expected drop_newest, drop_oldest or block");
}

AsyncWriter::AsyncWriter(std::shared_ptr<BatchDestination> store, AsyncWriterOptions options)
    : store_(std::move(store)),
      options_(options),
      wake_size_(store_ && store_->prepares_in_pieces()
                     ? std::min(kPieceSize, batch_ready_size(options_))
                     : batch_ready_size(options_)) {
  if (!store_) throw std::invalid_argument("AsyncWriter needs a store");
  if (options_.queue_capacity == 0 || options_.max_batch == 0) {
    throw std::invalid_argument("AsyncWriter: queue_capacity and max_batch must be at least 1");
  }
  if (!options_.spool_directory.empty()) {
    try {
      spool_ = std::make_unique<Spool>(options_.spool_directory, options_.spool_max_bytes);
      // Executions left by an earlier run (of this program or another) are delivered first.
      if (spool_->pending_executions() > 0) {
        offline_ = true;
        next_delivery_ = std::chrono::steady_clock::now();
      }
    } catch (const std::exception& e) {
      telemetry::notify(std::string("telemetry runs without a spool: ") + e.what() +
                        ". Executions the store refuses will be counted as failed.");
    }
  }
  delivery_backoff_ = options_.spool_retry_min;
  encoder_thread_ = start_background_thread("kagura-encode", [this] { run_encoder(); });
  writer_thread_ = start_background_thread("kagura-writer", [this] { run_writer(); });
  register_for_exit_flush(this);
}

AsyncWriter::~AsyncWriter() {
  unregister_for_exit_flush(this);
  shutdown();
}

void AsyncWriter::note_drop_locked(std::uint64_t count) {
  stats_.dropped += count;
  if (!drop_reported_) {
    drop_reported_ = true;
    telemetry::notify("telemetry queue full (" + std::to_string(options_.queue_capacity) +
                      " executions) with overflow policy " +
                      std::string(to_string(options_.overflow)) +
                      ": executions are being dropped and counted in stats().dropped. Raise "
                      "KAGURA_TELEMETRY_QUEUE_CAPACITY or set KAGURA_TELEMETRY_OVERFLOW=block.");
  }
}

void AsyncWriter::submit(std::shared_ptr<const telemetry::Execution> execution) noexcept {
  enqueue({std::move(execution), nullptr});
}

void AsyncWriter::submit_incomplete(std::shared_ptr<const telemetry::Execution> execution,
                                    telemetry::ExecutionCompleter& completer) noexcept {
  enqueue({std::move(execution), &completer});
}

void AsyncWriter::enqueue(Queued queued) noexcept {
  if (!queued.execution) return;
  Queued evicted;  // destroyed outside the lock
  std::unique_lock lock(mutex_);
  if (stopped_ || stopping_) {
    note_drop_locked(1);
    return;
  }
  if (waiting_locked() >= options_.queue_capacity) {
    switch (options_.overflow) {
      case OverflowPolicy::drop_newest:
        note_drop_locked(1);
        return;
      case OverflowPolicy::drop_oldest:
        if (evicted_staged_ < staged_) {
          // The oldest waiting executions are the staged ones, already taken off the queue.
          ++evicted_staged_;
        } else {
          evicted = std::move(queue_.front());
          queue_.pop_front();
        }
        ++done_seq_;
        note_drop_locked(1);
        break;
      case OverflowPolicy::block:
        wake_encoder_.notify_one();
        progress_.wait(lock, [&] {
          return waiting_locked() < options_.queue_capacity || stopping_ || stopped_;
        });
        if (stopping_ || stopped_) {
          note_drop_locked(1);
          return;
        }
        break;
    }
  }
  queue_.push_back(std::move(queued));
  ++submitted_seq_;
  ++stats_.queued;
  // Waking the encoder costs a system call, so the agent's thread only does it when a piece
  // or a full batch (or a full queue) is waiting; otherwise the encoder's timer picks the
  // queue up.
  if (encoder_waiting_ && queue_.size() >= wake_size_) {
    encoder_waiting_ = false;
    wake_encoder_.notify_one();
  }
}

namespace {
// Two prepared batches in flight keep the writer busy without holding much memory.
constexpr std::size_t kMaxReady = 2;
// A destination's Retry-After is honoured up to this: one asking for a day (a misconfigured
// proxy, say) would otherwise hold the spool back for that long.
constexpr std::chrono::milliseconds kLongestRetryAfter{std::chrono::minutes(10)};

std::string how_it_failed(AsyncWriter::Failure failure, int max_retries) {
  switch (failure) {
    case AsyncWriter::Failure::after_retries:
      return " after " + std::to_string(max_retries + 1) + " attempts";
    case AsyncWriter::Failure::rejected:
      return ", which it rejected (not retried)";
    case AsyncWriter::Failure::not_prepared:
      return ", which could not be prepared for it (not retried)";
  }
  return {};
}

// On Linux, nice applies to the calling thread alone when given its thread id.
void lower_priority(int niceness) {
  if (niceness <= 0) return;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  const int current = getpriority(PRIO_PROCESS, tid);
  // Failing is harmless (the threads keep the agents' priority), so the result is not checked.
  (void)setpriority(PRIO_PROCESS, tid, std::min(19, current + niceness));
}
}  // namespace

void AsyncWriter::run_encoder() {
  lower_priority(options_.thread_niceness);
  const bool in_pieces = store_->prepares_in_pieces();
  // The batch being prepared in pieces, not yet handed to the writer, and when it must go.
  std::unique_ptr<PreparedBatch> building;
  std::chrono::steady_clock::time_point building_due;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!spent_.empty()) {
      auto spent = std::move(spent_);
      spent_.clear();
      lock.unlock();
      spent.clear();
      lock.lock();
    }
    // Whether the wait ended on the timer: what is queued then goes out without waiting more.
    bool timer_ran_out = false;
    if (queue_.size() < wake_size_ && !flush_requested_ && !stopping_) {
      encoder_waiting_ = true;
      const auto until =
          building ? building_due : std::chrono::steady_clock::now() + options_.flush_interval;
      timer_ran_out = !wake_encoder_.wait_until(lock, until, [&] {
        return stopping_ || flush_requested_ || queue_.size() >= wake_size_ ||
               (!queue_.empty() && waiting_locked() >= options_.queue_capacity);
      });
      encoder_waiting_ = false;
    }
    if (!queue_.empty()) {
      if (!in_pieces) progress_.wait(lock, [&] { return ready_.size() < kMaxReady; });
      const std::size_t room = options_.max_batch - (building ? building->prepared_count() : 0);
      const std::size_t take = std::min(queue_.size(), room);
      std::vector<Queued> taken;
      taken.reserve(take);
      for (std::size_t i = 0; i < take; ++i) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      staged_ += take;
      lock.unlock();
      std::vector<std::shared_ptr<const telemetry::Execution>> piece;
      piece.reserve(take);
      for (auto& queued : taken) {
        if (queued.completer != nullptr) queued.completer->complete();
        piece.push_back(std::move(queued.execution));
      }
      std::string error;
      try {
        if (building) {
          store_->prepare_more(*building, std::move(piece));
        } else {
          building = store_->prepare(std::move(piece));
          building_due = std::chrono::steady_clock::now() + options_.flush_interval;
        }
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown error";
      }
      lock.lock();
      if (!error.empty()) {
        // What was prepared of the batch before cannot be told apart from the failed piece.
        const std::size_t lost = take + (building ? building->prepared_count() : 0);
        building.reset();
        const std::size_t evicted = std::min(evicted_staged_ - evicted_in_ready_locked(), lost);
        evicted_staged_ -= evicted;
        staged_ -= lost;
        count_done_locked(lost - evicted, 0, &error, Failure::not_prepared);
      }
    }
    // A full queue wakes the encoder above, and a batch goes when it holds a queue's worth:
    // with a queue smaller than a batch, submitters waiting for room would otherwise wait for
    // the timer.
    const bool batch_due = building && (!in_pieces || timer_ran_out ||
                                        building->prepared_count() >= batch_ready_size(options_) ||
                                        (queue_.empty() && (flush_requested_ || stopping_)) ||
                                        std::chrono::steady_clock::now() >= building_due);
    if (batch_due) {
      progress_.wait(lock, [&] { return ready_.size() < kMaxReady; });
      ready_.push_back(std::move(building));
      batch_ready_.notify_one();
    }
    if (queue_.empty() && !building) {
      flush_requested_ = false;
      if (stopping_) break;
    }
  }
  encoder_done_ = true;
  batch_ready_.notify_one();
}

std::size_t AsyncWriter::evicted_in_ready_locked() const noexcept {
  std::size_t staged_in_ready = 0;
  for (const auto& batch : ready_) staged_in_ready += batch->prepared_count();
  return std::min(evicted_staged_, staged_in_ready);
}

void AsyncWriter::run_writer() {
  lower_priority(options_.thread_niceness);
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto has_work = [&] { return !ready_.empty() || encoder_done_; };
    if (offline_) {
      batch_ready_.wait_until(lock, next_delivery_, has_work);
    } else {
      batch_ready_.wait(lock, has_work);
    }
    // Whatever the spool still holds at exit stays on disk for the next process: a last
    // delivery attempt could hold the exit for a whole connection timeout.
    if (ready_.empty() && encoder_done_) break;
    if (offline_ && std::chrono::steady_clock::now() >= next_delivery_) {
      lock.unlock();
      deliver_spool();
      lock.lock();
      continue;
    }
    if (ready_.empty()) continue;
    auto prepared = std::move(ready_.front());
    ready_.pop_front();
    const std::size_t evicted = std::min(evicted_staged_, prepared->size());
    prepared->skip_front(evicted);
    evicted_staged_ -= evicted;
    staged_ -= prepared->size() + evicted;
    progress_.notify_all();  // room on the queue, and for the next prepared batch
    lock.unlock();
    write_prepared(*prepared);
    lock.lock();
    if (encoder_done_) {
      lock.unlock();
      prepared.reset();
      lock.lock();
    } else {
      spent_.push_back(std::move(prepared));
    }
  }
  stopped_ = true;
  progress_.notify_all();
}

void AsyncWriter::write_prepared(PreparedBatch& batch) {
  if (offline_) {
    // The store failed and the spool is not delivered yet: writing around it would only wait
    // for the same failure again.
    spool_batch(batch, {});
    return;
  }
  std::size_t inserted = 0;
  bool ok = false;
  std::string error;
  auto backoff = options_.retry_backoff;
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    std::chrono::milliseconds retry_after{0};
    try {
      inserted = store_->write_prepared(batch);
      ok = true;
      break;
    } catch (const RejectedBatchError& e) {
      // The same batch would be refused again, from the spool too.
      error = e.what();
      std::lock_guard lock(mutex_);
      count_done_locked(batch.size(), 0, &error, Failure::rejected);
      return;
    } catch (const RetryLaterError& e) {
      error = e.what();
      retry_after = std::min(e.retry_after(), kLongestRetryAfter);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown error";
    }
    if (retry_after > backoff && spool_) {
      // Waiting here would hold back every later batch: the spool waits instead, and its
      // delivery starts once the destination's delay has passed.
      retry_after_ = retry_after;
      break;
    }
    if (attempt < options_.max_retries) {
      // Without a spool the writer itself waits, so never longer than the spool would.
      std::this_thread::sleep_for(
          std::max(backoff, std::min(retry_after, options_.spool_retry_max)));
      backoff *= 2;
    }
  }
  if (!ok && spool_) {
    spool_batch(batch, error);
    return;
  }
  std::lock_guard lock(mutex_);
  count_done_locked(batch.size(), inserted, ok ? nullptr : &error);
}

void AsyncWriter::spool_batch(PreparedBatch& batch, const std::string& store_error) {
  const std::size_t count = batch.size();
  if (count == 0) return;
  try {
    spool_->append(batch.pointers());
  } catch (const std::exception& e) {
    const std::string error =
        store_error.empty() ? std::string(e.what()) : store_error + "; and then " + e.what();
    std::lock_guard lock(mutex_);
    count_done_locked(count, 0, &error);
    return;
  }
  const bool going_offline = !offline_;
  if (going_offline) {
    offline_ = true;
    delivery_backoff_ = options_.spool_retry_min;
    next_delivery_ = std::chrono::steady_clock::now() + std::max(delivery_backoff_, retry_after_);
    retry_after_ = std::chrono::milliseconds(0);
  }
  std::lock_guard lock(mutex_);
  done_seq_ += count;
  stats_.spooled += count;
  if (!store_error.empty()) stats_.last_error = store_error;
  progress_.notify_all();
  if (going_offline) {
    telemetry::notify("telemetry store " + store_->backend_name() + " at " + store_->location() +
                      " is not taking writes (" + store_error +
                      "): executions are kept in the spool " + spool_->directory().string() +
                      " and delivered when it answers again");
  }
}

void AsyncWriter::deliver_spool() {
  const SpoolDelivery delivery = spool_->deliver(
      *store_, options_.max_batch, [this](std::uint64_t delivered, std::uint64_t inserted) {
        std::lock_guard lock(mutex_);
        stats_.unspooled += delivered;
        stats_.written += inserted;
        stats_.duplicates += delivered - inserted;
      });
  if (delivery.complete) {
    offline_ = false;
    delivery_backoff_ = options_.spool_retry_min;
  } else {
    next_delivery_ =
        std::chrono::steady_clock::now() +
        std::max(delivery_backoff_, std::min(delivery.retry_after, kLongestRetryAfter));
    delivery_backoff_ = std::min(delivery_backoff_ * 2, options_.spool_retry_max);
  }
  std::lock_guard lock(mutex_);
  stats_.failed += delivery.rejected;
  if (!delivery.error.empty()) stats_.last_error = delivery.error;
  progress_.notify_all();
  if (delivery.complete && !delivery.error.empty()) telemetry::notify(delivery.error);
  if (delivery.complete && delivery.delivered > 0) {
    telemetry::notify("telemetry store " + store_->backend_name() + " at " + store_->location() +
                      " is answering again: delivered " + std::to_string(delivery.delivered) +
                      " executions from the spool " + spool_->directory().string());
  }
}

void AsyncWriter::count_done_locked(std::size_t count, std::size_t inserted,
                                    const std::string* error, Failure failure) {
  done_seq_ += count;
  if (error == nullptr) {
    stats_.written += inserted;
    stats_.duplicates += count - inserted;
    ++stats_.batches;
  } else {
    stats_.failed += count;
    stats_.last_error = *error;
    telemetry::notify("telemetry store " + store_->backend_name() + " at " + store_->location() +
                      " failed to write " + std::to_string(count) + " executions" +
                      how_it_failed(failure, options_.max_retries) + ": " + *error);
  }
  progress_.notify_all();
}

bool AsyncWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = submitted_seq_;
  if (done_seq_ >= target) return true;
  if (stopped_) return false;
  flush_requested_ = true;
  wake_encoder_.notify_one();
  return progress_.wait_for(lock, timeout, [&] { return done_seq_ >= target || stopped_; }) &&
         done_seq_ >= target;
}

void AsyncWriter::shutdown(std::chrono::milliseconds timeout) {
  flush(timeout);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_encoder_.notify_one();
  }
  if (encoder_thread_.joinable()) encoder_thread_.join();
  if (writer_thread_.joinable()) writer_thread_.join();
}

PipelineStats AsyncWriter::stats() const {
  // The spool first: a segment is counted as delivered before its file goes, so an empty
  // spool read here implies the counts copied below include every delivery.
  const std::uint64_t spool_pending = spool_ ? spool_->pending_executions() : 0;
  std::lock_guard lock(mutex_);
  PipelineStats copy = stats_;
  copy.pending = submitted_seq_ - done_seq_;
  copy.spool_pending = spool_pending;
  return copy;
}

}  // namespace kagura::pipeline
