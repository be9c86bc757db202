#pragma once

// The ~/.kagura/.env file: KEY=VALUE lines as `kagura init` writes them and as users edit them.
// Accepted: blank lines, '#' comments, an optional leading "export ", values bare, in single
// quotes (taken literally) or in double quotes (with \n, \t, \\ and \" escapes), and a
// " #" comment after a bare value. Anything else is an error naming the file and line.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "kagura/config/paths.hpp"

namespace kagura::config {

using DotenvValues = std::map<std::string, std::string, std::less<>>;

// Throws ConfigError "<source>:<line>: <problem>; <fix>".
DotenvValues parse_dotenv(std::string_view text, std::string_view source);
// A missing file gives no values; an unreadable one throws ConfigError.
DotenvValues load_dotenv_file(const std::filesystem::path& path);

}  // namespace kagura::config
