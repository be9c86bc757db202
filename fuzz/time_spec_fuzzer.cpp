// The values of --since/--until (and of the dashboard's since/until parameters). Invariants: a
// time or std::invalid_argument, never another exception; a time is a finite number of seconds
// from 1970 to the end of year 9999, which every formatter and store can take.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "cli/output.hpp"
#include "cli/time_spec.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  constexpr double kNow = 1764115200;  // 2025-11-26
  double time = 0;
  try {
    time = kagura::cli::parse_time_spec(text, kNow);
  } catch (const std::invalid_argument& error) {
    KAGURA_FUZZ_CHECK(std::string_view(error.what()).find("is not a time") !=
                          std::string_view::npos ||
                      std::string_view(error.what()).find("year 9999") != std::string_view::npos);
    return 0;
  }
  KAGURA_FUZZ_CHECK(std::isfinite(time));
  KAGURA_FUZZ_CHECK(time >= 0 && time < kagura::cli::kMaxTimeSpec);
  KAGURA_FUZZ_CHECK(kagura::cli::format_utc_time(time).size() == 19);
  return 0;
}
