#include "kagura/telemetry/json_reuse.hpp"

#include <string>

namespace kagura::telemetry {

void copy_json_reusing(nlohmann::json& target, const nlohmann::json& source) {
  if (source.is_object()) {
    assign_members_reusing(target, source,
                           [](nlohmann::json& to, const std::string&, const nlohmann::json& from) {
                             copy_json_reusing(to, from);
                           });
  } else if (source.is_array()) {
    assign_elements_reusing(target, source, [](nlohmann::json& to, const nlohmann::json& from) {
      copy_json_reusing(to, from);
    });
  } else if (source.is_string() && target.is_string()) {
    target.get_ref<std::string&>().assign(source.get_ref<const std::string&>());
  } else {
    target = source;
  }
}

}  // namespace kagura::telemetry
