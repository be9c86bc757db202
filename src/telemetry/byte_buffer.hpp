#pragma once

// A growable byte buffer that keeps its memory when cleared, for RecordJournal.
//
// std::vector<std::uint8_t> does the same, but its insert() of a range goes through a generic
// out-of-line routine, and the journal appends a dozen small pieces per call on the agent's
// thread; here an append of a known size is a bounds check and a copy the compiler inlines.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace kagura::telemetry::detail {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  const std::uint8_t* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept { size_ = 0; }

  [[gnu::always_inline]] void push_back(std::uint8_t byte) {
    if (size_ == capacity_) grow(1);
    data_[size_++] = byte;
  }
  [[gnu::always_inline]] void append(const void* bytes, std::size_t count) {
    if (count == 0) return;  // memcpy must not be given a null pointer, even for no bytes
    if (capacity_ - size_ < count) grow(count);
    std::memcpy(data_.get() + size_, bytes, count);
    size_ += count;
  }
  // Becomes a copy of `other`, in the memory it already has when that is enough.
  void assign(const ByteBuffer& other) {
    clear();
    append(other.data(), other.size());
  }

 private:
  // Room for `count` more bytes; at least doubles, as std::vector does. Out of line, so that
  // the appends inlined on the agent's path stay small.
  [[gnu::noinline]] void grow(std::size_t count) {
    std::size_t capacity = capacity_ < 256 ? 256 : capacity_ * 2;
    while (capacity - size_ < count) capacity *= 2;
    auto data = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
    if (size_ > 0) std::memcpy(data.get(), data_.get(), size_);
    data_ = std::move(data);
    capacity_ = capacity;
  }

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace kagura::telemetry::detail
