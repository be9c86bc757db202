// The ~/.kagura/.env file, which users edit by hand. Invariants: a value or a ConfigError, never
// another exception; the error names the file and line; and what `kagura init` would write for
// the values read (format_dotenv_value) reads back as the same values.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "kagura/config/dotenv.hpp"
#include "kagura/config/env_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace kagura::config;
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  DotenvValues values;
  try {
    values = parse_dotenv(text, "fuzz.env");
  } catch (const ConfigError& error) {
    KAGURA_FUZZ_CHECK(std::string_view(error.what()).starts_with("fuzz.env:"));
    return 0;
  }
  std::string written;
  for (const auto& [key, value] : values) written += key + "=" + format_dotenv_value(value) + "\n";
  KAGURA_FUZZ_CHECK(parse_dotenv(written, "written.env") == values);
  return 0;
}
