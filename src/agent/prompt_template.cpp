#include "agent/prompt_template.hpp"

#include <kainjow/mustache.hpp>
#include <set>

#include "kagura/agent/agent.hpp"

namespace kagura::agent::detail {
namespace {

namespace mustache = kainjow::mustache;

mustache::data to_mustache(const nlohmann::json& value) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::object: {
      mustache::data object{mustache::data::type::object};
      for (const auto& [key, item] : value.items()) object.set(key, to_mustache(item));
      return object;
    }
    case Type::array: {
      mustache::data list{mustache::data::type::list};
      for (const auto& item : value) list.push_back(to_mustache(item));
      return list;
    }
    case Type::string:
      return mustache::data{value.get<std::string>()};
    case Type::boolean:
      return mustache::data{value.get<bool>() ? mustache::data::type::bool_true
                                              : mustache::data::type::bool_false};
    case Type::null:
    case Type::discarded:
    case Type::binary:
      return mustache::data{std::string()};
    default:
      return mustache::data{value.dump()};  // numbers as JSON writes them
  }
}

// Remembers the names a render looked up and did not find.
class StrictContext final : public mustache::context<std::string> {
 public:
  using mustache::context<std::string>::context;
  const mustache::data* get(const std::string& name) const override {
    const auto* found = mustache::context<std::string>::get(name);
    if (found == nullptr) missing_.insert(name);
    return found;
  }
  const std::set<std::string>& missing() const noexcept { return missing_; }

 private:
  mutable std::set<std::string> missing_;
};

std::string join_keys(const nlohmann::json& object) {
  std::string keys;
  for (const auto& [key, ignored] : object.items()) keys += (keys.empty() ? "" : ", ") + key;
  return keys.empty() ? "none" : keys;
}

mustache::mustache parse(const std::string& text, const std::string& what) {
  mustache::mustache parsed{text};
  if (!parsed.is_valid()) {
    throw AgentError(what + " is not a valid template: " + parsed.error_message() +
                     " (placeholders are written {{ name }}, sections {{# name }}...{{/ name }})");
  }
  // Prompts are not HTML: send the arguments as they are.
  parsed.set_custom_escape([](const std::string& s) { return s; });
  return parsed;
}

}  // namespace

PromptTemplate::PromptTemplate(std::string text, std::string what)
    : text_(std::move(text)), what_(std::move(what)) {
  parse(text_, what_);
}

std::string PromptTemplate::render(const nlohmann::json& arguments) const {
  if (!arguments.is_object()) {
    throw AgentError(what_ + ": the arguments must be a JSON object of named values, got " +
                     std::string(arguments.type_name()) +
                     " (call the agent with {{\"name\", value}})");
  }
  // Parsed per call: kainjow's render() is not const, and parsing a prompt costs microseconds
  // against an LLM call's hundreds of milliseconds.
  auto parsed = parse(text_, what_);
  const auto data = to_mustache(arguments);
  StrictContext context{&data};
  std::string rendered = parsed.render(context);
  if (!parsed.is_valid()) throw AgentError(what_ + ": " + parsed.error_message());
  if (!context.missing().empty()) {
    std::string names;
    for (const auto& name : context.missing()) names += (names.empty() ? "" : ", ") + name;
    throw AgentError(what_ + " uses {{ " + names + " }} but the call has no such argument " +
                     "(arguments given: " + join_keys(arguments) +
                     "); pass it, or false / [] to leave a section out");
  }
  return rendered;
}

}  // namespace kagura::agent::detail
