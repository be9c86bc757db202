#include "kagura/storage/duration_sketch.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
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
    buckets_[bucket_of(seconds)] += count;
  }
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
  for (const auto& [index, n] : other.buckets_) buckets_[index] += n;
}

double DurationSketch::quantile(double q) const {
  if (count_ == 0) return 0.0;
  q = std::clamp(q, 0.0, 1.0);
  if (q == 0.0) return min_;
  if (q == 1.0) return max_;
  const double rank = q * static_cast<double>(count_ - 1);
  double seen = static_cast<double>(zero_count_);
  if (seen > rank) return min_;
  for (const auto& [index, n] : buckets_) {
    seen += static_cast<double>(n);
    if (seen > rank) return std::clamp(representative(index), min_, max_);
  }
  return max_;
}

std::string DurationSketch::encode() const {
  std::string out;
  out.reserve(1 + 8 * 3 + 8 + buckets_.size() * 12);
  put<std::uint8_t>(out, kFormatVersion);
  put<std::uint64_t>(out, count_);
  put<std::uint64_t>(out, zero_count_);
  put<double>(out, min_);
  put<double>(out, max_);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(buckets_.size()));
  for (const auto& [index, n] : buckets_) {
    put<std::int32_t>(out, index);
    put<std::uint64_t>(out, n);
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
  for (std::uint32_t i = 0; i < buckets; ++i) {
    const auto index = take<std::int32_t>(blob);
    sketch.buckets_.emplace_hint(sketch.buckets_.end(), index, take<std::uint64_t>(blob));
  }
  return sketch;
}

}  // namespace kagura::storage
