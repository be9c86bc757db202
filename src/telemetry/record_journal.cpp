#include "telemetry/record_journal.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace kagura::telemetry::detail {

void RecordJournal::put_text(std::string_view text) {
  const auto size = static_cast<std::uint32_t>(
      std::min<std::size_t>(text.size(), std::numeric_limits<std::uint32_t>::max()));
  put(size);
  bytes_.append(text.data(), size);
}

namespace {

enum class Tag : std::uint8_t {
  null,
  boolean_false,
  boolean_true,
  integer,
  unsigned_integer,
  floating,
  string,
  array,
  object,
  binary
};

// How many bytes of `text` a record keeps: all of them up to kMaxRecordedValueBytes, else as
// many as fit at a UTF-8 character boundary, followed by truncation_marker(dropped).
std::size_t recorded_string_size(std::string_view text) noexcept {
  if (text.size() <= kMaxRecordedValueBytes) return text.size();
  std::size_t at = kMaxRecordedValueBytes;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return at;
}

std::string truncation_marker(std::size_t dropped) {
  return "...[truncated " + std::to_string(dropped) + " bytes]";
}

}  // namespace

void RecordJournal::put_json(const nlohmann::json* value) {
  if (value == nullptr) {
    bytes_.push_back(static_cast<std::uint8_t>(Tag::null));
    return;
  }
  put_value(*value);
}

void RecordJournal::put_value(const nlohmann::json& value) {
  using Type = nlohmann::json::value_t;
  const auto put_tag = [&](Tag tag) { bytes_.push_back(static_cast<std::uint8_t>(tag)); };
  const auto put_count = [&](std::size_t count) {
    if (count > std::numeric_limits<std::uint32_t>::max()) {
      throw std::length_error("a recorded JSON value with 2^32 members or more");
    }
    put(static_cast<std::uint32_t>(count));
  };
  switch (value.type()) {
    case Type::null:
    case Type::discarded:
      put_tag(Tag::null);
      break;
    case Type::boolean:
      put_tag(value.get<bool>() ? Tag::boolean_true : Tag::boolean_false);
      break;
    case Type::number_integer:
      put_tag(Tag::integer);
      put(value.get<std::int64_t>());
      break;
    case Type::number_unsigned:
      put_tag(Tag::unsigned_integer);
      put(value.get<std::uint64_t>());
      break;
    case Type::number_float:
      put_tag(Tag::floating);
      put(value.get<double>());
      break;
    case Type::string: {
      const auto& text = value.get_ref<const std::string&>();
      const std::size_t keep = recorded_string_size(text);
      put_tag(Tag::string);
      if (keep == text.size()) {
        put_text(text);
      } else {
        const std::string marker = truncation_marker(text.size() - keep);
        put(static_cast<std::uint32_t>(keep + marker.size()));
        bytes_.append(text.data(), keep);
        bytes_.append(marker.data(), marker.size());
      }
      break;
    }
    case Type::array:
      put_tag(Tag::array);
      put_count(value.size());
      for (const auto& element : value) put_value(element);
      break;
    case Type::object:
      put_tag(Tag::object);
      put_count(value.size());
      for (const auto& [key, member] : value.get_ref<const nlohmann::json::object_t&>()) {
        put_text(key);
        put_value(member);
      }
      break;
    case Type::binary: {
      const auto& binary = value.get_binary();
      put_tag(Tag::binary);
      put_count(binary.size());
      bytes_.append(binary.data(), binary.size());
      put(static_cast<std::uint8_t>(binary.has_subtype()));
      put(static_cast<std::uint64_t>(binary.has_subtype() ? binary.subtype() : 0));
      break;
    }
  }
}

nlohmann::json RecordJournal::Reader::json(IsSecret is_secret) {
  switch (static_cast<Tag>(byte())) {
    case Tag::null:
      return nullptr;
    case Tag::boolean_false:
      return false;
    case Tag::boolean_true:
      return true;
    case Tag::integer: {
      std::int64_t number = 0;
      copy(number);
      return number;
    }
    case Tag::unsigned_integer: {
      std::uint64_t number = 0;
      copy(number);
      return number;
    }
    case Tag::floating: {
      double number = 0;
      copy(number);
      return number;
    }
    case Tag::string:
      return std::string(text());
    case Tag::array: {
      std::uint32_t count = 0;
      copy(count);
      nlohmann::json array = nlohmann::json::array();
      array.get_ref<nlohmann::json::array_t&>().reserve(count);
      for (std::uint32_t i = 0; i < count; ++i) array.push_back(json(is_secret));
      return array;
    }
    case Tag::object: {
      std::uint32_t count = 0;
      copy(count);
      nlohmann::json object = nlohmann::json::object();
      auto& members = object.get_ref<nlohmann::json::object_t&>();
      for (std::uint32_t i = 0; i < count; ++i) {
        std::string key(text());
        nlohmann::json member = json(is_secret);
        if (is_secret != nullptr && is_secret(key)) member = "[REDACTED]";
        members.emplace_hint(members.end(), std::move(key), std::move(member));
      }
      return object;
    }
    case Tag::binary: {
      std::uint32_t size = 0;
      copy(size);
      std::vector<std::uint8_t> data(at, at + size);
      at += size;
      std::uint8_t has_subtype = 0;
      std::uint64_t subtype = 0;
      copy(has_subtype);
      copy(subtype);
      return has_subtype != 0 ? nlohmann::json::binary(std::move(data), subtype)
                              : nlohmann::json::binary(std::move(data));
    }
  }
  return nullptr;
}

void RecordJournal::add_agent_name(std::string_view name) {
  put_kind(Kind::agent_name);
  put_text(name);
}

void RecordJournal::add_arguments(const nlohmann::json* arguments, RedactKeys redact) {
  put_kind(Kind::arguments);
  put_json(arguments, redact);
}

void RecordJournal::add_llm_call(const LlmNumbers& numbers, const LlmCallInfo& info) {
  put_kind(Kind::llm_call);
  put(numbers);
  put_text(info.model);
  put_text(info.provider);
  put_text(info.finish_reason);
}

void RecordJournal::add_tool_call(const ToolNumbers& numbers, const ToolCallInfo& info,
                                  const nlohmann::json* arguments, RedactKeys redact) {
  put_kind(Kind::tool_call);
  put(numbers);
  put_text(info.tool_name);
  put_text(info.error);
  put_json(arguments, redact);
}

void RecordJournal::add_memory_operation(const MemoryNumbers& numbers,
                                         const MemoryOperationInfo& info) {
  put_kind(Kind::memory_operation);
  put(numbers);
  put_text(info.operation);
  put_text(info.memory_type);
  put_json(&info.details);
}

void RecordJournal::add_custom_event(double timestamp, std::string_view type,
                                     const nlohmann::json& data) {
  put_kind(Kind::custom_event);
  put(timestamp);
  put_text(type);
  put_json(&data);
}

void RecordJournal::add_failure(std::string_view message, std::string_view error_type,
                                bool unless_failed) {
  put_kind(Kind::failure);
  put(static_cast<std::uint8_t>(unless_failed));
  put_text(message);
  put_text(error_type);
}

void RecordJournal::add_metric(std::string_view name, const nlohmann::json& value) {
  put_kind(Kind::metric);
  put_text(name);
  put_json(&value);
}

void RecordJournal::add_tag(std::string_view key, std::string_view value) {
  put_kind(Kind::tag);
  put_text(key);
  put_text(value);
}

}  // namespace kagura::telemetry::detail
