#pragma once

// Lenient reads of a provider's JSON: a field that is missing, null or of another type reads
// as empty, because compatible servers differ in what they leave out.

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kagura::llm::detail {

inline const nlohmann::json* field(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

inline std::string string_field(const nlohmann::json& object, std::string_view name) {
  const auto* value = field(object, name);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

inline std::int64_t int_field(const nlohmann::json& object, std::string_view name) {
  const auto* value = field(object, name);
  if (value == nullptr || !value->is_number()) return 0;
  // A count no int64 holds (1e300, 2^64 - 1) is as unusable as a missing one; converting it
  // would be undefined behaviour (a double) or wrap to a negative count (an unsigned).
  if (value->is_number_float()) {
    const double number = value->get<double>();
    return number > -9.2e18 && number < 9.2e18 ? static_cast<std::int64_t>(number) : 0;
  }
  if (value->is_number_unsigned()) {
    const auto number = value->get<std::uint64_t>();
    return number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? static_cast<std::int64_t>(number)
               : 0;
  }
  return value->get<std::int64_t>();
}

// A token count: a negative one from a broken or hostile server would make totals and costs
// go down, so it counts as none.
inline std::int64_t count_field(const nlohmann::json& object, std::string_view name) {
  const std::int64_t value = int_field(object, name);
  return value < 0 ? 0 : value;
}

// JSON text of a request body. Invalid UTF-8 in a message (a tool's binary output, say) is
// replaced rather than failing the call.
inline std::string dump_body(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kagura::llm::detail
