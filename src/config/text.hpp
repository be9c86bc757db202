#pragma once

#include <cctype>
#include <string_view>

namespace kagura::config {

// `text` without the whitespace at either end (spaces, tabs, and the \r a file written on
// Windows leaves at the end of each line).
inline std::string_view trim_whitespace(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace kagura::config
