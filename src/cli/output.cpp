#include "cli/output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>

namespace kagura::cli {

bool use_colour() {
  static const bool colour = [] {
    const char* no_colour = std::getenv("NO_COLOR");
    if (no_colour != nullptr && *no_colour != '\0') return false;
    return ::isatty(STDOUT_FILENO) == 1;
  }();
  return colour;
}

namespace {
std::string wrap(const char* code, const std::string& text) {
  return use_colour() ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
}
}  // namespace

std::string bold(const std::string& text) {
  return wrap("1", text);
}
std::string green(const std::string& text) {
  return wrap("32", text);
}
std::string red(const std::string& text) {
  return wrap("31", text);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  if (seconds < 1e-3) return fmt::format("{:.0f}µs", seconds * 1e6);
  if (seconds < 1.0) return fmt::format("{:.0f}ms", seconds * 1e3);
  if (seconds < 60.0) return fmt::format("{:.2f}s", seconds);
  const auto minutes = static_cast<long>(seconds / 60);
  return fmt::format("{}m{:02.0f}s", minutes, seconds - 60.0 * static_cast<double>(minutes));
}

std::string format_cost(double usd) {
  if (usd != 0.0 && std::fabs(usd) < 0.0001) return fmt::format("${:.6f}", usd);
  return fmt::format("${:.4f}", usd);
}

std::string format_count(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string format_percent(double fraction) {
  return fmt::format("{:.1f}%", fraction * 100.0);
}

}  // namespace kagura::cli
