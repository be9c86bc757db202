#pragma once

// The Prometheus text exposition format (version 0.0.4), written family by family: a # HELP and
// a # TYPE line, then the family's samples. Everything a metric takes from a store (agent, model
// and tool names) goes through escape_label_value(), so no name can break the format.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kagura::metrics {

// What an HTTP server answers /metrics with.
inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Label names in the order they are written, with their values.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Backslash, double quote and line feed escaped as \\, \" and \n (the format's only escapes in
// label values); everything else, UTF-8 included, is kept.
std::string escape_label_value(std::string_view value);
// HELP text escapes backslash and line feed only.
std::string escape_help(std::string_view text);
// The shortest text that reads back as the same double; +Inf, -Inf and NaN as Prometheus
// spells them.
std::string format_sample_value(double value);
// Whole nano-units (nano-dollars, say) as an exact decimal: 1234500000 -> "1.2345".
std::string format_nanos(std::int64_t nanos);

class TextExposition {
 public:
  // Starts a family; `type` is counter, gauge, histogram, summary or untyped. Each name may
  // start only one family per exposition.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line; `name` is the family's name or, for histograms, name_bucket/_sum/_count.
  void sample(std::string_view name, const Labels& labels, std::string_view value);
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, const Labels& labels, std::int64_t value);
  void sample(std::string_view name, const Labels& labels, std::uint64_t value);

  const std::string& text() const noexcept { return text_; }
  std::string take() noexcept { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace kagura::metrics
