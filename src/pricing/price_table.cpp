#include "kagura/pricing/price_table.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "pricing/builtin_prices.hpp"

namespace kagura::pricing {
namespace {

using Json = nlohmann::json;

// Token counts and prices are both int64, so one product needs up to 126 bits; GCC and Clang
// both provide __int128, and __extension__ keeps -Wpedantic quiet about it.
__extension__ typedef __int128 Wide;

constexpr std::string_view kUnit = "USD per 1,000,000 tokens";
constexpr std::string_view kPriceHint = "must be a non-negative number of USD per 1M tokens";
constexpr std::array<std::string_view, 6> kTopLevelFields = {
    "schema_version", "currency", "unit", "as_of", "notes", "models"};
constexpr std::array<std::string_view, 5> kModelFields = {"provider", "prompt", "completion",
                                                          "cached_prompt", "cache_write"};

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

template <std::size_t N>
std::string join(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Unknown fields are almost always typos ("complettion"); naming the likely intended field makes
// the fix obvious instead of leaving the user to diff against the docs.
template <std::size_t N>
std::string unknown_field_hint(const std::array<std::string_view, N>& known,
                               std::string_view name) {
  std::string_view best;
  std::size_t best_distance = 3;  // further than two edits is a different word, not a typo
  for (std::string_view candidate : known) {
    const std::size_t distance = edit_distance(ascii_lower(name), candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  std::string hint;
  if (!best.empty()) hint = "did you mean '" + std::string(best) + "'? ";
  return hint + "Known fields: " + join(known);
}

// Quotes a JSON value for an error message, short enough to keep the message on one line.
std::string describe(const Json& value) {
  constexpr std::size_t kMax = 40;
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > kMax) {
    std::size_t cut = kMax - 3;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

// nlohmann's message carries the line and column; its "[json.exception...] " tag is noise.
std::string untagged(const Json::exception& error) {
  std::string_view what = error.what();
  if (const auto end = what.find("] "); what.starts_with("[json.exception") && end != what.npos) {
    what.remove_prefix(end + 2);
  }
  return std::string(what);
}

[[noreturn]] void fail(std::string_view source, const std::string& detail) {
  throw PriceFileError("pricing file " + std::string(source) + ": " + detail);
}

std::string model_field(std::string_view model, std::string_view field) {
  return "model '" + std::string(model) + "': field '" + std::string(field) + "'";
}

PicoUsd parse_price(const Json& value, std::string_view source, std::string_view model,
                    std::string_view field) {
  // JSON numbers cannot be NaN or infinite, so the sign check is the only range check needed
  // before per_million, which rejects what no int64 pico-dollar count can hold.
  if (!value.is_number() || value.get<double>() < 0) {
    fail(source,
         model_field(model, field) + " " + std::string(kPriceHint) + ", got " + describe(value));
  }
  try {
    return ModelPrice::per_million(value.get<double>());
  } catch (const std::logic_error&) {
    fail(source, model_field(model, field) +
                     " is too large to be a price in USD per 1M tokens, got " + describe(value));
  }
}

std::optional<PicoUsd> parse_optional_price(const Json& entry, std::string_view field,
                                            std::string_view source, std::string_view model) {
  const auto it = entry.find(std::string(field));
  // null is accepted as "unset" so that an override file can clear an inherited cache price.
  if (it == entry.end() || it->is_null()) return std::nullopt;
  return parse_price(*it, source, model, field);
}

ModelPrice parse_model(const Json& entry, std::string_view source, const std::string& model) {
  if (!entry.is_object()) {
    fail(source, "model '" + model +
                     "' must be an object such as {\"prompt\": 0.15, \"completion\": 0.60}, got " +
                     describe(entry));
  }
  for (const auto& item : entry.items()) {
    if (!contains(kModelFields, item.key())) {
      fail(source, model_field(model, item.key()) + " is unknown; " +
                       unknown_field_hint(kModelFields, item.key()));
    }
  }

  ModelPrice price;
  if (const auto it = entry.find("provider"); it != entry.end()) {
    if (!it->is_string()) {
      fail(source, model_field(model, "provider") + " must be a string such as \"openai\", got " +
                       describe(*it));
    }
    price.provider = it->get<std::string>();
  }
  for (std::string_view required : {std::string_view("prompt"), std::string_view("completion")}) {
    if (!entry.contains(std::string(required))) {
      fail(source, model_field(model, required) + " is missing; it is required and " +
                       std::string(kPriceHint));
    }
  }
  price.prompt = parse_price(entry.at("prompt"), source, model, "prompt");
  price.completion = parse_price(entry.at("completion"), source, model, "completion");
  price.cached_prompt = parse_optional_price(entry, "cached_prompt", source, model);
  price.cache_write = parse_optional_price(entry, "cache_write", source, model);
  return price;
}

void check_header(const Json& doc, std::string_view source) {
  for (const auto& item : doc.items()) {
    if (!contains(kTopLevelFields, item.key())) {
      fail(source, "top-level field '" + item.key() + "' is unknown; " +
                       unknown_field_hint(kTopLevelFields, item.key()));
    }
  }
  if (const auto it = doc.find("schema_version"); it != doc.end()) {
    if (!it->is_number_integer() || *it != 1) {
      fail(source, "field 'schema_version' must be 1 (the only format this Kagura reads), got " +
                       describe(*it));
    }
  }
  if (const auto it = doc.find("currency"); it != doc.end()) {
    if (!it->is_string() || it->get<std::string>() != "USD") {
      fail(source,
           "field 'currency' must be \"USD\"; convert prices to US dollars, got " + describe(*it));
    }
  }
  if (const auto it = doc.find("unit"); it != doc.end()) {
    // A price quoted per 1K tokens would otherwise be silently read as 1000 times too cheap.
    if (!it->is_string() || it->get<std::string>() != kUnit) {
      fail(source, "field 'unit' must be \"" + std::string(kUnit) +
                       "\"; convert prices to USD per million tokens, got " + describe(*it));
    }
  }
  for (std::string_view field : {std::string_view("as_of"), std::string_view("notes")}) {
    if (const auto it = doc.find(std::string(field)); it != doc.end() && !it->is_string()) {
      fail(source, "field '" + std::string(field) + "' must be a string, got " + describe(*it));
    }
  }
}

// Strips one trailing "-YYYY-MM-DD", "-YYYYMMDD" or "-latest"; returns `name` unchanged if it has
// none. Month and day are range-checked so that an 8-digit build number is not taken for a date.
std::string_view strip_version_suffix(std::string_view name) {
  constexpr std::string_view kLatest = "-latest";
  if (name.size() > kLatest.size() && name.ends_with(kLatest)) {
    return name.substr(0, name.size() - kLatest.size());
  }
  const auto digits = [](std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const auto two = [](std::string_view text) { return (text[0] - '0') * 10 + (text[1] - '0'); };
  const auto plausible = [&](std::string_view month, std::string_view day) {
    return two(month) >= 1 && two(month) <= 12 && two(day) >= 1 && two(day) <= 31;
  };
  if (name.size() > 11) {
    const std::string_view tail = name.substr(name.size() - 11);  // "-2024-07-18"
    if (tail[0] == '-' && tail[5] == '-' && tail[8] == '-' && digits(tail.substr(1, 4)) &&
        digits(tail.substr(6, 2)) && digits(tail.substr(9, 2)) &&
        plausible(tail.substr(6, 2), tail.substr(9, 2))) {
      return name.substr(0, name.size() - 11);
    }
  }
  if (name.size() > 9) {
    const std::string_view tail = name.substr(name.size() - 9);  // "-20250929"
    if (tail[0] == '-' && digits(tail.substr(1)) &&
        plausible(tail.substr(5, 2), tail.substr(7, 2))) {
      return name.substr(0, name.size() - 9);
    }
  }
  return name;
}

void check_price(std::string_view model, const ModelPrice& price) {
  if (model.empty()) throw std::invalid_argument("kagura pricing: model name must not be empty");
  const bool negative = price.prompt < 0 || price.completion < 0 ||
                        price.cached_prompt.value_or(0) < 0 || price.cache_write.value_or(0) < 0;
  if (negative) {
    throw std::invalid_argument("kagura pricing: model '" + std::string(model) +
                                "': prices must not be negative");
  }
}

}  // namespace

PicoUsd ModelPrice::per_million(double usd_per_million_tokens) {
  if (!std::isfinite(usd_per_million_tokens) || usd_per_million_tokens < 0) {
    throw std::invalid_argument(
        "kagura pricing: a price must be a finite, non-negative number of USD per 1M tokens");
  }
  // USD per 1e6 tokens equals 1e12 pico-dollars per 1e6 tokens, i.e. 1e6 pico-dollars per token.
  // Rounding absorbs the binary representation error: 1.001 * 1e6 is 1000999.9999999999.
  const double picos = usd_per_million_tokens * 1e6;
  // llround is unspecified past int64; 2^63 as a double is the first value that does not fit.
  if (picos >= static_cast<double>(std::numeric_limits<PicoUsd>::max())) {
    throw std::out_of_range("kagura pricing: price of " + std::to_string(usd_per_million_tokens) +
                            " USD per 1M tokens is too large");
  }
  return static_cast<PicoUsd>(std::llround(picos));
}

PriceTable PriceTable::builtin() {
  static const PriceTable table =
      from_json(detail::builtin_pricing_json(), "data/pricing.json (built in)");
  return table;
}

PriceTable PriceTable::from_json(std::string_view json_text, std::string_view source) {
  Json doc;
  try {
    doc = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::parse_error& error) {
    fail(source, "invalid JSON: " + untagged(error) + "; fix the syntax there");
  } catch (const Json::exception& error) {
    fail(source, "invalid JSON: " + untagged(error));  // e.g. a number too large for a double
  }
  if (!doc.is_object()) {
    fail(source,
         "the top level must be a JSON object with a \"models\" object, got " + describe(doc));
  }
  check_header(doc, source);

  const auto models = doc.find("models");
  if (models == doc.end()) {
    fail(source,
         "the \"models\" object is missing; add \"models\": {\"<model name>\": {\"prompt\": ..., "
         "\"completion\": ...}}");
  }
  if (!models->is_object()) {
    fail(source, "field 'models' must be an object mapping model names to prices, got " +
                     describe(*models));
  }

  PriceTable table;
  std::unordered_map<std::string, std::string> spelling;  // lower-case key -> name as written
  for (const auto& item : models->items()) {
    const std::string& model = item.key();
    if (model.empty()) fail(source, "model '': a model name must not be empty");
    ModelPrice price = parse_model(item.value(), source, model);
    const auto [first, inserted] = spelling.try_emplace(ascii_lower(model), model);
    if (!inserted) {
      fail(source, "models '" + first->second + "' and '" + model +
                       "' are the same model (names are case-insensitive); keep one entry");
    }
    table.prices_.emplace(first->first, std::move(price));
  }
  return table;
}

PriceTable PriceTable::from_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw PriceFileError("pricing file " + name + ": is a directory; expected a JSON file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    throw PriceFileError("pricing file " + name + ": cannot be opened (" +
                         std::generic_category().message(error) +
                         "); check that it exists and is readable");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw PriceFileError("pricing file " + name + ": read failed; check that it is readable");
  }
  return from_json(text.str(), name);
}

void PriceTable::set_price(std::string_view model, ModelPrice price) {
  check_price(model, price);
  prices_.insert_or_assign(ascii_lower(model), std::move(price));
}

void PriceTable::merge(const PriceTable& overrides) {
  for (const auto& [model, price] : overrides.prices_) prices_.insert_or_assign(model, price);
}

const ModelPrice* PriceTable::find(std::string_view model, std::string* matched_name) const {
  if (matched_name != nullptr) matched_name->clear();
  const std::string lowered = ascii_lower(model);

  // The full name, then with one more leading "provider/" removed each time, so that a user
  // entry keyed "openai/gpt-4o" still wins over "gpt-4o" for "openrouter/openai/gpt-4o".
  std::vector<std::string_view> names;
  for (std::string_view rest = lowered;;) {
    names.push_back(rest);
    const auto slash = rest.find('/');
    if (slash == rest.npos) break;
    rest.remove_prefix(slash + 1);
  }

  std::string key;
  const auto lookup = [&](std::string_view candidate) -> const ModelPrice* {
    if (candidate.empty()) return nullptr;
    key.assign(candidate);
    const auto it = prices_.find(key);
    if (it == prices_.end()) return nullptr;
    if (matched_name != nullptr) *matched_name = it->first;
    return &it->second;
  };

  // Only whole-name matches: a prefix match would price "gpt-4o-mini-foo" as "gpt-4o".
  for (std::string_view name : names) {
    if (const ModelPrice* price = lookup(name)) return price;
  }
  for (std::string_view name : names) {
    const std::string_view stripped = strip_version_suffix(name);
    if (stripped.size() == name.size()) continue;
    if (const ModelPrice* price = lookup(stripped)) return price;
  }
  return nullptr;
}

NanoUsd ModelPrice::cost_of(const TokenUsage& usage) const noexcept {
  // Negative counts can only come from a confused caller; they must not earn a refund.
  const auto count = [](std::int64_t tokens) { return Wide{std::max<std::int64_t>(tokens, 0)}; };
  const Wide cached = count(usage.cached_tokens);
  const Wide written = count(usage.cache_write_tokens);
  const Wide uncached = std::max(Wide{0}, count(usage.prompt_tokens) - cached - written);

  Wide picos = 0;
  bool overflow = false;
  const auto add = [&](Wide tokens, PicoUsd per_token) {
    Wide term = 0;
    overflow |= __builtin_mul_overflow(tokens, Wide{per_token}, &term);
    overflow |= __builtin_add_overflow(picos, term, &picos);
  };
  add(uncached, prompt);
  add(cached, cached_prompt.value_or(prompt));
  add(written, cache_write.value_or(prompt));
  add(count(usage.completion_tokens), completion);

  // Saturating keeps absurd token counts visibly absurd (about $9.2 billion) instead of wrapping
  // to a plausible-looking number; a telemetry library must not throw into its host here.
  constexpr Wide kMaxNanos = std::numeric_limits<NanoUsd>::max();
  overflow |= __builtin_add_overflow(picos, Wide{500}, &picos);  // half-up, as picos >= 0
  if (overflow) return static_cast<NanoUsd>(kMaxNanos);
  // A 64-bit division when the sum fits, as it nearly always does: the 128-bit one is a call
  // into libgcc that showed in the profile of every LLM call.
  if (picos <= Wide{std::numeric_limits<std::int64_t>::max()}) {
    return static_cast<std::int64_t>(picos) / 1000;
  }
  return static_cast<NanoUsd>(std::min(picos / 1000, kMaxNanos));
}

CostResult PriceTable::cost(std::string_view model, const TokenUsage& usage) const {
  CostResult result;
  const ModelPrice* price = find(model, &result.matched_model);
  if (price == nullptr) return result;
  result.priced = true;
  result.cost_nanos = price->cost_of(usage);
  return result;
}

std::vector<std::string> PriceTable::model_names() const {
  std::vector<std::string> names;
  names.reserve(prices_.size());
  for (const auto& entry : prices_) names.push_back(entry.first);
  std::sort(names.begin(), names.end());
  return names;
}

PriceTable load_price_table(const std::filesystem::path& kagura_home) {
  PriceTable table = PriceTable::builtin();
  const std::filesystem::path path = kagura_home / "pricing.json";
  std::error_code ec;
  // Only a file that is verifiably absent is skipped; any other status problem (permissions,
  // I/O) goes to from_file so the user sees why their overrides were not applied.
  if (std::filesystem::status(path, ec).type() == std::filesystem::file_type::not_found) {
    return table;
  }
  table.merge(PriceTable::from_file(path));
  return table;
}

}  // namespace kagura::pricing
