#pragma once

// What the fuzz targets share: a failed invariant aborts with a message (libFuzzer then saves
// the input as a crash), and an input is cut into pieces at points derived from its own bytes,
// so that the seed corpora stay plain examples of the format while every run still tries
// other cuts.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace kagura::fuzz {

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
  std::abort();
}

#define KAGURA_FUZZ_CHECK(condition) \
  ((condition) ? void(0) : ::kagura::fuzz::invariant_failed(#condition, __FILE__, __LINE__))

// Pieces of `data` whose lengths come from an xorshift generator seeded with its bytes: many
// short pieces (single bytes, which split CR LF pairs and UTF-8 sequences) and some long ones.
inline std::vector<std::string_view> pieces_of(std::string_view data) {
  std::uint64_t state = 0x9E3779B97F4A7C15ull ^ data.size();
  for (const unsigned char c : data) state = (state ^ c) * 0x100000001B3ull;
  std::vector<std::string_view> pieces;
  while (!data.empty()) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const std::size_t length = (state & 3) == 0 ? 1 + (state >> 8) % 64 : 1 + (state >> 8) % 4;
    pieces.push_back(data.substr(0, length));
    data.remove_prefix(std::min(length, data.size()));
  }
  return pieces;
}

}  // namespace kagura::fuzz
