#pragma once

// Conversation memory: the messages of earlier calls of an agent, sent again with each call,
// keeping at most max_messages (the oldest go first). Every operation is recorded as a
// memory_operation event of the execution current on the calling thread.

#include <cstddef>
#include <mutex>
#include <vector>

#include "kagura/llm/chat.hpp"

namespace kagura::agent {

class ConversationMemory {
 public:
  explicit ConversationMemory(std::size_t max_messages = 100);

  // Appends the messages, then trims to max_messages (recorded as "add", and "trim" when it
  // drops any).
  void add(const std::vector<llm::Message>& messages);
  void add(llm::Message message);
  // A copy of the messages kept (recorded as "read").
  std::vector<llm::Message> messages() const;
  void clear();  // recorded as "clear"

  std::size_t size() const;
  std::size_t max_messages() const noexcept { return max_messages_; }

 private:
  std::size_t max_messages_;
  mutable std::mutex mutex_;
  std::vector<llm::Message> messages_;
};

}  // namespace kagura::agent
