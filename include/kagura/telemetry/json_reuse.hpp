#pragma once

// Copies of JSON values into a JSON value that already holds an earlier one, reusing its
// memory. A recycled execution record still holds the previous execution's argument trees;
// assigning into them member by member costs no allocation when the shape is the same (an
// agent called again with the same named arguments), where a fresh copy would free one tree
// and allocate another on every call.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <utility>

namespace kagura::telemetry {

// Makes `target` an object with the keys of the object `source`, in one ordered walk of both:
// a member `target` already has is kept, one it lacks is added as null, one `source` lacks is
// erased; then assign(target_member, key, source_member) writes each member's value.
template <class Assign>
void assign_members_reusing(nlohmann::json& target, const nlohmann::json& source, Assign&& assign) {
  if (!target.is_object()) target = nlohmann::json::object();
  auto& members = target.get_ref<nlohmann::json::object_t&>();
  auto next = members.begin();
  for (const auto& [key, value] : source.get_ref<const nlohmann::json::object_t&>()) {
    while (next != members.end() && next->first < key) next = members.erase(next);
    if (next == members.end() || next->first != key) {
      next = members.emplace_hint(next, key, nullptr);
    }
    assign(next->second, key, value);
    ++next;
  }
  members.erase(next, members.end());
}

// Makes `target` an array of the size of the array `source`, keeping its first elements, then
// assign(target_element, source_element) writes each element.
template <class Assign>
void assign_elements_reusing(nlohmann::json& target, const nlohmann::json& source,
                             Assign&& assign) {
  if (!target.is_array()) target = nlohmann::json::array();
  auto& elements = target.get_ref<nlohmann::json::array_t&>();
  const auto& from = source.get_ref<const nlohmann::json::array_t&>();
  elements.resize(from.size());
  for (std::size_t i = 0; i < from.size(); ++i) assign(elements[i], from[i]);
}

// target = source, reusing target's strings, arrays and object members where they are of the
// same kind as source's.
void copy_json_reusing(nlohmann::json& target, const nlohmann::json& source);

}  // namespace kagura::telemetry
