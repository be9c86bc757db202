#include "kagura/config/telemetry_config.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "kagura/config/dotenv.hpp"
#include "kagura/telemetry/notice.hpp"

namespace kagura::config {
namespace {

constexpr std::string_view kKnown[] = {
    "KAGURA_TELEMETRY_ENABLED",     "KAGURA_TELEMETRY_BACKEND",
    "KAGURA_TELEMETRY_CONNECTION",  "KAGURA_TELEMETRY_QUEUE_CAPACITY",
    "KAGURA_TELEMETRY_BATCH_SIZE",  "KAGURA_TELEMETRY_FLUSH_INTERVAL_MS",
    "KAGURA_TELEMETRY_OVERFLOW",    "KAGURA_TELEMETRY_SPOOL",
    "KAGURA_TELEMETRY_SPOOL_MAX_MB"};

struct Setting {
  std::string value;
  std::string source;
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parse_bool(const Setting& setting, std::string_view name) {
  const auto value = lower(setting.value);
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw ConfigError(std::string(name) + "='" + setting.value + "' (from " + setting.source +
                    ") is not a boolean: use true or false");
}

std::uint64_t parse_positive(const Setting& setting, std::string_view name) {
  std::uint64_t number = 0;
  const auto* begin = setting.value.data();
  const auto* end = begin + setting.value.size();
  const auto [ptr, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc() || ptr != end || number == 0) {
    throw ConfigError(std::string(name) + "='" + setting.value + "' (from " + setting.source +
                      ") must be a whole number of at least 1");
  }
  return number;
}

// The spool of one store: stores differ by backend and connection, and executions spooled
// for one must never be delivered to another. The name must be the same in every process
// and every build, which std::hash does not promise, hence FNV-1a (a few lines, no library
// needed).
std::string default_spool_name(const std::string& backend, const std::string& connection) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char c : connection) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return backend + "-" + hex;
}

bool is_off(std::string_view value) {
  const auto text = lower(value);
  return text == "off" || text == "false" || text == "0" || text == "no" || text == "none";
}

}  // namespace

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

TelemetryConfig load_telemetry_config(const Environment& environment,
                                      const std::filesystem::path& kagura_home) {
  const auto env_file = kagura_home / ".env";
  const DotenvValues file_values = load_dotenv_file(env_file);
  for (const auto& [key, value] : file_values) {
    if (key.starts_with("KAGURA_TELEMETRY_") &&
        std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      telemetry::notify("unknown setting " + key + " in " + env_file.string() +
                        " is ignored; check its spelling");
    }
  }
  auto lookup = [&](std::string_view name) -> std::optional<Setting> {
    if (auto value = environment(name)) return Setting{*value, "environment"};
    if (auto it = file_values.find(name); it != file_values.end()) {
      return Setting{it->second, env_file.string()};
    }
    return std::nullopt;
  };

  TelemetryConfig config;
  for (auto name : kKnown) config.sources[std::string(name)] = "default";
  auto note = [&](std::string_view name, const Setting& setting) {
    config.sources[std::string(name)] = setting.source;
  };

  if (auto s = lookup("KAGURA_TELEMETRY_ENABLED")) {
    config.enabled = parse_bool(*s, "KAGURA_TELEMETRY_ENABLED");
    note("KAGURA_TELEMETRY_ENABLED", *s);
  }
  if (auto s = lookup("KAGURA_TELEMETRY_BACKEND"); s && !s->value.empty()) {
    config.backend = lower(s->value);
    note("KAGURA_TELEMETRY_BACKEND", *s);
  }
  if (auto s = lookup("KAGURA_TELEMETRY_CONNECTION")) {
    config.connection = s->value;
    note("KAGURA_TELEMETRY_CONNECTION", *s);
  }
  if (auto s = lookup("KAGURA_TELEMETRY_QUEUE_CAPACITY")) {
    config.pipeline.queue_capacity = parse_positive(*s, "KAGURA_TELEMETRY_QUEUE_CAPACITY");
    note("KAGURA_TELEMETRY_QUEUE_CAPACITY", *s);
  }
  if (auto s = lookup("KAGURA_TELEMETRY_BATCH_SIZE")) {
    config.pipeline.max_batch = parse_positive(*s, "KAGURA_TELEMETRY_BATCH_SIZE");
    note("KAGURA_TELEMETRY_BATCH_SIZE", *s);
  }
  if (auto s = lookup("KAGURA_TELEMETRY_FLUSH_INTERVAL_MS")) {
    config.pipeline.flush_interval =
        std::chrono::milliseconds(parse_positive(*s, "KAGURA_TELEMETRY_FLUSH_INTERVAL_MS"));
    note("KAGURA_TELEMETRY_FLUSH_INTERVAL_MS", *s);
  }
  if (auto s = lookup("KAGURA_TELEMETRY_OVERFLOW")) {
    try {
      config.pipeline.overflow = pipeline::parse_overflow_policy(lower(s->value));
    } catch (const std::invalid_argument& e) {
      throw ConfigError("KAGURA_TELEMETRY_OVERFLOW (from " + s->source + "): " + e.what());
    }
    note("KAGURA_TELEMETRY_OVERFLOW", *s);
  }
  if (auto s = lookup("KAGURA_TELEMETRY_SPOOL_MAX_MB")) {
    config.pipeline.spool_max_bytes =
        parse_positive(*s, "KAGURA_TELEMETRY_SPOOL_MAX_MB") * 1024 * 1024;
    note("KAGURA_TELEMETRY_SPOOL_MAX_MB", *s);
  }
  // An in-memory store dies with the process, so keeping its executions for later is moot.
  const bool memory_store = config.backend == "sqlite" && config.connection == ":memory:";
  if (auto s = lookup("KAGURA_TELEMETRY_SPOOL"); s && !s->value.empty()) {
    if (!is_off(s->value)) config.pipeline.spool_directory = s->value;
    note("KAGURA_TELEMETRY_SPOOL", *s);
  } else if (!memory_store) {
    config.pipeline.spool_directory =
        kagura_home / "spool" / default_spool_name(config.backend, config.connection);
  }
  return config;
}

TelemetryConfig load_telemetry_config() {
  return load_telemetry_config(process_environment(), kagura_home());
}

}  // namespace kagura::config
