#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kagura::cli {

// Colour only on a terminal and never when NO_COLOR is set (https://no-color.org).
bool use_colour();
std::string bold(const std::string& text);
std::string green(const std::string& text);
std::string red(const std::string& text);
std::string yellow(const std::string& text);
std::string dim(const std::string& text);

std::string format_duration(double seconds);  // "850ms", "1.23s", "2m05s"
std::string format_cost(double usd);          // "$0.0123"
std::string format_count(std::int64_t n);     // "1,234,567"
std::string format_percent(double fraction);  // "97.5%"

std::string format_utc_time(double unix_seconds);  // "2025-01-10 00:00:00"
std::string format_utc_day(double unix_seconds);   // "2025-01-10"
// How long before `now`: "12s ago", "5m ago", "2h ago", "3d ago"; beyond a week the UTC
// date-time, which stays meaningful when the output is read later.
std::string format_relative_time(double unix_seconds, double now);
// A span of time for people: "45s", "12.5 minutes", "3.0 hours", "7.0 days".
std::string format_span(double seconds);

// Columns on a terminal as they are counted: code points, with ANSI escape sequences taking no
// room. Good enough for the names and box characters kagura prints.
std::size_t display_width(std::string_view text);
// Cuts `text` to at most `width` columns, ending in "…" when cut (escapes are kept intact and
// closed).
std::string truncate_display(std::string_view text, std::size_t width);

// A table of left- or right-aligned columns, two spaces apart. Widths come from the plain
// text, so a cell may be coloured (its style is applied after padding) without breaking the
// alignment.
class Table {
 public:
  enum class Align { left, right };
  struct Column {
    std::string title;
    Align align = Align::left;
    std::size_t max_width = 0;  // 0: as wide as the widest cell; else longer cells are cut
  };
  using Style = std::string (*)(const std::string&);
  struct Cell {
    Cell(std::string text, Style style = nullptr) : text(std::move(text)), style(style) {}
    Cell(const char* text, Style style = nullptr) : text(text), style(style) {}
    std::string text;
    Style style;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add_row(std::vector<Cell> cells);
  // The header line (bold on a terminal) and then one line per row; no trailing spaces.
  std::vector<std::string> lines(bool with_header = true) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace kagura::cli
