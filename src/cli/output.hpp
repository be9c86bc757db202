#pragma once

#include <cstdint>
#include <string>

namespace kagura::cli {

// Colour only on a terminal and never when NO_COLOR is set (https://no-color.org).
bool use_colour();
std::string bold(const std::string& text);
std::string green(const std::string& text);
std::string red(const std::string& text);

std::string format_duration(double seconds);  // "850ms", "1.23s", "2m05s"
std::string format_cost(double usd);          // "$0.0123"
std::string format_count(std::int64_t n);     // "1,234,567"
std::string format_percent(double fraction);  // "97.5%"

}  // namespace kagura::cli
