#include "kagura/agent/agent.hpp"

#include <chrono>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "agent/prompt_template.hpp"
#include "kagura/llm/providers.hpp"
#include "kagura/telemetry/collector.hpp"
#include "kagura/telemetry/telemetry.hpp"
#include "telemetry/elapsed.hpp"

namespace kagura::agent {
namespace {

using Clock = std::chrono::steady_clock;

using telemetry::detail::seconds_since;

bool valid_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// What the model reads back from a tool.
std::string tool_result_text(const nlohmann::json& result) {
  return result.is_string() ? result.get<std::string>() : result.dump();
}

nlohmann::json messages_json(const std::vector<llm::Message>& messages) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : messages) {
    nlohmann::json message = {{"role", m.role}, {"content", m.content}};
    if (!m.tool_calls.empty()) {
      message["tool_calls"] = nlohmann::json::array();
      for (const auto& call : m.tool_calls) {
        message["tool_calls"].push_back({{"name", call.name}, {"arguments", call.arguments}});
      }
    }
    if (!m.name.empty()) message["name"] = m.name;
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace

struct Agent::Impl {
  AgentOptions options;
  detail::PromptTemplate prompt;
  detail::PromptTemplate system_prompt;
  llm::ModelRef model;
  std::vector<llm::ToolSpec> tool_specs;
  std::unordered_map<std::string, const Tool*> tools_by_name;

  // The client is made on first use: an agent defined at start-up must not fail because an
  // API key is only set later, and a missing key then fails (and is recorded) like any call.
  mutable std::mutex client_mutex;
  mutable std::shared_ptr<llm::LlmClient> client;

  explicit Impl(AgentOptions o) : options(std::move(o)) {
    if (options.name.empty()) {
      throw AgentError("an agent needs a name (AgentOptions::name): it names its executions");
    }
    const std::string what = "agent '" + options.name + "'";
    if (options.prompt.empty()) {
      throw AgentError(what +
                       " has an empty prompt (AgentOptions::prompt), e.g. \"Say hello to "
                       "{{ name }}\"");
    }
    prompt = detail::PromptTemplate(options.prompt, "prompt of " + what);
    if (!options.system_prompt.empty()) {
      system_prompt = detail::PromptTemplate(options.system_prompt, "system prompt of " + what);
    }
    if (options.max_tool_rounds < 0) {
      throw AgentError(what + ": max_tool_rounds must be 0 or more, got " +
                       std::to_string(options.max_tool_rounds));
    }
    model = llm::parse_model(options.model);
    if (model.model.empty()) {
      throw AgentError(what + ": model \"" + options.model +
                       "\" names no model; write \"provider/model\", e.g. \"openai/gpt-4o-mini\"");
    }
    for (const auto& tool : options.tools) {
      if (!valid_tool_name(tool.name)) {
        throw AgentError(what + ": tool name \"" + tool.name +
                         "\" is not allowed; use 1 to 64 letters, digits, '_' or '-'");
      }
      if (!tool.function) throw AgentError(what + ": tool '" + tool.name + "' has no function");
      if (!tool.parameters.is_object()) {
        throw AgentError(what + ": the parameters of tool '" + tool.name +
                         "' must be a JSON Schema object, e.g. {\"type\": \"object\", "
                         "\"properties\": {...}}");
      }
      if (!tools_by_name.emplace(tool.name, &tool).second) {
        throw AgentError(what + " has two tools named '" + tool.name + "'");
      }
      nlohmann::json parameters = tool.parameters;
      if (parameters.empty())
        parameters = {{"type", "object"}, {"properties", nlohmann::json::object()}};
      tool_specs.push_back({tool.name, tool.description, std::move(parameters)});
    }
    if (options.client) client = options.client;
  }

  std::shared_ptr<llm::LlmClient> get_client() const {
    std::lock_guard lock(client_mutex);
    if (!client) {
      client = llm::make_client(model.provider, llm::provider_settings_from_env(model.provider));
    }
    return client;
  }

  std::string call(const nlohmann::json& arguments, telemetry::ExecutionScope& scope) const;
  llm::Message run_tool(const llm::ToolCallRequest& request,
                        telemetry::ExecutionScope& scope) const;
};

llm::Message Agent::Impl::run_tool(const llm::ToolCallRequest& request,
                                   telemetry::ExecutionScope& scope) const {
  const auto start = Clock::now();
  telemetry::ToolCallInfo record{.tool_name = request.name};
  nlohmann::json arguments = nlohmann::json::object();
  std::string result;
  try {
    if (!request.arguments.empty()) {
      try {
        arguments = nlohmann::json::parse(request.arguments);
      } catch (const nlohmann::json::parse_error& error) {
        throw std::invalid_argument("the arguments are not valid JSON (" +
                                    std::string(error.what()) + "): " + request.arguments);
      }
    }
    const auto tool = tools_by_name.find(request.name);
    if (tool == tools_by_name.end()) {
      std::string names;
      for (const auto& spec : tool_specs) names += (names.empty() ? "" : ", ") + spec.name;
      throw std::invalid_argument("there is no tool named '" + request.name +
                                  "'; the tools are: " + (names.empty() ? "none" : names));
    }
    result = tool_result_text(tool->second->function(arguments));
  } catch (const std::exception& error) {
    // Reported to the model, which can correct itself, and recorded; not the end of the call.
    record.success = false;
    record.error = error.what();
    result = "error: " + record.error;
  }
  record.duration = seconds_since(start);
  // The tool saw the arguments as the model sent them; the record keeps them redacted.
  scope.record_tool_call(record, arguments, telemetry::RedactKeys{&is_secret_key});
  return llm::Message::tool_result(request.id, request.name, std::move(result));
}

std::string Agent::Impl::call(const nlohmann::json& arguments,
                              telemetry::ExecutionScope& scope) const {
  llm::ChatRequest request;
  request.model = model.model;
  if (!system_prompt.empty()) {
    request.messages.push_back(llm::Message::system(system_prompt.render(arguments)));
  }
  if (options.memory) {
    for (auto& m : options.memory->messages()) request.messages.push_back(std::move(m));
  }
  auto user_message = llm::Message::user(prompt.render(arguments));
  request.messages.push_back(user_message);
  request.tools = tool_specs;
  request.temperature = options.settings.temperature;
  request.top_p = options.settings.top_p;
  request.max_tokens = options.settings.max_tokens;
  request.stream = options.settings.stream;
  request.on_text = options.settings.on_text;
  request.extra = options.settings.extra;

  const auto client = get_client();
  for (int round = 0;; ++round) {
    const llm::ChatResponse response = client->complete(request);
    scope.record_llm_call(
        {.model = response.model.empty() ? model.model : response.model,
         .provider = response.provider.empty() ? model.provider : response.provider,
         .prompt_tokens = response.usage.prompt_tokens,
         .completion_tokens = response.usage.completion_tokens,
         .cached_tokens = response.usage.cached_tokens,
         .cache_write_tokens = response.usage.cache_write_tokens,
         .reasoning_tokens = response.usage.reasoning_tokens,
         .duration = response.duration,
         .time_to_first_token = response.time_to_first_token,
         .finish_reason = response.finish_reason,
         .retries = response.retries});
    if (options.capture_content && scope.active()) {
      nlohmann::json output = {{"content", response.content}};
      if (!response.tool_calls.empty()) {
        output["tool_calls"] = messages_json({llm::Message::assistant("", response.tool_calls)})
                                   .at(0)
                                   .at("tool_calls");
      }
      scope.record_event("llm_content", {{"round", round},
                                         {"input", messages_json(request.messages)},
                                         {"output", std::move(output)}});
    }
    if (response.tool_calls.empty()) {
      if (options.memory) {
        options.memory->add({std::move(user_message), llm::Message::assistant(response.content)});
      }
      return response.content;
    }
    if (round >= options.max_tool_rounds) {
      throw AgentError("agent '" + options.name + "' got no final answer within " +
                       std::to_string(options.max_tool_rounds) +
                       " tool rounds (the model keeps asking for tools); raise "
                       "AgentOptions::max_tool_rounds or check the tools' results");
    }
    request.messages.push_back(llm::Message::assistant(response.content, response.tool_calls));
    for (const auto& tool_call : response.tool_calls) {
      request.messages.push_back(run_tool(tool_call, scope));
    }
  }
}

Agent::Agent(AgentOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Agent::~Agent() = default;
Agent::Agent(Agent&&) noexcept = default;
Agent& Agent::operator=(Agent&&) noexcept = default;

const std::string& Agent::name() const noexcept {
  return impl_->options.name;
}

const AgentOptions& Agent::options() const noexcept {
  return impl_->options;
}

std::string Agent::render_prompt(const nlohmann::json& arguments) const {
  return impl_->prompt.render(arguments);
}

std::string Agent::operator()(const nlohmann::json& arguments) const {
  const auto& options = impl_->options;
  if (!options.enable_telemetry) {
    // No execution is current inside: this agent's calls, and its memory's operations, must
    // not land in an execution of an enclosing agent either.
    telemetry::ContextGuard none{telemetry::ExecutionContext{}};
    telemetry::ExecutionScope inactive;
    return impl_->call(arguments, inactive);
  }
  const auto telemetry = options.telemetry ? options.telemetry : telemetry::get_global_telemetry();
  auto scope = telemetry->collector().track_execution(options.name, arguments,
                                                      telemetry::RedactKeys{&is_secret_key});
  // Ended here on every path rather than by the scope's destructor, which would ask the C++
  // runtime whether an exception is in flight (a call into libstdc++ and its thread-local
  // storage, on every agent call).
  try {
    std::string answer = impl_->call(arguments, scope);
    scope.finish();
    return answer;
  } catch (const std::exception& error) {
    scope.fail(error);
    scope.finish();
    throw;
  } catch (...) {
    scope.fail("unknown exception", "unknown");
    scope.finish();
    throw;
  }
}

}  // namespace kagura::agent
