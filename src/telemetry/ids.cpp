#include "kagura/telemetry/ids.hpp"

#include <time.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

namespace kagura::telemetry {
namespace {

std::uint64_t new_seed() {
  std::random_device device;
  std::uint64_t seed = (std::uint64_t{device()} << 32) ^ device();
  seed ^= static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  seed ^= std::hash<std::thread::id>{}(std::this_thread::get_id()) * 0x9E3779B97F4A7C15ULL;
  return seed | 1;  // never 0, the mark of a thread that has no seed yet
}

// splitmix64: a tiny, well-mixed generator; ids need uniqueness, not secrecy.
std::uint64_t next_random() noexcept {
  // Zero-initialised and seeded on first use rather than by a dynamic initialiser, which would
  // add a guard to every access. (Not initial-exec: storage plugins link this library and are
  // loaded with dlopen(), and the static TLS reserve is too small for them.)
  thread_local std::uint64_t state = 0;
  if (state == 0) [[unlikely]] {
    try {
      state = new_seed();
    } catch (...) {  // std::random_device can throw; the clock and thread still differ
      state =
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) |
          1;
    }
  }
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The wall clock in nanoseconds, read with clock_gettime() rather than
// std::chrono::system_clock::now(): that is a call into libstdc++'s code for each reading, code
// the agent's thread runs only for telemetry and finds cold after every network wait (the
// profile of a full agent call showed it), while clock_gettime() is libc's, which the steady
// clock of every timed call runs too.
std::int64_t unix_now_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

void write_hex(std::span<char, 16> out, std::uint64_t value) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = kHex[(value >> (60 - 4 * i)) & 0xF];
}

}  // namespace

double unix_now() noexcept {
  return static_cast<double>(unix_now_ns()) / 1e9;
}

std::string new_execution_id() {
  std::string id;
  new_execution_id(id);
  return id;
}

void new_execution_id(std::string& id) {
  new_execution_id_and_time(id);
}

double new_execution_id_and_time(std::string& id) {
  ExecutionIdBits bits;
  const double time = new_execution_id_and_time(bits);
  id.resize(kExecutionIdLength);
  write_execution_id(bits, std::span<char, kExecutionIdLength>(id.data(), id.size()));
  return time;
}

double new_execution_id_and_time(ExecutionIdBits& bits) noexcept {
  const std::int64_t now_ns = unix_now_ns();
  const auto unix_ms = static_cast<std::uint64_t>(now_ns / 1'000'000);
  // RFC 9562 method 3: the 12-bit rand_a carries the fraction of the millisecond.
  const auto sub_ms = static_cast<std::uint64_t>((now_ns % 1'000'000) * 4096 / 1'000'000);
  bits.high = (unix_ms << 16) | (0x7ULL << 12) | sub_ms;
  bits.low = (next_random() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  return static_cast<double>(now_ns) / 1e9;
}

void write_execution_id(const ExecutionIdBits& bits,
                        std::span<char, kExecutionIdLength> id) noexcept {
  write_hex(id.first<16>(), bits.high);
  write_hex(id.last<16>(), bits.low);
}

}  // namespace kagura::telemetry
