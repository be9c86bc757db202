#include "kagura/agent/memory.hpp"

#include <chrono>

#include "kagura/telemetry/collector.hpp"
#include "telemetry/elapsed.hpp"

namespace kagura::agent {
namespace {

using Clock = std::chrono::steady_clock;

using telemetry::detail::seconds_since;

void record(std::string operation, Clock::time_point start, std::int64_t items,
            std::size_t size_after, std::size_t max_messages) {
  telemetry::Collector::record_memory_operation(
      {.operation = std::move(operation),
       .memory_type = "conversation",
       .duration = seconds_since(start),
       .items = items,
       .details = {{"messages", size_after}, {"max_messages", max_messages}}});
}

}  // namespace

ConversationMemory::ConversationMemory(std::size_t max_messages) : max_messages_(max_messages) {
  if (max_messages_ == 0) {
    throw std::invalid_argument(
        "ConversationMemory: max_messages must be at least 1 (drop the memory instead to keep "
        "no history)");
  }
}

void ConversationMemory::add(llm::Message message) {
  add(std::vector<llm::Message>{std::move(message)});
}

void ConversationMemory::add(const std::vector<llm::Message>& messages) {
  const auto start = Clock::now();
  std::size_t size = 0;
  std::size_t trimmed = 0;
  {
    std::lock_guard lock(mutex_);
    messages_.insert(messages_.end(), messages.begin(), messages.end());
    if (messages_.size() > max_messages_) {
      trimmed = messages_.size() - max_messages_;
      messages_.erase(messages_.begin(), messages_.begin() + static_cast<std::ptrdiff_t>(trimmed));
    }
    size = messages_.size();
  }
  record("add", start, static_cast<std::int64_t>(messages.size()), size + trimmed, max_messages_);
  if (trimmed > 0) record("trim", start, static_cast<std::int64_t>(trimmed), size, max_messages_);
}

std::vector<llm::Message> ConversationMemory::messages() const {
  const auto start = Clock::now();
  std::vector<llm::Message> copy;
  {
    std::lock_guard lock(mutex_);
    copy = messages_;
  }
  record("read", start, static_cast<std::int64_t>(copy.size()), copy.size(), max_messages_);
  return copy;
}

void ConversationMemory::clear() {
  const auto start = Clock::now();
  std::size_t cleared = 0;
  {
    std::lock_guard lock(mutex_);
    cleared = messages_.size();
    messages_.clear();
  }
  record("clear", start, static_cast<std::int64_t>(cleared), 0, max_messages_);
}

std::size_t ConversationMemory::size() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

}  // namespace kagura::agent
