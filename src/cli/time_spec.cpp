#include "cli/time_spec.hpp"

#include <charconv>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <string>

namespace kagura::cli {
namespace {

[[noreturn]] void reject(std::string_view text) {
  throw std::invalid_argument(
      "'" + std::string(text) +
      "' is not a time: use a Unix timestamp (1730419200), an ISO date or date-time in UTC "
      "(2025-11-01 or 2025-11-01T12:30:00Z) or a span back from now (90s, 30m, 24h, 7d, 2w)");
}

bool parse_number(std::string_view text, double& value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(value);
}

}  // namespace

double parse_time_spec(std::string_view text, double now) {
  if (text.empty()) reject(text);
  double number = 0;
  if (parse_number(text, number)) {
    if (number < 0) reject(text);
    return number;
  }
  const char unit = text.back();
  if (std::string_view("smhdw").find(unit) != std::string_view::npos &&
      parse_number(text.substr(0, text.size() - 1), number) && number >= 0) {
    const double seconds_per_unit = unit == 's'   ? 1
                                    : unit == 'm' ? 60
                                    : unit == 'h' ? 3600
                                    : unit == 'd' ? 86400
                                                  : 604800;
    return now - number * seconds_per_unit;
  }
  std::tm tm{};
  std::string copy(text);
  if (!copy.empty() && (copy.back() == 'Z' || copy.back() == 'z')) copy.pop_back();
  const char* end = nullptr;
  for (const char* format :
       {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    tm = {};
    end = strptime(copy.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') return static_cast<double>(timegm(&tm));
  }
  reject(text);
}

}  // namespace kagura::cli
