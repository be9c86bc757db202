#include "kagura/llm/providers.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "kagura/llm/anthropic_client.hpp"
#include "kagura/llm/openai_client.hpp"
#include "llm/provider_registry.hpp"

namespace kagura::llm {
namespace detail {
namespace {

using Api = ProviderSettings::Api;

// LiteLLM's provider names and variables, so that existing environments keep working.
constexpr std::array<ProviderInfo, 12> kProviders = {{
    {"openai",
     Api::openai_chat,
     {"OPENAI_API_KEY", ""},
     {"OPENAI_BASE_URL", "OPENAI_API_BASE"},
     "https://api.openai.com/v1",
     "",
     true},
    {"anthropic",
     Api::anthropic_messages,
     {"ANTHROPIC_API_KEY", ""},
     {"ANTHROPIC_BASE_URL", "ANTHROPIC_API_BASE"},
     "https://api.anthropic.com",
     "",
     true},
    {"ollama",
     Api::openai_chat,
     {"", ""},
     {"OLLAMA_API_BASE", "OLLAMA_HOST"},
     "http://localhost:11434/v1",
     "/v1",
     false},
    {"openrouter",
     Api::openai_chat,
     {"OPENROUTER_API_KEY", ""},
     {"OPENROUTER_API_BASE", ""},
     "https://openrouter.ai/api/v1",
     "",
     true},
    {"vllm",
     Api::openai_chat,
     {"VLLM_API_KEY", "HOSTED_VLLM_API_KEY"},
     {"HOSTED_VLLM_API_BASE", "VLLM_API_BASE"},
     "http://localhost:8000/v1",
     "",
     false},
    {"hosted_vllm",
     Api::openai_chat,
     {"VLLM_API_KEY", "HOSTED_VLLM_API_KEY"},
     {"HOSTED_VLLM_API_BASE", "VLLM_API_BASE"},
     "http://localhost:8000/v1",
     "",
     false},
    {"llamacpp",
     Api::openai_chat,
     {"LLAMACPP_API_KEY", ""},
     {"LLAMACPP_API_BASE", ""},
     "http://localhost:8080/v1",
     "",
     false},
    {"litellm_proxy",
     Api::openai_chat,
     {"LITELLM_PROXY_API_KEY", ""},
     {"LITELLM_PROXY_API_BASE", ""},
     "http://localhost:4000/v1",
     "",
     false},
    {"groq",
     Api::openai_chat,
     {"GROQ_API_KEY", ""},
     {"GROQ_API_BASE", ""},
     "https://api.groq.com/openai/v1",
     "",
     true},
    {"deepseek",
     Api::openai_chat,
     {"DEEPSEEK_API_KEY", ""},
     {"DEEPSEEK_API_BASE", ""},
     "https://api.deepseek.com/v1",
     "",
     true},
    {"mistral",
     Api::openai_chat,
     {"MISTRAL_API_KEY", ""},
     {"MISTRAL_API_BASE", ""},
     "https://api.mistral.ai/v1",
     "",
     true},
    {"gemini",
     Api::openai_chat,
     {"GEMINI_API_KEY", ""},
     {"GEMINI_API_BASE", ""},
     "https://generativelanguage.googleapis.com/v1beta/openai",
     "",
     true},
}};

}  // namespace

const ProviderInfo* find_provider(std::string_view name) {
  for (const auto& info : kProviders) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

ErrorContext error_context_for(std::string_view provider, const ProviderSettings& settings) {
  ErrorContext context;
  context.provider = std::string(provider);
  context.secret = settings.api_key;
  if (const auto* info = find_provider(provider)) {
    context.key_variable = std::string(info->key_variables[0]);
    context.base_url_variable = std::string(info->base_url_variables[0]);
  }
  return context;
}

std::string known_provider_names() {
  std::string names;
  for (const auto& info : kProviders) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

}  // namespace detail

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// An empty variable counts as unset, as it does for the providers' own SDKs.
std::string first_set(const std::array<std::string_view, 2>& variables, std::string* which) {
  for (const auto variable : variables) {
    if (variable.empty()) continue;
    const char* value = std::getenv(std::string(variable).c_str());
    if (value != nullptr && *value != '\0') {
      if (which != nullptr) *which = variable;
      return value;
    }
  }
  return {};
}

std::string trim_trailing_slashes(std::string url) {
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  return url;
}

const detail::ProviderInfo& known_provider(std::string_view provider) {
  const auto* info = detail::find_provider(lower(provider));
  if (info == nullptr) {
    throw LlmError(LlmErrorKind::configuration,
                   "unknown LLM provider '" + std::string(provider) + "': use one of " +
                       detail::known_provider_names() +
                       " (as in \"openai/gpt-4o-mini\"), or \"openai\" with a base URL for any "
                       "other OpenAI-compatible server");
  }
  return *info;
}

}  // namespace

ModelRef parse_model(std::string_view model_string) {
  if (model_string.empty()) {
    throw LlmError(LlmErrorKind::configuration,
                   "empty model name: use \"provider/model\", e.g. \"openai/gpt-4o-mini\"");
  }
  if (const auto slash = model_string.find('/'); slash != std::string_view::npos) {
    const std::string prefix = lower(model_string.substr(0, slash));
    if (detail::find_provider(prefix) != nullptr) {
      const std::string_view model = model_string.substr(slash + 1);
      if (model.empty()) {
        throw LlmError(LlmErrorKind::configuration,
                       "model string '" + std::string(model_string) +
                           "' names no model after the provider: use e.g. \"" + prefix +
                           "/<model>\"");
      }
      return {prefix, std::string(model)};
    }
  }
  // Without a known prefix the model name itself tells: Claude models are only served by
  // Anthropic, everything else is assumed OpenAI-compatible (the LiteLLM convention).
  if (lower(model_string).starts_with("claude")) return {"anthropic", std::string(model_string)};
  return {"openai", std::string(model_string)};
}

ProviderSettings provider_settings_from_env(std::string_view provider) {
  const auto& info = known_provider(provider);
  ProviderSettings settings;
  settings.api = info.api;
  settings.api_key = first_set(info.key_variables, nullptr);
  std::string base_url = first_set(info.base_url_variables, nullptr);
  if (base_url.empty()) {
    settings.base_url = std::string(info.default_base_url);
    return settings;
  }
  // OLLAMA_HOST is commonly "127.0.0.1:11434", without a scheme.
  if (base_url.find("://") == std::string::npos) base_url = "http://" + base_url;
  base_url = trim_trailing_slashes(std::move(base_url));
  if (!info.base_url_suffix.empty() && !base_url.ends_with(info.base_url_suffix)) {
    base_url += info.base_url_suffix;
  }
  settings.base_url = std::move(base_url);
  return settings;
}

std::shared_ptr<LlmClient> make_client(std::string_view provider,
                                       const ProviderSettings& settings) {
  const auto& info = known_provider(provider);
  ProviderSettings checked = settings;
  if (checked.base_url.empty()) checked.base_url = std::string(info.default_base_url);
  checked.base_url = trim_trailing_slashes(std::move(checked.base_url));
  const std::string base_variable(info.base_url_variables[0]);
  if (!checked.base_url.starts_with("http://") && !checked.base_url.starts_with("https://")) {
    throw LlmError(LlmErrorKind::configuration,
                   std::string(info.name) + ": base URL '" + checked.base_url +
                       "' is not an http:// or https:// URL: fix " + base_variable);
  }
  // A custom base URL without a key is a local or self-hosted server, which may need none.
  if (info.needs_key && checked.api_key.empty() &&
      checked.base_url == trim_trailing_slashes(std::string(info.default_base_url))) {
    throw LlmError(LlmErrorKind::configuration,
                   std::string(info.name) + ": no API key for " + checked.base_url + ": set " +
                       std::string(info.key_variables[0]) + " (or " + base_variable +
                       " to a server that needs no key)");
  }
  const std::string name = lower(provider);
  if (checked.api == ProviderSettings::Api::anthropic_messages) {
    return std::make_shared<AnthropicClient>(std::move(checked), name);
  }
  return std::make_shared<OpenAiClient>(std::move(checked), name);
}

}  // namespace kagura::llm
