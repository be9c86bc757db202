#pragma once

#include <cstdint>
#include <functional>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::cli::monitor {

// Calls `visit` for every execution that matches `filter`, newest first, holding one page in
// memory at a time; stops early when `visit` returns false. Returns how many were visited.
//
// Pages are windows of start time, not offsets: an offset makes the store step over every
// earlier row again for each page (quadratic on a large store), whereas a time window is a range
// read on every backend. Windows tile [since, until) exactly (since inclusive, until
// exclusive), so no execution is read twice or missed whatever the order within a window; a
// window holding more than a page is narrowed, and one that cannot be narrowed further (many
// executions in the same millisecond) is read by offset within itself.
std::int64_t for_each_execution(storage::StorageAdapter& store,
                                const storage::ExecutionFilter& filter, bool include_events,
                                std::int64_t page_size,
                                const std::function<bool(const telemetry::Execution&)>& visit);

}  // namespace kagura::cli::monitor
