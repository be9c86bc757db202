// The alert rules file (~/.kagura/alerts.json), which users edit by hand. Invariants: rules or
// a ConfigError naming the file, never another exception; durations are finite and not
// negative, and a webhook's timeout is positive.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "kagura/alerts/rules_file.hpp"
#include "kagura/config/paths.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace kagura::alerts;
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  std::vector<Rule> rules;
  try {
    rules = parse_rules_text(text, "fuzz.json");
  } catch (const kagura::config::ConfigError& error) {
    KAGURA_FUZZ_CHECK(std::string_view(error.what()).starts_with("fuzz.json: "));
    return 0;
  }
  for (const Rule& rule : rules) {
    KAGURA_FUZZ_CHECK(!rule.name.empty() && !rule.actions.empty());
    KAGURA_FUZZ_CHECK(std::isfinite(rule.threshold) && rule.threshold >= 0);
    KAGURA_FUZZ_CHECK(std::isfinite(rule.window) && rule.window >= 0);
    KAGURA_FUZZ_CHECK(std::isfinite(rule.cooldown) && rule.cooldown >= 0);
    for (const Action& action : rule.actions) {
      KAGURA_FUZZ_CHECK(action.timeout.count() > 0);
    }
  }
  // A duration field on its own, as parse_duration() reads it.
  if (const auto seconds = parse_duration(text)) {
    KAGURA_FUZZ_CHECK(std::isfinite(*seconds) && *seconds >= 0);
  }
  return 0;
}
