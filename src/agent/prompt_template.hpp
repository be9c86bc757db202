#pragma once

// An agent's prompt: Mustache ({{ name }}, sections) rendered from the call's JSON arguments,
// strictly: a name the arguments do not have is an error rather than an empty string, because a
// silently empty placeholder sends the model a prompt the user never wrote.

#include <nlohmann/json.hpp>
#include <string>

namespace kagura::agent::detail {

class PromptTemplate {
 public:
  PromptTemplate() = default;
  // `what` names the template in errors ("prompt of agent 'hello'"). Throws AgentError when the
  // text does not parse.
  PromptTemplate(std::string text, std::string what);

  bool empty() const noexcept { return text_.empty(); }
  // Throws AgentError naming missing arguments, or when `arguments` is not a JSON object.
  std::string render(const nlohmann::json& arguments) const;

 private:
  std::string text_;
  std::string what_;
};

}  // namespace kagura::agent::detail
