#pragma once

#include <string_view>

namespace kagura::cli {

// A point in time as users type it on the command line: a Unix timestamp ("1730419200"), an ISO
// date or date-time in UTC ("2025-11-01", "2025-11-01T12:30:00Z"), or a span back from `now`
// ("90s", "30m", "24h", "7d", "2w"). Throws std::invalid_argument explaining the accepted forms.
double parse_time_spec(std::string_view text, double now);

}  // namespace kagura::cli
