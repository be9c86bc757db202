#include "kagura/config/telemetry_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "config/text.hpp"
#include "kagura/config/dotenv.hpp"
#include "kagura/telemetry/notice.hpp"

namespace kagura::config {
namespace {

constexpr std::string_view kKnown[] = {
    "KAGURA_TELEMETRY_ENABLED",      "KAGURA_TELEMETRY_BACKEND",
    "KAGURA_TELEMETRY_CONNECTION",   "KAGURA_TELEMETRY_QUEUE_CAPACITY",
    "KAGURA_TELEMETRY_BATCH_SIZE",   "KAGURA_TELEMETRY_FLUSH_INTERVAL_MS",
    "KAGURA_TELEMETRY_OVERFLOW",     "KAGURA_TELEMETRY_SPOOL",
    "KAGURA_TELEMETRY_SPOOL_MAX_MB", "KAGURA_TELEMETRY_DURABLE"};

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

std::string trim(std::string_view text) {
  return std::string(trim_whitespace(text));
}

// OTEL_EXPORTER_OTLP_HEADERS: "k=v,k2=v2" with URL-encoded values (the W3C Baggage form the
// OpenTelemetry specification uses).
std::vector<std::pair<std::string, std::string>> parse_otlp_headers(const Setting& setting,
                                                                    std::string_view name) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t start = 0;
  while (start <= setting.value.size()) {
    auto end = setting.value.find(',', start);
    if (end == std::string::npos) end = setting.value.size();
    const std::string entry = trim(std::string_view(setting.value).substr(start, end - start));
    start = end + 1;
    if (entry.empty()) continue;
    const auto equals = entry.find('=');
    const std::string key = equals == std::string::npos ? "" : trim(entry.substr(0, equals));
    const bool token = !key.empty() && key.find_first_of(" \t:\r\n") == std::string::npos;
    if (!token) {
      throw ConfigError(std::string(name) + " (from " + setting.source + ") has '" + entry +
                        "', which is not name=value: write it as name=value,name2=value2 with "
                        "the values URL-encoded, e.g. authorization=Bearer%20TOKEN");
    }
    std::string value;
    const std::string raw = trim(entry.substr(equals + 1));
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '%') {
        value.push_back(raw[i]);
        continue;
      }
      if (i + 2 >= raw.size() || !std::isxdigit(static_cast<unsigned char>(raw[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
        throw ConfigError(std::string(name) + " (from " + setting.source + "): the value of '" +
                          key +
                          "' has a '%' not followed by two hex digits: write a literal % "
                          "as %25");
      }
      value.push_back(static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      throw ConfigError(std::string(name) + " (from " + setting.source + "): the value of '" + key +
                        "' holds a line break, which no HTTP header can carry");
    }
    headers.emplace_back(key, value);
  }
  return headers;
}

bool is_off(std::string_view value) {
  const auto text = lower(value);
  return text == "off" || text == "false" || text == "0" || text == "no" || text == "none";
}

}  // namespace

std::string otlp_endpoint_problem(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos ||
      (url.substr(0, scheme) != "http" && url.substr(0, scheme) != "https")) {
    return "is not an http:// or https:// URL";
  }
  const auto host = url.substr(scheme + 3, url.find_first_of("/?#", scheme + 3) - scheme - 3);
  if (host.empty() || host.starts_with(':')) return "has no host";
  if (url.find_first_of(" \t\r\n") != std::string_view::npos) return "contains white space";
  return {};
}

namespace {

template <typename Lookup>
void load_otlp_settings(TelemetryConfig& config, const Lookup& lookup,
                        const std::filesystem::path& kagura_home) {
  if (auto s = lookup("OTEL_SDK_DISABLED"); s && lower(trim(s->value)) == "true") return;
  auto endpoint_of = [&](std::string_view name, bool append_path) -> std::string {
    const auto s = lookup(name);
    if (!s || trim(s->value).empty()) return {};
    std::string url = trim(s->value);
    if (const auto problem = otlp_endpoint_problem(url); !problem.empty()) {
      throw ConfigError(
          std::string(name) + "='" + s->value + "' (from " + s->source + ") " + problem +
          ": give the collector's address, e.g. " +
          (append_path ? "http://localhost:4318" : "http://localhost:4318/v1/traces"));
    }
    config.sources[std::string(name)] = s->source;
    // The specification's rule: the signal's path is appended to the general endpoint only.
    if (append_path) {
      while (url.ends_with('/')) url.pop_back();
      url += "/v1/traces";
    }
    return url;
  };
  config.otlp.endpoint = endpoint_of("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", false);
  if (config.otlp.endpoint.empty()) {
    config.otlp.endpoint = endpoint_of("OTEL_EXPORTER_OTLP_ENDPOINT", true);
  }
  if (config.otlp.endpoint.empty()) return;
  for (const auto name : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
    if (auto s = lookup(name)) {
      for (auto& header : parse_otlp_headers(*s, name)) {
        // The traces-specific setting comes second and wins for a name both give.
        std::erase_if(config.otlp.headers,
                      [&](const auto& h) { return lower(h.first) == lower(header.first); });
        config.otlp.headers.push_back(std::move(header));
      }
      config.sources[name] = s->source;
    }
  }
  for (const auto name : {"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"}) {
    if (auto s = lookup(name)) {
      config.otlp.timeout = std::chrono::milliseconds(parse_positive(*s, name));
      config.sources[name] = s->source;
    }
  }
  if (auto s = lookup("OTEL_SERVICE_NAME"); s && !trim(s->value).empty()) {
    config.otlp.service_name = trim(s->value);
    config.sources["OTEL_SERVICE_NAME"] = s->source;
  }
  // The store's spool setting decides for the exporter too: off is off for both.
  const auto spool = lookup("KAGURA_TELEMETRY_SPOOL");
  if (!spool || spool->value.empty() || !is_off(spool->value)) {
    config.otlp_spool_directory =
        kagura_home / "spool" / default_spool_name("otlp", config.otlp.endpoint);
  }
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
  if (auto s = lookup("KAGURA_TELEMETRY_DURABLE")) {
    config.durable = parse_bool(*s, "KAGURA_TELEMETRY_DURABLE");
    note("KAGURA_TELEMETRY_DURABLE", *s);
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
  if (!memory_store) config.status_directory = kagura_home / "pipelines";
  try {
    load_otlp_settings(config, lookup, kagura_home);
  } catch (const ConfigError& e) {
    config.otlp = {};
    config.otlp_spool_directory.clear();
    config.otlp_problem = e.what();
  }
  return config;
}

TelemetryConfig load_telemetry_config() {
  return load_telemetry_config(process_environment(), kagura_home());
}

}  // namespace kagura::config
