#include "kagura/pipeline/sync_writer.hpp"

#include <algorithm>
#include <stdexcept>

#include "kagura/telemetry/notice.hpp"
#include "pipeline/background_thread.hpp"

namespace kagura::pipeline {

SyncWriter::SyncWriter(std::shared_ptr<storage::StorageAdapter> store, AsyncWriterOptions options)
    : store_(std::move(store)), options_(std::move(options)) {
  if (!store_) throw std::invalid_argument("SyncWriter needs a store");
  try {
    store_->require_durable_commits();
  } catch (const std::exception& e) {
    // The store cannot say yet (a server that is down): its commits are as durable as its
    // configuration makes them. Recording goes on.
    telemetry::notify(std::string("durable telemetry: ") + e.what());
  }
  delivery_backoff_ = options_.spool_retry_min;
  if (!options_.spool_directory.empty()) {
    try {
      spool_ = std::make_unique<Spool>(options_.spool_directory, options_.spool_max_bytes);
      // Executions left by an earlier run are delivered in the background from the start.
      if (spool_->pending_executions() > 0) next_delivery_ = std::chrono::steady_clock::now();
    } catch (const std::exception& e) {
      telemetry::notify(std::string("telemetry runs without a spool: ") + e.what() +
                        ". Executions the store refuses will be counted as failed.");
    }
  }
  if (spool_)
    delivery_thread_ = start_background_thread("kagura-deliver", [this] { run_delivery(); });
}

SyncWriter::~SyncWriter() {
  shutdown();
}

void SyncWriter::submit(std::shared_ptr<const telemetry::Execution> execution) noexcept {
  if (!execution) return;
  std::unique_lock lock(mutex_);
  waiting_.push_back(std::move(execution));
  ++stats_.queued;
  const std::uint64_t ticket = ++submitted_;
  while (done_ < ticket) {
    if (writing_) {
      written_.wait(lock);
      continue;
    }
    // This thread commits everything waiting, its own execution included.
    writing_ = true;
    Batch batch;
    batch.swap(waiting_);
    const std::uint64_t last = submitted_;
    lock.unlock();
    {
      std::lock_guard write_lock(write_mutex_);
      for (std::size_t start = 0; start < batch.size(); start += options_.max_batch) {
        const auto end = std::min(batch.size(), start + options_.max_batch);
        write_batch(Batch(batch.begin() + static_cast<std::ptrdiff_t>(start),
                          batch.begin() + static_cast<std::ptrdiff_t>(end)));
      }
    }
    batch.clear();  // the executions are freed outside the lock
    lock.lock();
    done_ = last;
    writing_ = false;
    written_.notify_all();
  }
}

void SyncWriter::write_batch(const Batch& batch) noexcept {
  std::vector<const telemetry::Execution*> pointers;
  pointers.reserve(batch.size());
  for (const auto& execution : batch) pointers.push_back(execution.get());
  bool offline = false;
  {
    std::lock_guard lock(mutex_);
    offline = offline_;
  }
  std::string error;
  if (!offline) {
    auto backoff = options_.retry_backoff;
    for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
      try {
        const std::size_t inserted = store_->save_executions(pointers);
        std::lock_guard lock(mutex_);
        stats_.written += inserted;
        stats_.duplicates += pointers.size() - inserted;
        ++stats_.batches;
        failure_reported_ = false;
        return;
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown error";
      }
      if (attempt < options_.max_retries) {
        std::this_thread::sleep_for(backoff);
        backoff *= 2;
      }
    }
  }
  try {
    if (spool_batch(pointers, error)) return;
    error = error.empty() ? "no spool" : error;
  } catch (const std::exception& e) {
    error = error.empty() ? std::string(e.what()) : error + "; and then " + e.what();
  }
  std::lock_guard lock(mutex_);
  stats_.failed += pointers.size();
  stats_.last_error = error;
  // One notice per spell of failures: in this mode every call is a batch of its own.
  if (!failure_reported_) {
    failure_reported_ = true;
    telemetry::notify("telemetry store " + store_->backend_name() + " at " + store_->location() +
                      " failed to write " + std::to_string(pointers.size()) +
                      " executions and the spool could not keep them: " + error +
                      ". Failures are counted in stats().failed.");
  }
}

