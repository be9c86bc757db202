#pragma once

// The child executions of one execution's trace, for `kagura monitor trace` and the dashboard.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::cli::monitor {

// Children by parent id, each list in start order.
using ChildMap = std::map<std::string, std::vector<telemetry::Execution>, std::less<>>;

// Reads the trace of `execution` (without events) a page at a time, up to `limit` executions;
// `truncated` tells whether the trace held more.
ChildMap children_in_trace(storage::StorageAdapter& store, const telemetry::Execution& execution,
                           std::int64_t limit, bool& truncated);

}  // namespace kagura::cli::monitor
