#pragma once

// C++ functions offered to the model as tools.
//
//   auto search = kagura::agent::Tool{
//       .name = "search",
//       .description = "Search the web",
//       .parameters = {{"type", "object"},
//                      {"properties", {{"query", {{"type", "string"}}}}},
//                      {"required", {"query"}}},
//       .function = [](const nlohmann::json& args) { return "Results for " +
//       args.at("query").get<std::string>(); },
//   };

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace kagura::agent {

// Receives the arguments the model wrote (a JSON object) and returns the result the model
// reads: a JSON string is passed as its text, anything else as its JSON. Throwing reports the
// error to the model (and records it) instead of ending the agent's call.
using ToolFunction = std::function<nlohmann::json(const nlohmann::json& arguments)>;

struct Tool {
  std::string name{};  // letters, digits, '_' and '-', as the providers require
  std::string description{};
  // JSON Schema of the arguments object; an empty object means "no parameters".
  nlohmann::json parameters = nlohmann::json::object();
  ToolFunction function{};
};

}  // namespace kagura::agent
