#pragma once

#include <string_view>

namespace kagura::pricing::detail {

// The text of data/pricing.json, compiled in so that a binary prices calls with zero
// configuration. Defined in the file CMake generates from builtin_prices.cpp.in.
std::string_view builtin_pricing_json() noexcept;

}  // namespace kagura::pricing::detail
