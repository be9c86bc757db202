#pragma once

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

}  // namespace kagura::telemetry
