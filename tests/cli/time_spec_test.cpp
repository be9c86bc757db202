// --since/--until values (and the dashboard's since/until parameters): the accepted forms, and
// the range every result stays in.

#include "cli/time_spec.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace kagura::cli {
namespace {

constexpr double kNow = 1764115200;  // 2025-11-26T00:00:00Z

std::string error_of(std::string_view text) {
  try {
    parse_time_spec(text, kNow);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TimeSpecTest, ReadsTimestampsDatesAndSpans) {
  EXPECT_EQ(parse_time_spec("1730419200", kNow), 1730419200);
  EXPECT_EQ(parse_time_spec("2025-11-01", kNow), 1761955200);
  EXPECT_EQ(parse_time_spec("2025-11-01T12:30:00Z", kNow), 1761955200 + 45000);
  EXPECT_EQ(parse_time_spec("2025-11-01 12:30:00", kNow), 1761955200 + 45000);
  EXPECT_EQ(parse_time_spec("2025-11-01T12:30", kNow), 1761955200 + 45000);
  EXPECT_EQ(parse_time_spec("90s", kNow), kNow - 90);
  EXPECT_EQ(parse_time_spec("24h", kNow), kNow - 86400);
  EXPECT_EQ(parse_time_spec("2w", kNow), kNow - 2 * 604800);
  EXPECT_NE(error_of("yesterday").find("'yesterday' is not a time: use a Unix timestamp"),
            std::string::npos);
  EXPECT_NE(error_of("-5").find("is not a time"), std::string::npos);
  EXPECT_NE(error_of("").find("is not a time"), std::string::npos);
}

// Found with fuzz/time_spec_fuzzer.cpp and fuzz/dashboard_params_fuzzer.cpp: since=1e300
// reached double-to-integer conversions that overflow (undefined behaviour) in the dashboard's
// time series, a year-0 date gave a time before 1970, and a span too long to count gave
// -infinity.
TEST(TimeSpecTest, EveryResultIsATimeFrom1970ToYear9999) {
  EXPECT_NE(error_of("1e300").find("'1e300' is outside the times Kagura reads"), std::string::npos);
  EXPECT_NE(error_of("253402300800").find("is outside the times"), std::string::npos);
  EXPECT_EQ(parse_time_spec("253402300799", kNow), 253402300799);
  EXPECT_NE(error_of("0000-01-01").find("is outside the times"), std::string::npos);
  EXPECT_EQ(parse_time_spec("9999-12-31T23:59:59Z", kNow), 253402300799);
  // A span reaching before 1970 covers everything recorded.
  EXPECT_EQ(parse_time_spec("1e308w", kNow), 0);
  EXPECT_EQ(parse_time_spec("100000d", kNow), 0);
}

// strptime() stops at a NUL, so "2025-11-01<NUL>junk" read as 2025-11-01; and a NUL copied into
// the message ended it there (found by fuzz/time_spec_fuzzer.cpp with "2h424\x01\0").
TEST(TimeSpecTest, ControlCharactersAreRejectedAndShownEscaped) {
  using namespace std::string_view_literals;
  EXPECT_NE(error_of("2025-11-01\0junk"sv).find("'2025-11-01\\x00junk' is not a time: use"),
            std::string::npos);
  EXPECT_NE(error_of("2h424\x01\0"sv).find("'2h424\\x01\\x00' is not a time: use"),
            std::string::npos);
  EXPECT_NE(error_of("24h\n").find("'24h\\x0a' is not a time"), std::string::npos);
}

}  // namespace
}  // namespace kagura::cli
