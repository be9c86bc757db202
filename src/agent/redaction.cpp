#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kagura/agent/agent.hpp"
#include "kagura/telemetry/json_reuse.hpp"

namespace kagura::agent {
namespace {

// A word of a key, lowercased, in 16 bytes packed into two integers. The secret words below
// are such constants too, so checking a word is a few comparisons with immediate operands: a
// table of strings would be data that the agent's thread finds cold in the cache on every call
// (the profile of a full agent call showed it), as redaction runs once per execution and tool
// call. A word longer than 16 bytes is never a secret word.
struct PackedWord {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  std::size_t size = 0;

  friend constexpr bool operator==(const PackedWord&, const PackedWord&) = default;
};

constexpr std::size_t kMaxPackedWord = 16;

consteval PackedWord pack(std::string_view word) {
  PackedWord packed{.size = word.size()};
  for (std::size_t i = 0; i < word.size() && i < kMaxPackedWord; ++i) {
    const auto byte = static_cast<std::uint64_t>(static_cast<unsigned char>(word[i]));
    (i < 8 ? packed.low : packed.high) |= byte << (8 * (i % 8));
  }
  return packed;
}

template <typename... Words>
constexpr bool is_one_of(const PackedWord& word, Words... words) {
  return ((word == words) || ...);
}

// Whole words of a key, so that "auth_token" is a secret and "max_tokens" is not.
constexpr bool is_secret_word(const PackedWord& w) {
  return is_one_of(w, pack("password"), pack("passwd"), pack("passphrase"), pack("secret"),
                   pack("token"), pack("authorization"), pack("credential"), pack("credentials"),
                   pack("session"), pack("cookie"), pack("apikey"));
}
// Words that make a following "key" a secret: "api_key", "private_key".
constexpr bool is_key_qualifier(const PackedWord& w) {
  return is_one_of(w, pack("api"), pack("access"), pack("private"), pack("secret"),
                   pack("signing"));
}
static_assert(is_secret_word(pack("token")) && !is_secret_word(pack("tokens")));
static_assert(!is_secret_word(pack("credentia")) && is_key_qualifier(pack("api")));

// A word of a key being read, lowercased, kept on the stack: agents call this for every
// argument of every call.
struct KeyWord {
  PackedWord packed;
  bool too_long = false;

  bool empty() const noexcept { return packed.size == 0 && !too_long; }
  void push(char c) noexcept {
    if (packed.size < kMaxPackedWord) {
      const auto byte = static_cast<std::uint64_t>(static_cast<unsigned char>(c));
      (packed.size < 8 ? packed.low : packed.high) |= byte << (8 * (packed.size % 8));
      ++packed.size;
    } else {
      too_long = true;
    }
  }
};

// ASCII only, and inline: the <cctype> functions consult the locale through a call per
// character, a measurable part of every agent call's redaction.
constexpr bool is_ascii_upper(unsigned char c) noexcept {
  return c >= 'A' && c <= 'Z';
}
constexpr bool is_ascii_lower(unsigned char c) noexcept {
  return c >= 'a' && c <= 'z';
}
constexpr char ascii_lower(unsigned char c) noexcept {
  return static_cast<char>(is_ascii_upper(c) ? c - 'A' + 'a' : c);
}

bool is_secret_word(const KeyWord& word, const KeyWord& before) {
  if (word.too_long || word.packed.size == 0) return false;
  if (is_secret_word(word.packed)) return true;
  return word.packed == pack("key") && !before.too_long && is_key_qualifier(before.packed);
}

}  // namespace

// Splits "OPENAI_API_KEY", "apiKey", "api-key" into words ({"openai", "api", "key"},
// {"api", "key"}) and looks for a secret word, or "key" after one of its qualifiers.
bool is_secret_key(std::string_view key) noexcept {
  KeyWord before, word;
  for (std::size_t i = 0; i <= key.size(); ++i) {
    const bool end = i == key.size();
    const auto c = end ? 0 : static_cast<unsigned char>(key[i]);
    const bool separator = end || c == '_' || c == '-' || c == ' ' || c == '.';
    const bool camel_break = !end && i > 0 && is_ascii_upper(c) &&
                             is_ascii_lower(static_cast<unsigned char>(key[i - 1]));
    if ((separator || camel_break) && !word.empty()) {
      if (is_secret_word(word, before)) return true;
      before = word;
      word = KeyWord{};
    }
    if (!separator) word.push(ascii_lower(c));
  }
  return false;
}

namespace {

const nlohmann::json kRedacted = "[REDACTED]";

}  // namespace

void redact_secrets_into(nlohmann::json& recorded, const nlohmann::json& arguments) {
  if (arguments.is_object()) {
    telemetry::assign_members_reusing(
        recorded, arguments,
        [](nlohmann::json& to, const std::string& key, const nlohmann::json& from) {
          if (is_secret_key(key)) {
            telemetry::copy_json_reusing(to, kRedacted);
          } else {
            redact_secrets_into(to, from);
          }
        });
  } else if (arguments.is_array()) {
    telemetry::assign_elements_reusing(
        recorded, arguments,
        [](nlohmann::json& to, const nlohmann::json& from) { redact_secrets_into(to, from); });
  } else {
    telemetry::copy_json_reusing(recorded, arguments);
  }
}

nlohmann::json redact_secrets(const nlohmann::json& arguments) {
  nlohmann::json redacted;
  redact_secrets_into(redacted, arguments);
  return redacted;
}

}  // namespace kagura::agent
