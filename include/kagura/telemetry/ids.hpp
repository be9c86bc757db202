#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace kagura::telemetry {

// Current wall-clock time as Unix seconds, the unit of every timestamp in a record.
double unix_now() noexcept;

// A new execution id: 32 lowercase hex digits laid out as a UUIDv7 (RFC 9562) with the
// sub-millisecond fraction in rand_a, so ids sort by creation time and double as OpenTelemetry
// trace ids. Cheap enough for the agent's hot path: no lock, no system call.
std::string new_execution_id();
// The same, written into `out` (reusing its capacity).
void new_execution_id(std::string& out);
// The same, and the time it carries as Unix seconds (at full precision, not cut to the
// millisecond): an execution's id and start time from one reading of the clock.
double new_execution_id_and_time(std::string& out);

inline constexpr std::size_t kExecutionIdLength = 32;  // hex digits

// An execution id before it is written out: the two halves of the UUIDv7, most significant
// first. The collector keeps ids so and writes their digits where the record is written.
// new_execution_id_and_time(bits) is the same id and time as above, without the digits.
struct ExecutionIdBits {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
};
double new_execution_id_and_time(ExecutionIdBits& out) noexcept;
// The 32 lowercase hex digits of `bits`.
void write_execution_id(const ExecutionIdBits& bits,
                        std::span<char, kExecutionIdLength> out) noexcept;

}  // namespace kagura::telemetry
