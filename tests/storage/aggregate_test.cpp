#include "storage/aggregate.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>

namespace kagura::storage::detail {
namespace {

constexpr double kHourStart = 1699999200.0;  // 2023-11-14T22:00:00Z, a whole hour

double just_below(double t) {
  return std::nextafter(t, -std::numeric_limits<double>::infinity());
}

// ---------------------------------------------------------------------------------------------
// bucket_of

TEST(BucketOf, ExactHourBoundaries) {
  EXPECT_EQ(bucket_of(0.0), 0);
  EXPECT_EQ(bucket_of(3600.0), 3600);
  EXPECT_EQ(bucket_of(7200.0), 7200);
  EXPECT_EQ(bucket_of(kHourStart), 1699999200);
  EXPECT_EQ(bucket_of(kHourStart + 3600.0), 1700002800);
  EXPECT_EQ(bucket_of(-3600.0), -3600);
}

TEST(BucketOf, JustBelowHourBoundaries) {
  EXPECT_EQ(bucket_of(just_below(3600.0)), 0);
  EXPECT_EQ(bucket_of(3599.999), 0);
  EXPECT_EQ(bucket_of(just_below(kHourStart)), 1699999200 - 3600);
  EXPECT_EQ(bucket_of(just_below(kHourStart + 3600.0)), 1699999200);
  EXPECT_EQ(bucket_of(just_below(0.0)), -3600);
  EXPECT_EQ(bucket_of(-0.5), -3600);
  EXPECT_EQ(bucket_of(just_below(-3600.0)), -7200);
}

TEST(BucketOf, InsideAnHour) {
  EXPECT_EQ(bucket_of(1700000000.0), 1699999200);
  EXPECT_EQ(bucket_of(kHourStart + 1e-6), 1699999200);
  EXPECT_EQ(bucket_of(kHourStart + 1800.5), 1699999200);
}

TEST(BucketOf, EveryBoundaryOverCenturiesIsExact) {
  // Around every hour boundary, including where t / 3600 rounds across the boundary: the
  // bucket is the largest multiple of 3600 not above t.
  std::mt19937_64 random(11);
  std::uniform_int_distribution<std::int64_t> hours(-500'000, 5'000'000);  // ~1913 to ~2540
  for (int i = 0; i < 200'000; ++i) {
    const std::int64_t boundary = hours(random) * kBucketSeconds;
    const auto t = static_cast<double>(boundary);
    ASSERT_EQ(bucket_of(t), boundary) << boundary;
    ASSERT_EQ(bucket_of(just_below(t)), boundary - kBucketSeconds) << boundary;
    ASSERT_EQ(bucket_of(std::nextafter(t, 1e300)), boundary) << boundary;
  }
}

TEST(BucketOf, RandomTimesSatisfyTheDefinition) {
  std::mt19937_64 random(12);
  std::uniform_real_distribution<double> times(0.0, 4e9);
  for (int i = 0; i < 200'000; ++i) {
    const double t = times(random);
    const std::int64_t bucket = bucket_of(t);
    ASSERT_EQ(bucket % kBucketSeconds, 0) << t;
    ASSERT_LE(static_cast<double>(bucket), t) << t;
    ASSERT_GT(static_cast<double>(bucket + kBucketSeconds), t) << t;
  }
}

// ---------------------------------------------------------------------------------------------
// utc_day

TEST(UtcDay, FormatsUtcDates) {
  EXPECT_EQ(utc_day(0), "1970-01-01");
  EXPECT_EQ(utc_day(86399), "1970-01-01");
  EXPECT_EQ(utc_day(86400), "1970-01-02");
  EXPECT_EQ(utc_day(-1), "1969-12-31");
  EXPECT_EQ(utc_day(951782400), "2000-02-29");  // leap day
  EXPECT_EQ(utc_day(951868799), "2000-02-29");
  EXPECT_EQ(utc_day(1700000000), "2023-11-14");
  EXPECT_EQ(utc_day(1704067199), "2023-12-31");
  EXPECT_EQ(utc_day(1704067200), "2024-01-01");
  EXPECT_EQ(utc_day(bucket_of(1700000000.5)), "2023-11-14");
}

// ---------------------------------------------------------------------------------------------
// split_time_range

TEST(SplitTimeRange, NoBoundsIsAllBuckets) {
  const TimeSplit split = split_time_range(std::nullopt, std::nullopt);
  EXPECT_TRUE(split.has_buckets);
  EXPECT_LT(split.first_bucket, -1'000'000'000'000);
  EXPECT_GT(split.end_bucket, 1'000'000'000'000);
  EXPECT_FALSE(split.head);
  EXPECT_FALSE(split.tail);
  EXPECT_FALSE(split.whole);
}

TEST(SplitTimeRange, SinceOnlyAligned) {
  const TimeSplit split = split_time_range(kHourStart, std::nullopt);
  EXPECT_TRUE(split.has_buckets);
  EXPECT_EQ(split.first_bucket, 1699999200);
  EXPECT_GT(split.end_bucket, 1'000'000'000'000);
  EXPECT_FALSE(split.head);
  EXPECT_FALSE(split.tail);
  EXPECT_FALSE(split.whole);
}

TEST(SplitTimeRange, SinceOnlyUnaligned) {
  const double since = kHourStart + 1234.5;
  const TimeSplit split = split_time_range(since, std::nullopt);
  EXPECT_TRUE(split.has_buckets);
  EXPECT_EQ(split.first_bucket, 1699999200 + 3600);
  ASSERT_TRUE(split.head);
  EXPECT_EQ(split.head->from, since);
  EXPECT_EQ(split.head->to, kHourStart + 3600.0);
  EXPECT_FALSE(split.tail);
  EXPECT_FALSE(split.whole);

  // Just below a boundary: the head is a sliver.
  const TimeSplit sliver = split_time_range(just_below(kHourStart), std::nullopt);
  EXPECT_EQ(sliver.first_bucket, 1699999200);
  ASSERT_TRUE(sliver.head);
  EXPECT_EQ(sliver.head->from, just_below(kHourStart));
  EXPECT_EQ(sliver.head->to, kHourStart);
}

TEST(SplitTimeRange, UntilOnlyAligned) {
  const TimeSplit split = split_time_range(std::nullopt, kHourStart);
  EXPECT_TRUE(split.has_buckets);
  EXPECT_LT(split.first_bucket, -1'000'000'000'000);
  EXPECT_EQ(split.end_bucket, 1699999200);
  EXPECT_FALSE(split.head);
  EXPECT_FALSE(split.tail);
  EXPECT_FALSE(split.whole);
}

TEST(SplitTimeRange, UntilOnlyUnaligned) {
  const double until = kHourStart + 10.25;
  const TimeSplit split = split_time_range(std::nullopt, until);
  EXPECT_TRUE(split.has_buckets);
  EXPECT_EQ(split.end_bucket, 1699999200);
  EXPECT_FALSE(split.head);
  ASSERT_TRUE(split.tail);
  EXPECT_EQ(split.tail->from, kHourStart);
  EXPECT_EQ(split.tail->to, until);
  EXPECT_FALSE(split.whole);
}

TEST(SplitTimeRange, BothWithinOneHourIsOnlyWhole) {
  for (const auto& [since, until] : {std::pair{kHourStart + 100.0, kHourStart + 200.0},
                                     std::pair{kHourStart, kHourStart + 3599.5},
                                     std::pair{kHourStart + 1.0, kHourStart + 3600.0},
                                     std::pair{kHourStart + 3000.0, kHourStart + 4000.0}}) {
    SCOPED_TRACE(std::to_string(since) + " .. " + std::to_string(until));
    const TimeSplit split = split_time_range(since, until);
    EXPECT_FALSE(split.has_buckets);
    EXPECT_FALSE(split.head);
    EXPECT_FALSE(split.tail);
    ASSERT_TRUE(split.whole);
    EXPECT_EQ(split.whole->from, since);
    EXPECT_EQ(split.whole->to, until);
  }
}

TEST(SplitTimeRange, BothSpanningHours) {
  const double since = kHourStart - 600.0;
  const double until = kHourStart + 3 * 3600.0 + 42.0;
  const TimeSplit split = split_time_range(since, until);
  EXPECT_TRUE(split.has_buckets);
  EXPECT_EQ(split.first_bucket, 1699999200);
  EXPECT_EQ(split.end_bucket, 1699999200 + 3 * 3600);
  ASSERT_TRUE(split.head);
  EXPECT_EQ(split.head->from, since);
  EXPECT_EQ(split.head->to, kHourStart);
  ASSERT_TRUE(split.tail);
  EXPECT_EQ(split.tail->from, kHourStart + 3 * 3600.0);
  EXPECT_EQ(split.tail->to, until);
  EXPECT_FALSE(split.whole);
}

TEST(SplitTimeRange, BothAlignedIsOnlyBuckets) {
  const TimeSplit split = split_time_range(kHourStart, kHourStart + 7200.0);
  EXPECT_TRUE(split.has_buckets);
  EXPECT_EQ(split.first_bucket, 1699999200);
  EXPECT_EQ(split.end_bucket, 1699999200 + 7200);
  EXPECT_FALSE(split.head);
  EXPECT_FALSE(split.tail);
  EXPECT_FALSE(split.whole);
}

TEST(SplitTimeRange, EmptyWhenSinceIsNotBeforeUntil) {
  for (const auto& [since, until] :
       {std::pair{kHourStart, kHourStart}, std::pair{kHourStart + 5.0, kHourStart + 5.0},
        std::pair{kHourStart + 5.0, kHourStart + 1.0}, std::pair{kHourStart + 7200.0, kHourStart},
        std::pair{kHourStart + 9000.0, 0.0}}) {
    SCOPED_TRACE(std::to_string(since) + " .. " + std::to_string(until));
    const TimeSplit split = split_time_range(since, until);
    EXPECT_FALSE(split.has_buckets);
    EXPECT_FALSE(split.head);
    EXPECT_FALSE(split.tail);
    EXPECT_FALSE(split.whole);
  }
}

// Counts how many parts of a split claim time t: a whole bucket (by bucket_of, as rollups are
// keyed) or one of the row ranges.
int claims(const TimeSplit& split, double t) {
  int n = 0;
  if (split.has_buckets) {
    const auto bucket = bucket_of(t);
    if (bucket >= split.first_bucket && bucket < split.end_bucket) ++n;
  }
  for (const auto& range : {split.head, split.tail, split.whole}) {
    if (range && t >= range->from && t < range->to) ++n;
  }
  return n;
}

TEST(SplitTimeRange, EveryTimeIsClaimedOnceIffInRange) {
  std::mt19937_64 random(13);
  std::uniform_int_distribution<int> hour(0, 6);
  std::uniform_int_distribution<int> kind(0, 3);
  std::uniform_real_distribution<double> fraction(0.0, 3600.0);
  // A time near kHourStart: aligned, just below a boundary, or anywhere in an hour.
  auto pick = [&] {
    const double boundary = kHourStart + hour(random) * 3600.0;
    switch (kind(random)) {
      case 0:
        return boundary;
      case 1:
        return just_below(boundary);
      case 2:
        return std::nextafter(boundary, 1e300);
      default:
        return boundary + fraction(random);
    }
  };
  for (int i = 0; i < 3000; ++i) {
    std::optional<double> since, until;
    if (i % 4 != 1) since = pick();
    if (i % 4 != 2) until = pick();
    const TimeSplit split = split_time_range(since, until);
    if (split.head) {
      EXPECT_LT(split.head->from, split.head->to);
    }
    if (split.tail) {
      EXPECT_LT(split.tail->from, split.tail->to);
    }
    if (split.has_buckets) {
      EXPECT_LT(split.first_bucket, split.end_bucket);
    }
    for (int k = 0; k < 40; ++k) {
      const double t = pick();
      const bool in_range = (!since || t >= *since) && (!until || t < *until);
      ASSERT_EQ(claims(split, t), in_range ? 1 : 0)
          << "since " << (since ? std::to_string(*since) : "-") << " until "
          << (until ? std::to_string(*until) : "-") << " t " << t;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Accumulators

TEST(StatsAccumulator, ToStats) {
  StatsAccumulator stats;
  auto summary = [](telemetry::ExecutionStatus status, std::optional<double> duration,
                    double started_at, telemetry::NanoUsd cost) {
    ExecutionSummary s;
    s.status = status;
    s.duration = duration;
    s.started_at = started_at;
    s.llm_calls = 1;
    s.prompt_tokens = 10;
    s.completion_tokens = 5;
    s.cost_nanos = cost;
    return s;
  };
  using telemetry::ExecutionStatus;
  stats.add(summary(ExecutionStatus::completed, 1.0, 100.0, 7));
  stats.add(summary(ExecutionStatus::completed, 3.0, 50.0, 11));
  stats.add(summary(ExecutionStatus::failed, 2.0, 300.0, 13));
  stats.add(summary(ExecutionStatus::running, std::nullopt, 400.0, 0));
  const SummaryStats s = stats.to_stats();
  EXPECT_EQ(s.total_executions, 4);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.running, 1);
  EXPECT_DOUBLE_EQ(s.success_rate, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.avg_duration, 2.0);
  EXPECT_EQ(s.max_duration, 3.0);
  EXPECT_EQ(s.llm_calls, 4);
  EXPECT_EQ(s.total_tokens, 60);
  EXPECT_EQ(s.cost_nanos, 31);
  EXPECT_EQ(s.first_started_at, 50.0);
  EXPECT_EQ(s.last_started_at, 400.0);

  const SummaryStats none = StatsAccumulator{}.to_stats();
  EXPECT_EQ(none.total_executions, 0);
  EXPECT_EQ(none.success_rate, 0.0);
  EXPECT_EQ(none.avg_duration, 0.0);
  EXPECT_FALSE(none.first_started_at);
}

}  // namespace
}  // namespace kagura::storage::detail
