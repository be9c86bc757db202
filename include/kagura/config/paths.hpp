#pragma once

#include <filesystem>
#include <stdexcept>

namespace kagura::config {

// A configuration problem; what() names the variable or file (and line), and the fix.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Kagura's directory: $KAGURA_HOME if set, else $HOME/.kagura. Throws ConfigError when
// neither variable is set.
std::filesystem::path kagura_home();
// The default SQLite store, <kagura_home>/telemetry.db.
std::filesystem::path default_database_path();

}  // namespace kagura::config