bool SyncWriter::spool_batch(const std::vector<const telemetry::Execution*>& batch,
                             const std::string& store_error) {
  if (!spool_) return false;
  spool_->append(batch);  // throws when the spool cannot take it
  std::lock_guard lock(mutex_);
  stats_.spooled += batch.size();
  if (!store_error.empty()) stats_.last_error = store_error;
  if (!offline_) {
    offline_ = true;
    delivery_backoff_ = options_.spool_retry_min;
    next_delivery_ = std::chrono::steady_clock::now() + delivery_backoff_;
    wake_delivery_.notify_one();
    telemetry::notify("telemetry store " + store_->backend_name() + " at " + store_->location() +
                      " is not taking writes (" + store_error +
                      "): executions are kept in the spool " + spool_->directory().string() +
                      " and delivered when it answers again");
  }
  return true;
}

void SyncWriter::run_delivery() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_delivery_.wait_until(lock, next_delivery_, [&] {
      return stopping_ || std::chrono::steady_clock::now() >= next_delivery_;
    });
    if (stopping_) return;
    if (std::chrono::steady_clock::now() < next_delivery_) continue;
    lock.unlock();
    bool back_online = false;
    const SpoolDelivery delivery = spool_->deliver(
        *store_, options_.max_batch, [&](std::uint64_t delivered, std::uint64_t inserted) {
          std::lock_guard stats_lock(mutex_);
          stats_.unspooled += delivered;
          stats_.written += inserted;
          stats_.duplicates += delivered - inserted;
          // The store answers: new executions go to it again at once instead of queueing up
          // behind the spool, which agents recording in this mode could fill faster than one
          // thread delivers it.
          if (offline_) {
            offline_ = false;
            failure_reported_ = false;
            back_online = true;
          }
        });
    bool empty = false;
    if (delivery.complete) {
      // A group written while the store was away may be appending to the spool right now;
      // with the write turn held, an empty spool stays empty: the groups after it try the
      // store first.
      std::lock_guard write_lock(write_mutex_);
      empty = spool_->pending_executions() == 0;
      if (empty) {
        std::lock_guard state_lock(mutex_);
        offline_ = false;
      }
    }
    lock.lock();
    if (!delivery.error.empty()) stats_.last_error = delivery.error;
    if (back_online) {
      telemetry::notify("telemetry store " + store_->backend_name() + " at " + store_->location() +
                        " is answering again: delivering the spool " +
                        spool_->directory().string());
    }
    if (empty) {
      // Idle until a group goes to the spool again (spool_batch() sets the next attempt).
      delivery_backoff_ = options_.spool_retry_min;
      next_delivery_ = std::chrono::steady_clock::time_point::max();
    } else if (delivery.error.empty()) {
      // Segments spooled while this delivery ran: deliver them straight away.
      delivery_backoff_ = options_.spool_retry_min;
      next_delivery_ = std::chrono::steady_clock::now();
    } else {
      next_delivery_ = std::chrono::steady_clock::now() + delivery_backoff_;
      delivery_backoff_ = std::min(delivery_backoff_ * 2, options_.spool_retry_max);
    }
  }
}

bool SyncWriter::flush(std::chrono::milliseconds) {
  return true;
}

void SyncWriter::shutdown(std::chrono::milliseconds) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    wake_delivery_.notify_one();
  }
  if (delivery_thread_.joinable()) delivery_thread_.join();
}

PipelineStats SyncWriter::stats() const {
  const std::uint64_t spool_pending = spool_ ? spool_->pending_executions() : 0;
  std::lock_guard lock(mutex_);
  PipelineStats copy = stats_;
  copy.pending = submitted_ - done_;
  copy.spool_pending = spool_pending;
  return copy;
}

}  // namespace kagura::pipeline
