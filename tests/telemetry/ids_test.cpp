#include "kagura/telemetry/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace kagura::telemetry {
namespace {

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// The 48-bit Unix millisecond timestamp in the first 12 hex digits (RFC 9562 unix_ts_ms).
std::uint64_t millis_of(const std::string& id) {
  return std::stoull(id.substr(0, 12), nullptr, 16);
}

TEST(NewExecutionId, Is32LowercaseHexDigits) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_execution_id();
    ASSERT_EQ(id.size(), 32u) << id;
    for (char c : id) ASSERT_TRUE(is_lower_hex(c)) << id;
  }
}

TEST(NewExecutionId, HasUuidV7VersionAndVariant) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_execution_id();
    // Version nibble: the 13th hex digit (index 12) is 7.
    ASSERT_EQ(id[12], '7') << id;
    // Variant: the top two bits of the 17th hex digit (index 16) are 10, i.e. 8, 9, a or b.
    const int variant = std::stoi(std::string(1, id[16]), nullptr, 16);
    ASSERT_EQ(variant & 0xC, 0x8) << id;
  }
}

TEST(NewExecutionId, TimestampIsTheCurrentUnixMillisecond) {
  using namespace std::chrono;
  const auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  const std::string id = new_execution_id();
  const auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  const auto ms = static_cast<std::int64_t>(millis_of(id));
  EXPECT_GE(ms, before);
  EXPECT_LE(ms, after);
}

TEST(NewExecutionId, WithTimeGivesTheTimeTheIdCarries) {
  const double before = unix_now();
  std::string id;
  const double time = new_execution_id_and_time(id);
  const double after = unix_now();
  EXPECT_GE(time, before);
  EXPECT_LE(time, after);
  // Within the id's millisecond, give or take the double's rounding (a quarter microsecond).
  const double into_the_millisecond = time * 1000.0 - static_cast<double>(millis_of(id));
  EXPECT_GE(into_the_millisecond, -0.001) << id << " at " << std::to_string(time);
  EXPECT_LE(into_the_millisecond, 1.001) << id << " at " << std::to_string(time);
}

// The collector keeps ids as bits and writes their digits later: the digits are the bits,
// most significant first, and bits from the clock carry the time as text ids do.
TEST(ExecutionIdBits, AreWrittenAsTheirHexDigitsMostSignificantFirst) {
  std::array<char, kExecutionIdLength> digits{};
  write_execution_id({.high = 0x0123456789abcdefULL, .low = 0xfedcba9876543210ULL}, digits);
  EXPECT_EQ(std::string(digits.data(), digits.size()), "0123456789abcdeffedcba9876543210");

  const double before = unix_now();
  ExecutionIdBits bits;
  const double time = new_execution_id_and_time(bits);
  write_execution_id(bits, digits);
  const std::string id(digits.data(), digits.size());
  EXPECT_EQ(id[12], '7') << id;
  EXPECT_EQ((bits.low >> 62), 2U) << id;
  EXPECT_GE(time, before);
  const double into_the_millisecond = time * 1000.0 - static_cast<double>(millis_of(id));
  EXPECT_GE(into_the_millisecond, -0.001) << id;
  EXPECT_LE(into_the_millisecond, 1.001) << id;
}

TEST(NewExecutionId, HundredThousandIdsAreUnique) {
  constexpr int kCount = 100'000;
  std::unordered_set<std::string> seen;
  seen.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    const std::string id = new_execution_id();
    ASSERT_TRUE(seen.insert(id).second) << "duplicate id " << id << " after " << i;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
}

TEST(NewExecutionId, UniqueAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10'000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      ids[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(new_execution_id());
    });
  }
  for (auto& thread : threads) thread.join();
  std::unordered_set<std::string> seen;
  for (const auto& list : ids) {
    for (const auto& id : list) ASSERT_TRUE(seen.insert(id).second) << "duplicate id " << id;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(NewExecutionId, SortsInCreationOrderByMillisecond) {
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back(new_execution_id());
    if (i % 200 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // The millisecond prefix never goes backwards, and the string order agrees with it.
  for (std::size_t i = 1; i < ids.size(); ++i) {
    ASSERT_LE(millis_of(ids[i - 1]), millis_of(ids[i])) << ids[i - 1] << " then " << ids[i];
    if (millis_of(ids[i - 1]) < millis_of(ids[i])) {
      ASSERT_LT(ids[i - 1], ids[i]);
    }
  }
  // The sleeps put ids in at least a few distinct milliseconds.
  EXPECT_GE(millis_of(ids.back()) - millis_of(ids.front()), 20u);

  // Sorting the ids keeps every millisecond group in creation order relative to the others.
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(millis_of(sorted[i]), millis_of(ids[i])) << "position " << i;
  }
}

TEST(NewExecutionId, IdsAMillisecondApartSortInCreationOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(new_execution_id());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  for (std::size_t i = 1; i < ids.size(); ++i) {
    EXPECT_LT(millis_of(ids[i - 1]), millis_of(ids[i]));
  }
}

TEST(UnixNow, AgreesWithStdTime) {
  const auto before = static_cast<double>(std::time(nullptr));
  const double now = unix_now();
  const auto after = static_cast<double>(std::time(nullptr));
  // std::time truncates to whole seconds, and glibc reads it from the coarse clock, which may
  // lag the precise one by a scheduler tick (a few ms): allow 50 ms either side of the second.
  constexpr double kCoarseLag = 0.05;
  EXPECT_GE(now, before - kCoarseLag);
  EXPECT_LT(now, after + 1.0 + kCoarseLag);
  EXPECT_NEAR(now, after, 2.0);
}

TEST(UnixNow, HasSubSecondResolution) {
  const double a = unix_now();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double b = unix_now();
  EXPECT_GT(b - a, 0.015);
  EXPECT_LT(b - a, 5.0);
}

TEST(UnixNow, AgreesWithTheIdTimestamp) {
  const double before = unix_now();
  const std::string id = new_execution_id();
  const double after = unix_now();
  const double ms = static_cast<double>(millis_of(id));
  EXPECT_GE(ms, std::floor(before * 1000.0) - 1.0);
  EXPECT_LE(ms, after * 1000.0 + 1.0);
}

}  // namespace
}  // namespace kagura::telemetry
