#include "cli/output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>

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

std::string strftime_utc(double unix_seconds, const char* format) {
  const auto time = static_cast<std::time_t>(std::floor(unix_seconds));
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[32];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Length of the ANSI escape sequence (CSI ... final byte) starting at text[i], or 0.
std::size_t escape_length(std::string_view text, std::size_t i) {
  if (text[i] != '\033' || i + 1 >= text.size() || text[i + 1] != '[') return 0;
  std::size_t j = i + 2;
  while (j < text.size() && (text[j] < 0x40 || text[j] > 0x7E)) ++j;
  return j < text.size() ? j - i + 1 : text.size() - i;
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
std::string yellow(const std::string& text) {
  return wrap("33", text);
}
std::string dim(const std::string& text) {
  return wrap("2", text);
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

std::string format_utc_time(double unix_seconds) {
  return strftime_utc(unix_seconds, "%Y-%m-%d %H:%M:%S");
}

std::string format_utc_day(double unix_seconds) {
  return strftime_utc(unix_seconds, "%Y-%m-%d");
}

std::string format_relative_time(double unix_seconds, double now) {
  const double ago = now - unix_seconds;
  // A little clock skew between the recording host and this one reads as "just now".
  if (ago < 1.0 && ago > -60.0) return "just now";
  if (ago < 0.0 || ago >= 7 * 86400.0) return format_utc_time(unix_seconds);
  const auto whole = static_cast<long>(ago);
  if (whole < 60) return fmt::format("{}s ago", whole);
  if (whole < 3600) return fmt::format("{}m ago", whole / 60);
  if (whole < 86400) return fmt::format("{}h ago", whole / 3600);
  return fmt::format("{}d ago", whole / 86400);
}

std::string format_span(double seconds) {
  if (seconds < 120) return fmt::format("{:.0f}s", seconds);
  if (seconds < 2 * 3600) return fmt::format("{:.1f} minutes", seconds / 60);
  if (seconds < 2 * 86400) return fmt::format("{:.1f} hours", seconds / 3600);
  return fmt::format("{:.1f} days", seconds / 86400);
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t escape = escape_length(text, i); escape > 0) {
      i += escape;
      continue;
    }
    if (!is_continuation_byte(text[i])) ++width;
    ++i;
  }
  return width;
}

std::string truncate_display(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) return std::string(text);
  if (width == 0) return {};
  std::string out;
  bool escaped = false;
  std::size_t used = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t escape = escape_length(text, i); escape > 0) {
      out.append(text.substr(i, escape));
      escaped = true;
      i += escape;
      continue;
    }
    if (!is_continuation_byte(text[i])) {
      if (used + 1 == width) break;  // room left for the ellipsis only
      ++used;
    }
    out.push_back(text[i]);
    ++i;
  }
  out += "…";
  if (escaped) out += "\033[0m";
  return out;
}

void Table::add_row(std::vector<Cell> cells) {
  cells.resize(columns_.size(), Cell(""));
  rows_.push_back(std::move(cells));
}

std::vector<std::string> Table::lines(bool with_header) const {
  std::vector<std::size_t> widths(columns_.size());
  const auto cut = [&](std::size_t column, const std::string& text) {
    const std::size_t max = columns_[column].max_width;
    return max > 0 ? truncate_display(text, max) : text;
  };
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    if (with_header) widths[c] = display_width(columns_[c].title);
    for (const auto& row : rows_)
      widths[c] = std::max(widths[c], display_width(cut(c, row[c].text)));
  }
  const auto render = [&](const std::vector<Cell>& cells, bool header) {
    std::string line;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string text = cut(c, cells[c].text);
      const std::string padding(widths[c] - display_width(text), ' ');
      std::string styled = header ? bold(text) : cells[c].style ? cells[c].style(text) : text;
      if (c > 0) line += "  ";
      line += columns_[c].align == Align::right ? padding + styled : styled + padding;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  };
  std::vector<std::string> out;
  if (with_header) {
    std::vector<Cell> titles;
    for (const auto& column : columns_) titles.emplace_back(column.title);
    out.push_back(render(titles, true));
  }
  for (const auto& row : rows_) out.push_back(render(row, false));
  return out;
}

}  // namespace kagura::cli
