#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/agent/agent.hpp"

namespace kagura::agent {
namespace {

// Whole words of a key, so that "auth_token" is a secret and "max_tokens" is not.
constexpr std::array<std::string_view, 10> kSecretWords = {
    "password",      "passwd",     "passphrase",  "secret",  "token",
    "authorization", "credential", "credentials", "session", "cookie"};
// Pairs of consecutive words that are secrets together: "api_key", "private_key".
constexpr std::array<std::string_view, 5> kSecretKeyQualifiers = {"api", "access", "private",
                                                                  "secret", "signing"};

// "OPENAI_API_KEY", "apiKey", "api-key" -> {"openai", "api", "key"} / {"api", "key"}.
std::vector<std::string> words_of(std::string_view key) {
  std::vector<std::string> words(1);
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    const bool separator = c == '_' || c == '-' || c == ' ' || c == '.';
    const bool camel_break =
        i > 0 && std::isupper(c) && std::islower(static_cast<unsigned char>(key[i - 1]));
    if ((separator || camel_break) && !words.back().empty()) words.emplace_back();
    if (!separator) words.back().push_back(static_cast<char>(std::tolower(c)));
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

bool is_secret_key(std::string_view key) {
  const auto words = words_of(key);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto& word = words[i];
    if (std::find(kSecretWords.begin(), kSecretWords.end(), word) != kSecretWords.end()) {
      return true;
    }
    if (word == "apikey" || word == "passwd") return true;
    if (word == "key" && i > 0 &&
        std::find(kSecretKeyQualifiers.begin(), kSecretKeyQualifiers.end(), words[i - 1]) !=
            kSecretKeyQualifiers.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

nlohmann::json redact_secrets(const nlohmann::json& arguments) {
  if (arguments.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : arguments) out.push_back(redact_secrets(item));
    return out;
  }
  if (!arguments.is_object()) return arguments;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : arguments.items()) {
    out[key] = is_secret_key(key) ? nlohmann::json("[REDACTED]") : redact_secrets(value);
  }
  return out;
}

}  // namespace kagura::agent
