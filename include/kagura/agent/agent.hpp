#pragma once

// An agent: a prompt template, a model, optional tools and memory. Calling it renders the
// prompt from named arguments, asks the model (running the tools it asks for), and returns
// the answer. Every call is recorded as an execution with no telemetry code in user code:
// each LLM call, tool call and memory operation, and the error when it fails.
//
//   kagura::agent::Agent hello({
//       .name = "hello",
//       .prompt = "Say hello to {{ name }}",
//       .model = "openai/gpt-4o-mini",
//   });
//   std::string answer = hello({{"name", "Alice"}});
//
// An agent called inside another agent's call (e.g. from one of its tools) is recorded as a
// child execution in the same trace. Agents are safe to call from several threads at once.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/agent/memory.hpp"
#include "kagura/agent/tool.hpp"
#include "kagura/llm/llm_client.hpp"

namespace kagura::telemetry {
class Telemetry;
}

namespace kagura::agent {

// A mistake in how an agent is defined or called (bad template, missing argument, no final
// answer within max_tool_rounds); the message says what and how to fix it.
class AgentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModelSettings {
  std::optional<double> temperature{};
  std::optional<double> top_p{};
  std::optional<std::int64_t> max_tokens{};
  // Stream the answer (server-sent events); on_text receives it piece by piece, and the
  // time to first token is recorded.
  bool stream = false;
  std::function<void(std::string_view text)> on_text{};
  // Provider options merged into the request body.
  nlohmann::json extra = nlohmann::json::object();
};

struct AgentOptions {
  std::string name{};
  // The user message, with {{ name }} placeholders filled from the call's arguments (Mustache:
  // {{# list }}...{{/ list }} for sections). A placeholder with no argument is an error.
  std::string prompt{};
  // "provider/model" ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "ollama/llama3.2");
  // a name without a provider is sent to the OpenAI-compatible endpoint.
  std::string model = "openai/gpt-4o-mini";
  std::string system_prompt{};  // optional; a template like `prompt`
  ModelSettings settings{};
  std::vector<Tool> tools{};
  std::shared_ptr<ConversationMemory> memory{};
  int max_tool_rounds = 10;
  bool enable_telemetry = true;
  // Store the prompt and answer text in the recorded events. Off by default: prompts often
  // hold personal data.
  bool capture_content = false;
  // Default: a client for the model's provider configured from the environment.
  std::shared_ptr<llm::LlmClient> client{};
  // Default: the process-wide telemetry (kagura::telemetry::get_global_telemetry()).
  std::shared_ptr<telemetry::Telemetry> telemetry{};
};

class Agent {
 public:
  // Throws AgentError for a definition that cannot work (no name, a template that does not
  // parse, two tools with one name, ...).
  explicit Agent(AgentOptions options);
  ~Agent();
  Agent(Agent&&) noexcept;
  Agent& operator=(Agent&&) noexcept;

  // Runs the agent. `arguments` is a JSON object of the template's named arguments; they are
  // recorded as the execution's kwargs with secret-looking values redacted. Throws AgentError,
  // llm::LlmError, or what a tool rethrows; the execution is recorded as failed either way.
  std::string operator()(const nlohmann::json& arguments = nlohmann::json::object()) const;
  std::string run(const nlohmann::json& arguments = nlohmann::json::object()) const {
    return (*this)(arguments);
  }

  // The user message a call with these arguments sends.
  std::string render_prompt(const nlohmann::json& arguments) const;

  const std::string& name() const noexcept;
  const AgentOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Replaces by "[REDACTED]" the values whose key looks secret, at any depth: keys with a word
// password, passwd, passphrase, secret, token, authorization, credential(s), session or cookie,
// or a key qualified as api, access, private, secret or signing ("api_key", "apiKey",
// "OPENAI_API_KEY", "auth_token"). Words, not substrings: "max_tokens" is kept.
nlohmann::json redact_secrets(const nlohmann::json& arguments);
// The same written into `recorded`, reusing the memory of what it holds (an earlier call's
// arguments): a telemetry::ArgumentsFilter.
void redact_secrets_into(nlohmann::json& recorded, const nlohmann::json& arguments);
// Whether redaction treats a key as a secret's ("api_key", "OPENAI_API_KEY", "apiKey",
// "password", "auth_token", ...; not "max_tokens" or "primary_key"). Agents record their
// arguments through telemetry::RedactKeys{&is_secret_key}.
bool is_secret_key(std::string_view key) noexcept;

}  // namespace kagura::agent
