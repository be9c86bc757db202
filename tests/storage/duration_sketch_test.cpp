#include "kagura/storage/duration_sketch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace kagura::storage {
namespace {

constexpr double kQuantiles[] = {0.5, 0.95, 0.99};
// The sketch promises 1% relative error; allow for rounding in the last bits.
constexpr double kTolerance = DurationSketch::kRelativeAccuracy * (1.0 + 1e-9);

// The exact quantile the sketch approximates: the value of rank floor(q * (n - 1)) in the
// sorted values (the lower of the two neighbours, no interpolation).
double exact_quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank =
      static_cast<std::size_t>(std::floor(q * static_cast<double>(values.size() - 1)));
  return values[rank];
}

void expect_within_relative(double actual, double expected, const std::string& what) {
  if (expected == 0.0) {
    EXPECT_EQ(actual, 0.0) << what;
    return;
  }
  EXPECT_LE(std::abs(actual - expected) / std::abs(expected), kTolerance)
      << what << ": got " << actual << ", exact " << expected;
}

DurationSketch sketch_of(const std::vector<double>& values) {
  DurationSketch sketch;
  for (double v : values) sketch.add(v);
  return sketch;
}

void expect_accurate(const std::vector<double>& values, const std::string& name) {
  const DurationSketch sketch = sketch_of(values);
  ASSERT_EQ(sketch.count(), values.size()) << name;
  EXPECT_EQ(sketch.min(), *std::min_element(values.begin(), values.end())) << name;
  EXPECT_EQ(sketch.max(), *std::max_element(values.begin(), values.end())) << name;
  for (double q : kQuantiles) {
    expect_within_relative(sketch.quantile(q), exact_quantile(values, q),
                           name + " q=" + std::to_string(q));
  }
  EXPECT_EQ(sketch.quantile(0.0), sketch.min()) << name;
  EXPECT_EQ(sketch.quantile(1.0), sketch.max()) << name;
}

TEST(DurationSketch, EmptySketch) {
  DurationSketch sketch;
  EXPECT_TRUE(sketch.empty());
  EXPECT_EQ(sketch.count(), 0u);
  EXPECT_EQ(sketch.quantile(0.5), 0.0);
  EXPECT_EQ(sketch.quantile(0.99), 0.0);
}

