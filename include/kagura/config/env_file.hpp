#pragma once

// Writing the ~/.kagura/.env file that dotenv.hpp reads: `kagura init` writes it, and it may
// hold a database password.

#include <filesystem>
#include <string>
#include <string_view>

#include "kagura/config/paths.hpp"

namespace kagura::config {

// `value` as the right-hand side of a KEY=VALUE line that parse_dotenv() reads back unchanged:
// bare when it can be, else double-quoted with escapes (for a value with a " #", surrounding
// spaces, a leading quote or a line break).
std::string format_dotenv_value(std::string_view value);

// Replaces `path` with `text`, readable and writable by its owner only (0600). Atomic: the text
// goes to a temporary file in the same directory, is synced, then renamed over `path`, so a
// failure (a full disk, say) leaves the previous file as it was and never half a file. Throws
// ConfigError naming the file, the reason and the fix.
void write_env_file(const std::filesystem::path& path, std::string_view text);

}  // namespace kagura::config
