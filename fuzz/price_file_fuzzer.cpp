// A price file (~/.kagura/pricing.json, format of data/pricing.json), which users edit by hand.
// Invariants: a table or a PriceFileError, never another exception; every model the table
// holds is found by its own name; and costs are never negative, even for absurd token counts.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "fuzz_support.hpp"
#include "kagura/pricing/price_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace kagura::pricing;
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  PriceTable table;
  try {
    table = PriceTable::from_json(text, "fuzz.json");
  } catch (const PriceFileError& error) {
    KAGURA_FUZZ_CHECK(std::string_view(error.what()).starts_with("pricing file fuzz.json: "));
    return 0;
  }
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  for (const auto& model : table.model_names()) {
    const ModelPrice* price = table.find(model);
    KAGURA_FUZZ_CHECK(price != nullptr);
    KAGURA_FUZZ_CHECK(price->prompt >= 0 && price->completion >= 0);
    for (const TokenUsage& usage :
         {TokenUsage{1000, 500, 200, 100}, TokenUsage{kMax, kMax, kMax, kMax},
          TokenUsage{-1, kMax, kMax, -kMax}}) {
      const CostResult cost = table.cost(model, usage);
      KAGURA_FUZZ_CHECK(cost.priced && cost.cost_nanos >= 0);
    }
  }
  // Merged over the built-in table, as load_price_table() does with the user's file.
  PriceTable merged = PriceTable::builtin();
  merged.merge(table);
  KAGURA_FUZZ_CHECK(merged.size() >= table.size());
  return 0;
}
