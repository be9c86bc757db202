#pragma once

// Model prices, and the cost of one LLM call computed from them.
//
// Prices are quoted by providers in US dollars per million tokens. They are held here as whole
// pico-dollars per token, and costs as whole nano-dollars, so that cost arithmetic is exact
// integer arithmetic and totals over millions of calls stay right to the cent.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kagura::pricing {

using PicoUsd = std::int64_t;
using NanoUsd = std::int64_t;

struct TokenUsage {
  std::int64_t prompt_tokens = 0;       // all prompt tokens, cached ones included
  std::int64_t completion_tokens = 0;   // all completion tokens, reasoning ones included
  std::int64_t cached_tokens = 0;       // of prompt_tokens, read from the provider's cache
  std::int64_t cache_write_tokens = 0;  // of prompt_tokens, written to the provider's cache
};

struct ModelPrice {
  std::string provider;                  // "openai", "anthropic", ... ; informational
  PicoUsd prompt = 0;                    // per prompt (input) token
  PicoUsd completion = 0;                // per completion (output) token, reasoning included
  std::optional<PicoUsd> cached_prompt;  // per prompt token read from cache; unset: prompt price
  std::optional<PicoUsd> cache_write;    // per prompt token written to cache; unset: prompt price

  // Converts a price quoted in US dollars per million tokens (e.g. 0.15) exactly.
  static PicoUsd per_million(double usd_per_million_tokens);

  // The cost of one call at this price, rounded half-up to whole nano-dollars.
  NanoUsd cost_of(const TokenUsage& usage) const noexcept;
};

struct CostResult {
  NanoUsd cost_nanos = 0;
  bool priced = false;        // false: no price known for the model; cost_nanos is 0
  std::string matched_model;  // the price-table entry used, empty when unpriced
};

// Thrown for a malformed price file; what() names the file, the entry and the fix.
class PriceFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PriceTable {
 public:
  // The table shipped with Kagura (data/pricing.json, compiled in).
  static PriceTable builtin();

  // Parses a price file (format: data/pricing.json). `source` names it in error messages.
  static PriceTable from_json(std::string_view json_text, std::string_view source);
  static PriceTable from_file(const std::filesystem::path& path);

  // Adds or replaces one model's price.
  void set_price(std::string_view model, ModelPrice price);
  // Adds or replaces every entry of `overrides`.
  void merge(const PriceTable& overrides);

  // Finds the price for a model name as callers and providers spell it: exact name first, then
  // without a provider prefix ("openai/gpt-4o-mini", "openrouter/openai/gpt-4o"), then without a
  // date or "-latest" suffix ("gpt-4o-mini-2024-07-18", "claude-sonnet-4-5-20250929").
  // Matching is case-insensitive. Returns nullptr when no entry matches.
  const ModelPrice* find(std::string_view model, std::string* matched_name = nullptr) const;

  CostResult cost(std::string_view model, const TokenUsage& usage) const;

  std::size_t size() const noexcept { return prices_.size(); }
  std::vector<std::string> model_names() const;

 private:
  std::unordered_map<std::string, ModelPrice> prices_;  // keys lower-case
};

// The shipped table with the user's overrides from `<kagura_home>/pricing.json` merged in, when
// that file exists. A malformed override file throws PriceFileError.
PriceTable load_price_table(const std::filesystem::path& kagura_home);

}  // namespace kagura::pricing
