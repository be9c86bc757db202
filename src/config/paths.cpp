#include "kagura/config/paths.hpp"

#include <cstdlib>

namespace kagura::config {

std::filesystem::path kagura_home() {
  if (const char* home = std::getenv("KAGURA_HOME"); home != nullptr && *home != '\0') {
    return home;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".kagura";
  }
  throw ConfigError(
      "neither KAGURA_HOME nor HOME is set: set HOME, or KAGURA_HOME to the "
      "directory Kagura should keep its configuration and database in");
}

std::filesystem::path default_database_path() {
  return kagura_home() / "telemetry.db";
}

}  // namespace kagura::config
