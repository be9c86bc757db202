#include "cli/time_spec.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>

namespace kagura::cli {
namespace {

// The value as typed, control characters escaped: a NUL in it would otherwise end the
// message there, and a line break split it.
std::string shown(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

[[noreturn]] void reject(std::string_view text) {
  throw std::invalid_argument(
      "'" + shown(text) +
      "' is not a time: use a Unix timestamp (1730419200), an ISO date or date-time in UTC "
      "(2025-11-01 or 2025-11-01T12:30:00Z) or a span back from now (90s, 30m, 24h, 7d, 2w)");
}

[[noreturn]] void reject_range(std::string_view text) {
  throw std::invalid_argument("'" + shown(text) +
                              "' is outside the times Kagura reads: give a time from 1970 to "
                              "the end of year 9999");
}

double in_range(std::string_view text, double time) {
  if (!(time >= 0 && time < kMaxTimeSpec)) reject_range(text);
  return time;
}

bool parse_number(std::string_view text, double& value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(value);
}

}  // namespace

double parse_time_spec(std::string_view text, double now) {
  // strptime() would stop at a NUL (a dashboard parameter can hold one) and read the rest as
  // nothing.
  if (text.empty() || text.find('\0') != std::string_view::npos) reject(text);
  double number = 0;
  if (parse_number(text, number)) {
    if (number < 0) reject(text);
    return in_range(text, number);
  }
  const char unit = text.back();
  if (std::string_view("smhdw").find(unit) != std::string_view::npos &&
      parse_number(text.substr(0, text.size() - 1), number) && number >= 0) {
    const double seconds_per_unit = unit == 's'   ? 1
                                    : unit == 'm' ? 60
                                    : unit == 'h' ? 3600
                                    : unit == 'd' ? 86400
                                                  : 604800;
    // A span too long to count (1e308w) or reaching before 1970 covers everything there is.
    return std::max(0.0, now - number * seconds_per_unit);
  }
  std::tm tm{};
  std::string copy(text);
  if (!copy.empty() && (copy.back() == 'Z' || copy.back() == 'z')) copy.pop_back();
  const char* end = nullptr;
  for (const char* format :
       {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    tm = {};
    end = strptime(copy.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') return in_range(text, static_cast<double>(timegm(&tm)));
  }
  reject(text);
}

}  // namespace kagura::cli
