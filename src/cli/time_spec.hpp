#pragma once

#include <string_view>

namespace kagura::cli {

// A point in time as users type it on the command line: a Unix timestamp ("1730419200"), an ISO
// date or date-time in UTC ("2025-11-01", "2025-11-01T12:30:00Z"), or a span back from `now`
// ("90s", "30m", "24h", "7d", "2w"). Throws std::invalid_argument explaining the accepted forms.
// The result is from 0 (1970) up to kMaxTimeSpec: a timestamp or date outside that range is
// rejected, and a span reaching before 1970 means 1970, so that every formatter, time_t and
// integer conversion downstream can take any result.
double parse_time_spec(std::string_view text, double now);

// 10000-01-01T00:00:00Z, the first time that a four-digit year cannot show.
inline constexpr double kMaxTimeSpec = 253402300800.0;

}  // namespace kagura::cli