TEST(DurationSketch, UniformDistribution) {
  std::mt19937_64 random(1);
  std::uniform_real_distribution<double> uniform(0.001, 30.0);
  std::vector<double> values(50'000);
  for (auto& v : values) v = uniform(random);
  expect_accurate(values, "uniform");
}

TEST(DurationSketch, LognormalDistribution) {
  std::mt19937_64 random(2);
  std::lognormal_distribution<double> lognormal(0.0, 2.0);  // spans many orders of magnitude
  std::vector<double> values(50'000);
  for (auto& v : values) v = lognormal(random);
  expect_accurate(values, "lognormal");
}

TEST(DurationSketch, ManySmallAndLargeValues) {
  std::mt19937_64 random(3);
  std::lognormal_distribution<double> small(std::log(1e-6), 1.0);
  std::lognormal_distribution<double> large(std::log(3600.0), 0.5);
  std::vector<double> values;
  for (int i = 0; i < 20'000; ++i) values.push_back(i % 10 == 0 ? large(random) : small(random));
  expect_accurate(values, "bimodal");
}

TEST(DurationSketch, ConstantDistribution) {
  const std::vector<double> values(1000, 2.5);
  const DurationSketch sketch = sketch_of(values);
  for (double q : kQuantiles) EXPECT_EQ(sketch.quantile(q), 2.5) << q;
  EXPECT_EQ(sketch.min(), 2.5);
  EXPECT_EQ(sketch.max(), 2.5);
}

TEST(DurationSketch, OneValue) {
  for (double value : {1e-6, 0.123, 1.0, 42.0, 86400.0}) {
    expect_accurate({value}, "one value " + std::to_string(value));
    // With one value, min and max clamp every quantile to it exactly.
    const DurationSketch sketch = sketch_of({value});
    for (double q : kQuantiles) EXPECT_EQ(sketch.quantile(q), value);
  }
}

TEST(DurationSketch, TwoValues) {
  expect_accurate({1.0, 100.0}, "two values");
  expect_accurate({100.0, 1.0}, "two values reversed");
  expect_accurate({0.5, 0.5000001}, "two close values");
}

TEST(DurationSketch, AddWithCount) {
  DurationSketch counted;
  counted.add(1.0, 90);
  counted.add(10.0, 10);
  std::vector<double> values(90, 1.0);
  values.insert(values.end(), 10, 10.0);
  EXPECT_EQ(counted.count(), 100u);
  for (double q : kQuantiles) {
    expect_within_relative(counted.quantile(q), exact_quantile(values, q), "counted");
  }
  counted.add(5.0, 0);  // a zero count adds nothing
  EXPECT_EQ(counted.count(), 100u);
}

TEST(DurationSketch, MinAndMaxAreExact) {
  std::mt19937_64 random(4);
  std::uniform_real_distribution<double> uniform(0.0123456789, 98.7654321);
  DurationSketch sketch;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (int i = 0; i < 10'000; ++i) {
    const double v = uniform(random);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sketch.add(v);
  }
  EXPECT_EQ(sketch.min(), lo);
  EXPECT_EQ(sketch.max(), hi);
  // Quantiles stay within [min, max].
  for (double q = 0.0; q <= 1.0; q += 0.01) {
    EXPECT_GE(sketch.quantile(q), lo);
    EXPECT_LE(sketch.quantile(q), hi);
  }
}

TEST(DurationSketch, MergeEqualsAddingEverything) {
  std::mt19937_64 random(5);
  std::lognormal_distribution<double> lognormal(0.5, 1.5);
  DurationSketch all;
  std::vector<DurationSketch> parts(7);
  std::vector<double> values;
  for (int i = 0; i < 30'000; ++i) {
    const double v = i % 1000 == 0 ? 0.0 : lognormal(random);
    values.push_back(v);
    all.add(v);
    parts[static_cast<std::size_t>(i) % parts.size()].add(v);
  }
  DurationSketch merged;
  merged.merge(DurationSketch{});  // merging an empty sketch changes nothing
  for (const auto& part : parts) merged.merge(part);
  merged.merge(DurationSketch{});
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.encode(), all.encode());
  for (double q = 0.0; q <= 1.0; q += 0.005) EXPECT_EQ(merged.quantile(q), all.quantile(q)) << q;
  for (double q : kQuantiles) {
    expect_within_relative(merged.quantile(q), exact_quantile(values, q), "merged");
  }

  // Merging into an empty sketch copies it.
  DurationSketch copy;
  copy.merge(all);
  EXPECT_EQ(copy.encode(), all.encode());
}

TEST(DurationSketch, EncodeDecodeRoundTrip) {
  std::mt19937_64 random(6);
  std::lognormal_distribution<double> lognormal(0.0, 2.0);
  DurationSketch sketch;
  for (int i = 0; i < 5000; ++i) sketch.add(lognormal(random));
  sketch.add(0.0, 3);
  const std::string blob = sketch.encode();
  const DurationSketch back = DurationSketch::decode(blob);
  EXPECT_EQ(back.count(), sketch.count());
  EXPECT_EQ(back.min(), sketch.min());
  EXPECT_EQ(back.max(), sketch.max());
  EXPECT_EQ(back.encode(), blob);
  for (double q = 0.0; q <= 1.0; q += 0.01) EXPECT_EQ(back.quantile(q), sketch.quantile(q)) << q;

  // An empty sketch round-trips too, and an empty blob is an empty sketch.
  const DurationSketch empty = DurationSketch::decode(DurationSketch{}.encode());
  EXPECT_TRUE(empty.empty());
  EXPECT_TRUE(DurationSketch::decode("").empty());

  // A decoded sketch keeps accumulating correctly.
  DurationSketch more = DurationSketch::decode(blob);
  more.add(1e6);
  EXPECT_EQ(more.count(), sketch.count() + 1);
  EXPECT_EQ(more.max(), 1e6);
}

TEST(DurationSketch, DecodeOfTruncatedBlobThrows) {
  DurationSketch sketch;
  for (double v : {0.1, 0.2, 5.0, 70.0}) sketch.add(v);
  const std::string blob = sketch.encode();
  for (std::size_t length = 1; length < blob.size(); ++length) {
    EXPECT_THROW((void)DurationSketch::decode(std::string_view(blob).substr(0, length)),
                 std::invalid_argument)
        << "length " << length << " of " << blob.size();
  }
}

TEST(DurationSketch, DecodeOfGarbageThrows) {
  EXPECT_THROW((void)DurationSketch::decode("garbage"), std::invalid_argument);
  EXPECT_THROW((void)DurationSketch::decode(std::string(64, '\xff')), std::invalid_argument);
  EXPECT_THROW((void)DurationSketch::decode(std::string(1, '\x02')), std::invalid_argument);

  const DurationSketch sample = [] {
    DurationSketch s;
    for (double v : {0.5, 1.5, 2.5}) s.add(v);
    return s;
  }();
  const std::string blob = sample.encode();
  // Trailing bytes after a well-formed sketch.
  EXPECT_THROW((void)DurationSketch::decode(blob + "x"), std::invalid_argument);
  // A count that disagrees with the buckets.
  std::string bad_count = blob;
  const std::uint64_t wrong = 1000;
  std::memcpy(bad_count.data() + 1, &wrong, sizeof wrong);
  EXPECT_THROW((void)DurationSketch::decode(bad_count), std::invalid_argument);
  // A bucket count claiming more buckets than the blob holds.
  std::string bad_buckets = blob;
  const std::uint32_t many = 0xFFFFFFFFu;
  std::memcpy(bad_buckets.data() + 1 + 8 + 8 + 8 + 8, &many, sizeof many);
  EXPECT_THROW((void)DurationSketch::decode(bad_buckets), std::invalid_argument);

  // Random blobs with the right version byte never crash, and never decode to a sketch
  // whose quantiles fall outside its own [min, max].
  std::mt19937 random(8);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(1, 80);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string garbage(1, '\x01');
    const int n = length(random);
    for (int k = 0; k < n; ++k) garbage.push_back(static_cast<char>(byte(random)));
    try {
      const DurationSketch s = DurationSketch::decode(garbage);
      const double p = s.quantile(0.5);
      EXPECT_TRUE(s.empty() || (p >= s.min() && p <= s.max()));
    } catch (const std::invalid_argument&) {
      ++rejected;
    }
  }
  EXPECT_EQ(rejected, 2000);
}

TEST(DurationSketch, ZeroDurations) {
  DurationSketch sketch;
  for (int i = 0; i < 100; ++i) sketch.add(0.0);
  EXPECT_EQ(sketch.count(), 100u);
  EXPECT_EQ(sketch.min(), 0.0);
  EXPECT_EQ(sketch.max(), 0.0);
  for (double q : kQuantiles) EXPECT_EQ(sketch.quantile(q), 0.0);

  // Mixed with positive durations: the zeros sort first.
  std::vector<double> values(60, 0.0);
  for (int i = 1; i <= 40; ++i) values.push_back(i * 0.25);
  expect_accurate(values, "zeros and positives");
  const DurationSketch mixed = sketch_of(values);
  EXPECT_EQ(mixed.quantile(0.5), 0.0);
  EXPECT_GT(mixed.quantile(0.95), 0.0);
}

TEST(DurationSketch, NegativeDurationsCountAsZero) {
  DurationSketch sketch;
  sketch.add(-1.0);
  sketch.add(-0.001);
  sketch.add(2.0);
  EXPECT_EQ(sketch.count(), 3u);
  EXPECT_EQ(sketch.min(), 0.0);
  EXPECT_EQ(sketch.max(), 2.0);
  // As {0, 0, 2}: ranks 0 and 1 are zero.
  expect_accurate({0.0, 0.0, 2.0}, "clamped negatives");
  EXPECT_EQ(sketch.quantile(0.5), 0.0);
  EXPECT_EQ(sketch.quantile(0.99), 0.0);
  EXPECT_EQ(sketch.quantile(1.0), 2.0);
  for (double q = 0.0; q <= 1.0; q += 0.05) EXPECT_GE(sketch.quantile(q), 0.0);

  DurationSketch only_negative;
  only_negative.add(-5.0, 4);
  EXPECT_EQ(only_negative.count(), 4u);
  EXPECT_EQ(only_negative.quantile(0.5), 0.0);
  EXPECT_EQ(only_negative.max(), 0.0);
}

TEST(DurationSketch, NonFiniteDurationsAreIgnored) {
  DurationSketch sketch;
  sketch.add(std::numeric_limits<double>::quiet_NaN());
  sketch.add(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(sketch.empty());
  sketch.add(1.0);
  EXPECT_EQ(sketch.count(), 1u);
  EXPECT_EQ(sketch.max(), 1.0);
}

TEST(DurationSketch, QuantileArgumentIsClamped) {
  const DurationSketch sketch = sketch_of({1.0, 2.0, 3.0});
  EXPECT_EQ(sketch.quantile(-1.0), 1.0);
  EXPECT_EQ(sketch.quantile(2.0), 3.0);
}

}  // namespace
}  // namespace kagura::storage
