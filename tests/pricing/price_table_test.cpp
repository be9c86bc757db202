#include "kagura/pricing/price_table.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "support/test_support.hpp"

namespace kagura::pricing {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

constexpr std::int64_t kMillion = 1'000'000;

TokenUsage usage(std::int64_t prompt, std::int64_t completion, std::int64_t cached = 0,
                 std::int64_t cache_write = 0) {
  TokenUsage result;
  result.prompt_tokens = prompt;
  result.completion_tokens = completion;
  result.cached_tokens = cached;
  result.cache_write_tokens = cache_write;
  return result;
}

std::string matched(const PriceTable& table, std::string_view model) {
  std::string name = "<unset>";
  return table.find(model, &name) != nullptr ? name : "<none>";
}

TEST(ModelPriceTest, PerMillionConvertsExactlyToPicosPerToken) {
  EXPECT_EQ(ModelPrice::per_million(0.15), 150'000);
  EXPECT_EQ(ModelPrice::per_million(0.075), 75'000);
  EXPECT_EQ(ModelPrice::per_million(0.005), 5'000);
  EXPECT_EQ(ModelPrice::per_million(0.275), 275'000);
  EXPECT_EQ(ModelPrice::per_million(2.50), 2'500'000);
  EXPECT_EQ(ModelPrice::per_million(18.75), 18'750'000);
  EXPECT_EQ(ModelPrice::per_million(1.001), 1'001'000);  // 1.001 * 1e6 is 1000999.99...
  EXPECT_EQ(ModelPrice::per_million(0.0), 0);
}

TEST(ModelPriceTest, PerMillionRejectsNegativeNonFiniteAndHugePrices) {
  EXPECT_THROW(ModelPrice::per_million(-0.01), std::invalid_argument);
  EXPECT_THROW(ModelPrice::per_million(std::nan("")), std::invalid_argument);
  EXPECT_THROW(ModelPrice::per_million(std::numeric_limits<double>::infinity()),
               std::invalid_argument);
  EXPECT_THROW(ModelPrice::per_million(1e14), std::out_of_range);
}

TEST(BuiltinTableTest, HasTheRfcPricesExactly) {
  const PriceTable table = PriceTable::builtin();
  struct Expected {
    const char* model;
    PicoUsd prompt;
    PicoUsd completion;
  };
  for (const Expected& e :
       {Expected{"gpt-4o-mini", 150'000, 600'000}, Expected{"gpt-4o", 2'500'000, 10'000'000},
        Expected{"gpt-4-turbo", 10'000'000, 30'000'000},
        Expected{"claude-3-5-sonnet-20241022", 3'000'000, 15'000'000},
        Expected{"claude-3-opus-20240229", 15'000'000, 75'000'000},
        Expected{"gemini-1.5-pro", 1'250'000, 5'000'000},
        Expected{"gemini-1.5-flash", 75'000, 300'000}}) {
    SCOPED_TRACE(e.model);
    const ModelPrice* price = table.find(e.model);
    ASSERT_NE(price, nullptr);
    EXPECT_EQ(price->prompt, e.prompt);
    EXPECT_EQ(price->completion, e.completion);
  }
  const ModelPrice* mini = table.find("gpt-4o-mini");
  ASSERT_NE(mini, nullptr);
  EXPECT_EQ(mini->provider, "openai");
  EXPECT_EQ(mini->cached_prompt, 75'000);
  EXPECT_FALSE(mini->cache_write.has_value());

  const ModelPrice* sonnet = table.find("claude-3-5-sonnet-20241022");
  ASSERT_NE(sonnet, nullptr);
  EXPECT_EQ(sonnet->provider, "anthropic");
  EXPECT_EQ(sonnet->cached_prompt, 300'000);
  EXPECT_EQ(sonnet->cache_write, 3'750'000);
}

// Guards the shipped data file against slips such as swapped prompt/completion columns or a
// cache price entered in the wrong unit.
TEST(BuiltinTableTest, EveryEntryIsPlausible) {
  const PriceTable table = PriceTable::builtin();
  EXPECT_GE(table.size(), 30u);
  for (const std::string& name : table.model_names()) {
    SCOPED_TRACE(name);
    std::string key;
    const ModelPrice* price = table.find(name, &key);
    ASSERT_NE(price, nullptr);
    EXPECT_EQ(key, name);
    EXPECT_FALSE(price->provider.empty());
    EXPECT_GT(price->prompt, 0);
    EXPECT_GE(price->completion, price->prompt);
    if (price->cached_prompt) {
      EXPECT_LT(*price->cached_prompt, price->prompt);
    }
    if (price->cache_write) {
      EXPECT_GT(*price->cache_write, price->prompt);
    }
  }
}

TEST(BuiltinTableTest, ReturnsIndependentCopies) {
  PriceTable first = PriceTable::builtin();
  ModelPrice free_model;
  free_model.prompt = 0;
  first.set_price("gpt-4o-mini", free_model);
  const PriceTable second = PriceTable::builtin();
  ASSERT_NE(second.find("gpt-4o-mini"), nullptr);
  EXPECT_EQ(second.find("gpt-4o-mini")->prompt, 150'000);
}

TEST(CostTest, MillionPromptAndCompletionTokensOfGpt4oMiniCostSeventyFiveCents) {
  const CostResult cost = PriceTable::builtin().cost("gpt-4o-mini", usage(kMillion, kMillion));
  EXPECT_TRUE(cost.priced);
  EXPECT_EQ(cost.matched_model, "gpt-4o-mini");
  EXPECT_EQ(cost.cost_nanos, 750'000'000);  // $0.15 + $0.60
}

TEST(CostTest, CachedTokensArePricedAtTheCachedPrice) {
  // 600k uncached at $0.15/M = $0.09, 400k cached at $0.075/M = $0.03.
  const CostResult cost = PriceTable::builtin().cost("gpt-4o-mini", usage(kMillion, 0, 400'000));
  EXPECT_EQ(cost.cost_nanos, 120'000'000);
}

TEST(CostTest, AnthropicCacheReadsAndWritesArePricedSeparately) {
  // claude-3-5-sonnet: $3 input, $15 output, $0.30 cache read, $3.75 cache write per 1M tokens.
  // 1,000 uncached: 3,000,000,000 picos; 6,000 read: 1,800,000,000; 3,000 written:
  // 11,250,000,000; 500 completion: 7,500,000,000. Total 23,550,000,000 picos.
  const CostResult cost =
      PriceTable::builtin().cost("claude-3-5-sonnet-20241022", usage(10'000, 500, 6'000, 3'000));
  EXPECT_TRUE(cost.priced);
  EXPECT_EQ(cost.cost_nanos, 23'550'000);
}

TEST(CostTest, ModelsWithoutCachePricesChargeThePromptPrice) {
  // gpt-4-turbo has no cached price: the 500k cached tokens cost the full $10/M.
  const CostResult cost = PriceTable::builtin().cost("gpt-4-turbo", usage(kMillion, 0, 500'000));
  EXPECT_EQ(cost.cost_nanos, 10'000'000'000);
}

TEST(CostTest, RoundsHalfUpToWholeNanos) {
  PriceTable table;
  const auto cost_of_one_token = [&](PicoUsd picos) {
    ModelPrice price;
    price.prompt = picos;
    table.set_price("m", price);
    return table.cost("m", usage(1, 0)).cost_nanos;
  };
  EXPECT_EQ(cost_of_one_token(499), 0);
  EXPECT_EQ(cost_of_one_token(500), 1);
  EXPECT_EQ(cost_of_one_token(1'499), 1);
  EXPECT_EQ(cost_of_one_token(1'500), 2);
}

TEST(CostTest, SummingAMillionOneTokenCallsDoesNotDrift) {
  const PriceTable table = PriceTable::builtin();
  NanoUsd total = 0;
  for (int call = 0; call < 1'000'000; ++call) {
    total += table.cost("gpt-4o-mini", usage(1, 0)).cost_nanos;
  }
  // A million tokens at $0.15 per million: exactly $0.15.
  EXPECT_EQ(total, 150'000'000);
}

TEST(CostTest, InconsistentCountsNeverGoNegative) {
  const PriceTable table = PriceTable::builtin();
  // More cached than prompt tokens: the uncached part is clamped to zero, the 300 cached tokens
  // are still charged at $0.075/M.
  EXPECT_EQ(table.cost("gpt-4o-mini", usage(100, 0, 300)).cost_nanos, 22'500);
  EXPECT_EQ(table.cost("gpt-4o-mini", usage(-5, -5, -5, -5)).cost_nanos, 0);
}

TEST(CostTest, HugeCountsAreExactOrSaturateInsteadOfWrapping) {
  const PriceTable table = PriceTable::builtin();
  // 1e12 completion tokens of o1 at $60/M = 6e19 picos, beyond int64, yet $60,000,000 exactly.
  EXPECT_EQ(table.cost("o1", usage(0, 1'000'000 * kMillion)).cost_nanos, 60'000'000'000'000'000);
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const CostResult absurd = table.cost("o1", usage(kMax, kMax, 0, 0));
  EXPECT_TRUE(absurd.priced);
  EXPECT_EQ(absurd.cost_nanos, std::numeric_limits<NanoUsd>::max());
}

TEST(CostTest, UnknownModelIsUnpricedAndFree) {
  const PriceTable table = PriceTable::builtin();
  for (std::string_view model : {"llama-3-70b-local", "", "openai/", "gpt-4o-mini-foo"}) {
    SCOPED_TRACE(model);
    const CostResult cost = table.cost(model, usage(kMillion, kMillion));
    EXPECT_FALSE(cost.priced);
    EXPECT_EQ(cost.cost_nanos, 0);
    EXPECT_TRUE(cost.matched_model.empty());
  }
}

TEST(FindTest, StripsProviderPrefixes) {
  const PriceTable table = PriceTable::builtin();
  EXPECT_EQ(matched(table, "openai/gpt-4o-mini"), "gpt-4o-mini");
  EXPECT_EQ(matched(table, "openrouter/openai/gpt-4o"), "gpt-4o");
  EXPECT_EQ(matched(table, "google/gemini-2.5-flash"), "gemini-2.5-flash");
  EXPECT_EQ(table.cost("openrouter/openai/gpt-4o", usage(kMillion, 0)).cost_nanos,
            table.cost("gpt-4o", usage(kMillion, 0)).cost_nanos);
}

TEST(FindTest, StripsDateAndLatestSuffixes) {
  const PriceTable table = PriceTable::builtin();
  EXPECT_EQ(matched(table, "gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  EXPECT_EQ(matched(table, "claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
  EXPECT_EQ(matched(table, "claude-haiku-4-5-20251001"), "claude-haiku-4-5");
  EXPECT_EQ(matched(table, "claude-sonnet-4-5-latest"), "claude-sonnet-4-5");
  EXPECT_EQ(matched(table, "openrouter/openai/gpt-4o-2024-08-06"), "gpt-4o");
  // Not a date (month 13), so no match rather than a guess.
  EXPECT_EQ(matched(table, "gpt-4o-20241399"), "<none>");
}

TEST(FindTest, ExactDatedEntryWinsOverTheUndatedOne) {
  const PriceTable table = PriceTable::builtin();
  EXPECT_EQ(matched(table, "gpt-4o-2024-05-13"), "gpt-4o-2024-05-13");
  EXPECT_EQ(table.find("gpt-4o-2024-05-13")->prompt, ModelPrice::per_million(5.00));
}

TEST(FindTest, IsCaseInsensitive) {
  const PriceTable table = PriceTable::builtin();
  EXPECT_EQ(matched(table, "GPT-4o-Mini"), "gpt-4o-mini");
  EXPECT_EQ(matched(table, "OpenAI/GPT-4O"), "gpt-4o");
  EXPECT_EQ(matched(table, "Claude-Sonnet-4-5-20250929"), "claude-sonnet-4-5");
}

TEST(FindTest, NeverMatchesByPrefix) {
  const PriceTable table = PriceTable::builtin();
  EXPECT_EQ(matched(table, "gpt-4o-mini"), "gpt-4o-mini");
  EXPECT_EQ(matched(table, "gpt-4o"), "gpt-4o");
  EXPECT_EQ(table.find("gpt-4o-mini")->prompt, 150'000);
  EXPECT_EQ(table.find("gpt-4o")->prompt, 2'500'000);
  EXPECT_EQ(matched(table, "gpt-4o-mini-foo"), "<none>");
  EXPECT_EQ(matched(table, "gpt-4o-foo"), "<none>");
  EXPECT_EQ(matched(table, "gpt-4"), "<none>");
  EXPECT_EQ(matched(table, "o3-mini-high"), "<none>");
}

TEST(FindTest, ProviderQualifiedUserEntryWinsOverTheBareName) {
  PriceTable table = PriceTable::builtin();
  ModelPrice routed;
  routed.prompt = ModelPrice::per_million(3.00);
  routed.completion = ModelPrice::per_million(12.00);
  table.set_price("OpenAI/GPT-4o", routed);
  EXPECT_EQ(matched(table, "openrouter/openai/gpt-4o"), "openai/gpt-4o");
  EXPECT_EQ(matched(table, "gpt-4o"), "gpt-4o");
}

TEST(PriceTableTest, SetPriceMergeAndSortedNames) {
  PriceTable table;
  ModelPrice price;
  price.prompt = 1;
  price.completion = 2;
  table.set_price("Zeta", price);
  table.set_price("alpha", price);
  PriceTable overrides;
  price.prompt = 7;
  overrides.set_price("ZETA", price);
  overrides.set_price("mid", price);
  table.merge(overrides);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.model_names(), (std::vector<std::string>{"alpha", "mid", "zeta"}));
  EXPECT_EQ(table.find("zeta")->prompt, 7);

  price.prompt = -1;
  EXPECT_THROW(table.set_price("negative", price), std::invalid_argument);
}

TEST(LoadPriceTableTest, UserFileOverridesAndAddsModels) {
  const TempDir home;
  home.write("pricing.json", R"({
    "schema_version": 1,
    "models": {
      "gpt-4o-mini": {"provider": "openai", "prompt": 1.00, "completion": 2.00},
      "My-Local-Model": {"provider": "self-hosted", "prompt": 0.01, "completion": 0.02,
                         "cached_prompt": null}
    }
  })");
  const PriceTable builtin = PriceTable::builtin();
  const PriceTable table = load_price_table(home.path());
  EXPECT_EQ(table.size(), builtin.size() + 1);

  // The override replaces the whole entry, so the shipped cached price no longer applies.
  const CostResult mini = table.cost("openai/gpt-4o-mini-2024-07-18", usage(kMillion, kMillion, 1));
  EXPECT_EQ(mini.matched_model, "gpt-4o-mini");
  EXPECT_EQ(mini.cost_nanos, 3'000'000'000);

  const CostResult local = table.cost("my-local-model", usage(kMillion, kMillion));
  EXPECT_TRUE(local.priced);
  EXPECT_EQ(local.cost_nanos, 30'000'000);
  EXPECT_EQ(table.find("my-local-model")->provider, "self-hosted");
  EXPECT_FALSE(table.find("my-local-model")->cached_prompt.has_value());

  EXPECT_EQ(table.cost("gpt-4o", usage(kMillion, 0)).cost_nanos, 2'500'000'000);
}

TEST(LoadPriceTableTest, WithoutAUserFileIsTheBuiltinTable) {
  const TempDir home;
  const PriceTable table = load_price_table(home.path());
  EXPECT_EQ(table.model_names(), PriceTable::builtin().model_names());
  EXPECT_EQ(load_price_table(home.path() / "does-not-exist").size(), PriceTable::builtin().size());
}

TEST(LoadPriceTableTest, MalformedUserFileThrowsNamingIt) {
  const TempDir home;
  const fs::path file = home.write("pricing.json", R"({"models": {"gpt-x": {"prompt": 1}}})");
  try {
    load_price_table(home.path());
    FAIL() << "expected PriceFileError";
  } catch (const PriceFileError& error) {
    EXPECT_NE(std::string(error.what()).find(file.string()), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("'completion'"), std::string::npos) << error.what();
  }
}

TEST(PriceFileTest, UnreadableFileThrowsNamingThePath) {
  const TempDir dir;
  const fs::path missing = dir.path() / "missing-pricing.json";
  try {
    PriceTable::from_file(missing);
    FAIL() << "expected PriceFileError";
  } catch (const PriceFileError& error) {
    EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos) << error.what();
  }
  EXPECT_THROW(PriceTable::from_file(dir.path()), PriceFileError);
}

TEST(PriceFileTest, FromJsonNamesTheSourceAndAcceptsModelNamesInAnyCase) {
  const PriceTable table = PriceTable::from_json(
      R"({"models": {"Big-Model": {"prompt": 2, "completion": 4}}})", "test input");
  EXPECT_EQ(table.model_names(), std::vector<std::string>{"big-model"});
  EXPECT_EQ(table.find("big-model")->completion, 4'000'000);
  try {
    PriceTable::from_json("{", "test input");
    FAIL() << "expected PriceFileError";
  } catch (const PriceFileError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("pricing file test input: ", 0), 0u) << error.what();
  }
}

struct MalformedCase {
  const char* name;
  const char* json;
  std::vector<const char*> expected;  // substrings of the message besides the file name
};

class MalformedFileTest : public testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedFileTest, ThrowsAOneLineErrorNamingFileEntryAndField) {
  const MalformedCase& c = GetParam();
  const TempDir dir;
  const fs::path file = dir.write(std::string(c.name) + "-pricing.json", c.json);
  try {
    PriceTable::from_file(file);
    FAIL() << "expected PriceFileError";
  } catch (const PriceFileError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const char* expected : c.expected) {
      EXPECT_NE(message.find(expected), std::string::npos)
          << "missing \"" << expected << "\" in: " << message;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    PriceFileTest, MalformedFileTest,
    testing::Values(
        MalformedCase{"invalid_json",
                      "{\"models\": {\"gpt-x\": {\"prompt\": 1,}}}",
                      {"invalid JSON", "line 1, column"}},
        MalformedCase{"negative_price",
                      R"({"models": {"gpt-x": {"prompt": -1.5, "completion": 1}}})",
                      {"model 'gpt-x'", "field 'prompt'", "non-negative", "-1.5"}},
        MalformedCase{"string_price",
                      R"({"models": {"gpt-x": {"prompt": "abc", "completion": 1}}})",
                      {"model 'gpt-x'", "field 'prompt'", "USD per 1M tokens", "\"abc\""}},
        MalformedCase{"unknown_field",
                      R"({"models": {"gpt-x": {"prompt": 1, "complettion": 2}}})",
                      {"model 'gpt-x'", "field 'complettion'", "did you mean 'completion'"}},
        MalformedCase{"missing_models",
                      R"({"schema_version": 1, "currency": "USD"})",
                      {"\"models\"", "missing"}},
        MalformedCase{"missing_completion",
                      R"({"models": {"gpt-x": {"prompt": 1}}})",
                      {"model 'gpt-x'", "field 'completion'", "missing"}},
        MalformedCase{"bad_cache_price",
                      R"({"models": {"gpt-x": {"prompt": 1, "completion": 2,
                                               "cache_write": true}}})",
                      {"model 'gpt-x'", "field 'cache_write'", "true"}},
        MalformedCase{"entry_not_object",
                      R"({"models": {"gpt-x": [1, 2]}})",
                      {"model 'gpt-x'", "must be an object"}},
        MalformedCase{"models_not_object",
                      R"({"models": ["gpt-x"]})",
                      {"field 'models'", "must be an object"}},
        MalformedCase{"duplicate_in_other_case",
                      R"({"models": {"GPT-X": {"prompt": 1, "completion": 2},
                                     "gpt-x": {"prompt": 1, "completion": 2}}})",
                      {"'GPT-X' and 'gpt-x'", "case-insensitive"}},
        MalformedCase{"wrong_unit",
                      R"({"unit": "USD per 1,000 tokens", "models": {}})",
                      {"field 'unit'", "USD per 1,000,000 tokens"}},
        MalformedCase{"wrong_schema",
                      R"({"schema_version": 2, "models": {}})",
                      {"field 'schema_version'", "must be 1"}},
        MalformedCase{"unknown_top_level",
                      R"({"model": {}, "models": {}})",
                      {"field 'model'", "did you mean 'models'"}},
        MalformedCase{"not_an_object", "[]", {"top level"}}),
    [](const testing::TestParamInfo<MalformedCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kagura::pricing
