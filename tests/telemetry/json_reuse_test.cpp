// Copies into a JSON value that already holds another: the result is always the source's value,
// and memory of the same shape is written over rather than replaced.

#include "kagura/telemetry/json_reuse.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kagura::telemetry {
namespace {

using nlohmann::json;

std::vector<json> values() {
  return {nullptr,
          true,
          -3,
          7U,
          2.5,
          "",
          "short",
          "a string longer than the small-string buffer",
          json::object(),
          json::array(),
          {{"topic", "the history of tea"}},
          {{"topic", "coffee"}, {"depth", 2}},
          {{"a", {{"b", {1, 2, {{"c", "deep"}}}}}}},
          {1, "two", {{"three", 3}}, json::array()},
          json::array({"x", "y", "z", "w"}),
          json::binary({1, 2, 3})};
}

TEST(CopyJsonReusingTest, TheResultIsTheSourceWhateverTheTargetHeld) {
  for (const json& held : values()) {
    for (const json& source : values()) {
      json target = held;
      copy_json_reusing(target, source);
      EXPECT_EQ(target, source) << "held " << held.dump() << ", copied " << source.dump();
    }
  }
}

TEST(CopyJsonReusingTest, AValueOfTheSameShapeIsWrittenInPlace) {
  json target = {{"query", "a query longer than fifteen characters"},
                 {"filters", {"first filter, long enough", "second"}}};
  const char* query_text = target["query"].get_ref<std::string&>().data();
  const json* filters = &target["filters"];
  const char* first_filter_text = target["filters"][0].get_ref<std::string&>().data();

  const json source = {{"query", "another query, not longer"}, {"filters", {"other filter"}}};
  copy_json_reusing(target, source);

  EXPECT_EQ(target, source);
  EXPECT_EQ(target["query"].get_ref<std::string&>().data(), query_text) << "string reused";
  EXPECT_EQ(&target["filters"], filters) << "member reused";
  EXPECT_EQ(target["filters"][0].get_ref<std::string&>().data(), first_filter_text)
      << "array element reused";
}

TEST(CopyJsonReusingTest, ObjectsKeepTheMembersBothHaveAndOnlyThose) {
  json target = {{"a", 1}, {"c", "kept member"}, {"e", 3}};
  const json* c = &target["c"];
  const json source = {{"b", 2}, {"c", "new value"}, {"d", {{"nested", true}}}};
  copy_json_reusing(target, source);
  EXPECT_EQ(target, source);
  EXPECT_EQ(&target["c"], c);
  EXPECT_EQ(target.size(), 3U);
}

TEST(AssignMembersReusingTest, TheAssignerSeesEveryKeyOfTheSourceInOrder) {
  json target = {{"z", 0}};
  const json source = {{"b", 1}, {"a", 2}, {"c", 3}};
  std::vector<std::string> keys;
  assign_members_reusing(target, source, [&](json& to, const std::string& key, const json& from) {
    keys.push_back(key);
    to = from.get<int>() * 10;
  });
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(target, json({{"a", 20}, {"b", 10}, {"c", 30}}));
}

}  // namespace
}  // namespace kagura::telemetry
