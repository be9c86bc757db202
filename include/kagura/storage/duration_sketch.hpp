#pragma once

// Percentiles of execution durations without keeping every duration: a log-bucketed histogram
// with 1% relative accuracy (the DDSketch construction). Stores keep one sketch per rollup cell
// and merge the cells a query covers, so p50/p95/p99 over a million executions cost as much as
// a few thousand small merges instead of a sort of every row.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kagura::storage {

class DurationSketch {
 public:
  static constexpr double kRelativeAccuracy = 0.01;

  void add(double seconds, std::uint64_t count = 1);
  void merge(const DurationSketch& other);

  std::uint64_t count() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  double min() const noexcept { return min_; }
  double max() const noexcept { return max_; }
  // q in [0, 1]; the value's relative error is at most kRelativeAccuracy, and the result lies
  // within [min(), max()]. 0 for an empty sketch.
  double quantile(double q) const;

  // Compact binary form for storage; decode() throws std::invalid_argument on a bad blob.
  std::string encode() const;
  static DurationSketch decode(std::string_view blob);

 private:
  void add_to_bucket(std::int32_t index, std::uint64_t count);

  // Dense counts: buckets_[i] counts bucket first_bucket_ + i. Durations of one workload span a
  // few hundred buckets, and a dense array makes add and merge a few instructions each.
  std::vector<std::uint64_t> buckets_;
  std::int32_t first_bucket_ = 0;
  std::uint64_t zero_count_ = 0;  // durations too small to bucket (below 1 ns)
  std::uint64_t count_ = 0;
  double min_ = 0.0;
  double max_ = 0.0;
};

}  // namespace kagura::storage
