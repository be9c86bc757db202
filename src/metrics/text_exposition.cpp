#include "kagura/metrics/text_exposition.hpp"

#include <fmt/format.h>

#include <cmath>

namespace kagura::metrics {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string format_nanos(std::int64_t nanos) {
  // Through unsigned, so that the most negative value has a magnitude too.
  const bool negative = nanos < 0;
  const std::uint64_t magnitude =
      negative ? ~static_cast<std::uint64_t>(nanos) + 1 : static_cast<std::uint64_t>(nanos);
  std::string text = fmt::format("{}{}", negative ? "-" : "", magnitude / 1'000'000'000);
  if (const std::uint64_t fraction = magnitude % 1'000'000'000; fraction != 0) {
    std::string digits = fmt::format("{:09}", fraction);
    digits.erase(digits.find_last_not_of('0') + 1);
    text += '.';
    text += digits;
  }
  return text;
}

void TextExposition::family(std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(text_), "# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help),
                 name, type);
}

void TextExposition::sample(std::string_view name, const Labels& labels, std::string_view value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    bool first = true;
    for (const auto& [label, label_value] : labels) {
      if (!first) text_ += ',';
      first = false;
      text_ += label;
      text_ += "=\"";
      text_ += escape_label_value(label_value);
      text_ += '"';
    }
    text_ += '}';
  }
  text_ += ' ';
  text_ += value;
  text_ += '\n';
}

void TextExposition::sample(std::string_view name, const Labels& labels, double value) {
  sample(name, labels, std::string_view(format_sample_value(value)));
}

void TextExposition::sample(std::string_view name, const Labels& labels, std::int64_t value) {
  sample(name, labels, std::string_view(fmt::format("{}", value)));
}

void TextExposition::sample(std::string_view name, const Labels& labels, std::uint64_t value) {
  sample(name, labels, std::string_view(fmt::format("{}", value)));
}

}  // namespace kagura::metrics
