#include "kagura/storage/duration_sketch.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace kagura::storage {
namespace {

constexpr double kGamma =
    (1.0 + DurationSketch::kRelativeAccuracy) / (1.0 - DurationSketch::kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);
constexpr double kMinBucketed = 1e-9;

std::int32_t bucket_of(double seconds) {
  return static_cast<std::int32_t>(std::ceil(std::log(seconds) / kLogGamma));
}

double representative(std::int32_t index) {
  return 2.0 * std::pow(kGamma, index) / (kGamma + 1.0);
}

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
T take(std::string_view& in) {
  if (in.size() < sizeof(T)) throw std::invalid_argument("truncated duration sketch");
  T value;
  std::memcpy(&value, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return value;
}

constexpr std::uint8_t kFormatVersion = 1;

}  // namespace

void DurationSketch::add(double seconds, std::uint64_t count) {
  if (count == 0 || !std::isfinite(seconds)) return;
  seconds = std::max(seconds, 0.0);
  if (count_ == 0) {
    min_ = max_ = seconds;
  } else {
    min_ = std::min(min_, seconds);
    max_ = std::max(max_, seconds);
  }
  count_ += count;
  if (seconds < kMinBucketed) {
    zero_count_ += count;
  } else {
    add_to_bucket(bucket_of(seconds), count);
  }
}

void DurationSketch::add_to_bucket(std::int32_t index, std::uint64_t count) {
  if (buckets_.empty()) {
    first_bucket_ = index;
    buckets_.assign(1, 0);
  } else if (index < first_bucket_) {
    buckets_.insert(buckets_.begin(), static_cast<std::size_t>(first_bucket_ - index), 0);
    first_bucket_ = index;
  } else if (static_cast<std::size_t>(index - first_bucket_) >= buckets_.size()) {
    buckets_.resize(static_cast<std::size_t>(index - first_bucket_) + 1, 0);
  }
  buckets_[static_cast<std::size_t>(index - first_bucket_)] += count;
}

void DurationSketch::merge(const DurationSketch& other) {
  if (other.count_ == 0) return;
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  if (other.buckets_.empty()) return;
  // Grow once to cover both ranges, then add element-wise.
  add_to_bucket(other.first_bucket_, 0);
  add_to_bucket(other.first_bucket_ + static_cast<std::int32_t>(other.buckets_.size()) - 1, 0);
  const auto shift = static_cast<std::size_t>(other.first_bucket_ - first_bucket_);
  for (std::size_t i = 0; i < other.buckets_.size(); ++i) buckets_[shift + i] += other.buckets_[i];
}

double DurationSketch::quantile(double q) const {
  if (count_ == 0) return 0.0;
  q = std::clamp(q, 0.0, 1.0);
  if (q == 0.0) return min_;
  if (q == 1.0) return max_;
  const double rank = q * static_cast<double>(count_ - 1);
  double seen = static_cast<double>(zero_count_);
  if (seen > rank) return min_;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += static_cast<double>(buckets_[i]);
    if (seen > rank) {
      return std::clamp(representative(first_bucket_ + static_cast<std::int32_t>(i)), min_, max_);
    }
  }
  return max_;
}

std::string DurationSketch::encode() const {
  std::string out;
  const auto used = static_cast<std::uint32_t>(
      std::count_if(buckets_.begin(), buckets_.end(), [](std::uint64_t n) { return n != 0; }));
  out.reserve(1 + 8 * 4 + 4 + used * 12);
  put<std::uint8_t>(out, kFormatVersion);
  put<std::uint64_t>(out, count_);
  put<std::uint64_t>(out, zero_count_);
  put<double>(out, min_);
  put<double>(out, max_);
  put<std::uint32_t>(out, used);
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] == 0) continue;
    put<std::int32_t>(out, first_bucket_ + static_cast<std::int32_t>(i));
    put<std::uint64_t>(out, buckets_[i]);
  }
  return out;
}

DurationSketch DurationSketch::decode(std::string_view blob) {
  DurationSketch sketch;
  if (blob.empty()) return sketch;
  if (take<std::uint8_t>(blob) != kFormatVersion) {
    throw std::invalid_argument("duration sketch of an unknown format");
  }
  sketch.count_ = take<std::uint64_t>(blob);
  sketch.zero_count_ = take<std::uint64_t>(blob);
  sketch.min_ = take<double>(blob);
  sketch.max_ = take<double>(blob);
  const auto buckets = take<std::uint32_t>(blob);
  std::uint64_t bucketed = 0;
  for (std::uint32_t i = 0; i < buckets; ++i) {
    const auto index = take<std::int32_t>(blob);
    const auto n = take<std::uint64_t>(blob);
    if (index < -100000 || index > 100000) throw std::invalid_argument("corrupt duration sketch");
    if (n > std::numeric_limits<std::uint64_t>::max() - bucketed) {
      throw std::invalid_argument("corrupt duration sketch");
    }
    bucketed += n;
    sketch.add_to_bucket(index, n);
  }
  // Leftover bytes, or counts that do not add up, mean a damaged blob: quantile() trusts that
  // count_ is the zero count plus the buckets, and min_ <= max_.
  if (!blob.empty() || sketch.zero_count_ > sketch.count_ ||
      sketch.count_ - sketch.zero_count_ != bucketed || !(sketch.min_ <= sketch.max_)) {
    throw std::invalid_argument("corrupt duration sketch");
  }
  return sketch;
}

}  // namespace kagura::storage
