#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "kagura/agent/agent.hpp"
#include "kagura/telemetry/json_reuse.hpp"

namespace kagura::agent {
namespace {

// Whole words of a key, so that "auth_token" is a secret and "max_tokens" is not.
constexpr std::array<std::string_view, 10> kSecretWords = {
    "password",      "passwd",     "passphrase",  "secret",  "token",
    "authorization", "credential", "credentials", "session", "cookie"};
// Pairs of consecutive words that are secrets together: "api_key", "private_key".
constexpr std::array<std::string_view, 5> kSecretKeyQualifiers = {"api", "access", "private",
                                                                  "secret", "signing"};

// A word of a key, lowercased, kept on the stack: agents call this for every argument of
// every call. A word longer than any secret word is only marked as such.
struct KeyWord {
  std::array<char, 16> text{};
  std::size_t size = 0;
  bool too_long = false;

  bool empty() const noexcept { return size == 0 && !too_long; }
  std::string_view view() const noexcept {
    return too_long ? std::string_view{} : std::string_view(text.data(), size);
  }
  void push(char c) noexcept {
    if (size < text.size()) {
      text[size++] = c;
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
  const std::string_view w = word.view();
  if (w.empty()) return false;
  if (std::find(kSecretWords.begin(), kSecretWords.end(), w) != kSecretWords.end()) return true;
  if (w == "apikey") return true;
  return w == "key" && std::find(kSecretKeyQualifiers.begin(), kSecretKeyQualifiers.end(),
                                 before.view()) != kSecretKeyQualifiers.end();
}

// Splits "OPENAI_API_KEY", "apiKey", "api-key" into words ({"openai", "api", "key"},
// {"api", "key"}) and looks for a secret word, or "key" after one of its qualifiers.
bool is_secret_key(std::string_view key) {
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
