#include "cli/init_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_support.hpp"
#include "cli/output.hpp"
#include "kagura/config/env_file.hpp"
#include "kagura/config/paths.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/exporters/otlp_trace_exporter.hpp"
#include "kagura/storage/factory.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;

struct InitOptions {
  std::string backend = "sqlite";
  std::string connection;
  std::string otlp_endpoint;
  bool force = false;
};

const std::set<std::string, std::less<>> kBuiltinBackends = {"sqlite", "postgresql", "postgres",
                                                             "mongodb", "mongo"};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The name written to .env: the factory's aliases are accepted, the main name is saved.
std::string canonical_backend(std::string_view backend) {
  std::string name = lower(backend);
  if (name == "postgres") return "postgresql";
  if (name == "mongo") return "mongodb";
  return name;
}

bool is_known_backend(const std::string& name) {
  const auto known = storage::storage_backends();
  return std::find(known.begin(), known.end(), name) != known.end();
}

void require_known_backend(const std::string& name) {
  if (is_known_backend(name)) return;
  storage::load_storage_plugins();  // a plugin's backend is known only once it is loaded
  if (is_known_backend(name)) return;
  std::string names;
  for (const auto& known : storage::storage_backends())
    names += (names.empty() ? "" : ", ") + known;
  throw CliError("unknown backend '" + name + "' given to --backend: the known backends are " +
                 names +
                 "; a plugin's backend is known once its library is listed in "
                 "KAGURA_STORAGE_PLUGINS");
}

void require_server_connection(const std::string& backend, const std::string& connection) {
  if (!connection.empty()) return;
  if (backend == "postgresql") {
    throw CliError(
        "--backend postgresql needs --connection with the server's URI, e.g. --connection "
        "postgresql://kagura:PASSWORD@localhost:5432/kagura");
  }
  if (backend == "mongodb") {
    throw CliError(
        "--backend mongodb needs --connection with the server's URI, e.g. --connection "
        "mongodb://localhost:27017/kagura");
  }
}

// Later programs run in other directories, so a relative SQLite path is saved as an absolute
// one.
std::string sqlite_connection(const std::string& connection) {
  if (connection == storage::SqliteStore::kMemory) {
    throw CliError(
        "--connection :memory: keeps nothing once a program ends, so there would be nothing to "
        "monitor: give a file path, or leave --connection out for ~/.kagura/telemetry.db");
  }
  if (connection.empty() || connection.starts_with("file:")) return connection;
  return fs::absolute(connection).lexically_normal().string();
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// The password in a connection string: a URI's user info (scheme://user:PASSWORD@host/...) or
// a libpq keyword (password=PASSWORD).
std::optional<std::string> password_of(const std::string& connection) {
  if (const auto scheme = connection.find("://"); scheme != std::string::npos) {
    const auto authority = scheme + 3;
    const auto path = connection.find_first_of("/?", authority);
    const auto at = connection.substr(0, path).rfind('@');
    const auto colon = connection.find(':', authority);
    if (at != std::string::npos && at >= authority && colon != std::string::npos && colon < at) {
      return connection.substr(colon + 1, at - colon - 1);
    }
  }
  static const std::regex keyword(R"(password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s&]+)))",
                                  std::regex::icase);
  std::smatch match;
  if (std::regex_search(connection, match, keyword)) {
    return match[1].matched ? match[1].str() : match[2].str();
  }
  return std::nullopt;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// The stores mask passwords in their own messages; this also covers what a driver or plugin
// may quote back. Very short passwords are masked only where the whole connection string
// appears, since replacing every "ab" in a message would garble it.
std::string mask_password(std::string message, const std::string& connection) {
  const auto password = password_of(connection);
  if (!password || password->empty()) return message;
  std::string masked_connection = connection;
  replace_all(masked_connection, *password, "***");
  replace_all(message, connection, masked_connection);
  for (const auto& secret : {*password, percent_decode(*password)}) {
    if (secret.size() >= 3) replace_all(message, secret, "***");
  }
  return message;
}

// One line (libpq's messages have line breaks) that names init's own option where the store
// names the variable it would be read from, with the password masked.
std::string failure_reason(const std::string& what, const std::string& connection) {
  std::string reason;
  for (const char c : mask_password(what, connection)) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space) {
      reason.push_back(c);
    } else if (!reason.empty() && reason.back() != ' ') {
      reason.push_back(' ');
    }
  }
  while (!reason.empty() && reason.back() == ' ') reason.pop_back();
  replace_all(reason, "KAGURA_TELEMETRY_CONNECTION", "--connection");
  return reason;
}

// The variable init writes for --otlp-endpoint: a URL that already ends in the traces path is
// used as it is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); otherwise /v1/traces is appended to it
// (OTEL_EXPORTER_OTLP_ENDPOINT), as the OpenTelemetry specification says.
std::string otlp_variable(const std::string& endpoint) {
  std::string path = endpoint;
  while (path.ends_with('/')) path.pop_back();
  return path.ends_with("/v1/traces") ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
                                      : "OTEL_EXPORTER_OTLP_ENDPOINT";
}

std::string otlp_traces_url(const std::string& endpoint) {
  if (otlp_variable(endpoint) == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") return endpoint;
  std::string url = endpoint;
  while (url.ends_with('/')) url.pop_back();
  return url + "/v1/traces";
}

std::string env_file_text(const std::string& backend, const std::string& connection,
                          const std::string& otlp_endpoint) {
  std::string text =
      "# Kagura AI Configuration\n"
      "# Auto-generated by: kagura init\n"
      "\n"
      "# Telemetry Storage Backend\n"
      "KAGURA_TELEMETRY_BACKEND=" +
      config::format_dotenv_value(backend) + "\n";
  if (!connection.empty()) {
    text += "\n# Database Connection\nKAGURA_TELEMETRY_CONNECTION=" +
            config::format_dotenv_value(connection) + "\n";
  }
  if (!otlp_endpoint.empty()) {
    text += "\n# OpenTelemetry trace export (docs/opentelemetry.md)\n" +
            otlp_variable(otlp_endpoint) + "=" + config::format_dotenv_value(otlp_endpoint) + "\n";
  }
  return text;
}

// Variables in the environment win over .env (see telemetry_config.hpp); say so when one
// would hide what was just configured.
void warn_about_overrides(const std::string& backend, const std::string& connection,
                          const std::string& otlp_endpoint, const fs::path& env_path) {
  auto differs = [](const char* name, const std::string& value) {
    const char* set = std::getenv(name);
    return set != nullptr && std::string_view(set) != value;
  };
  std::vector<std::string> overriding;
  if (differs("KAGURA_TELEMETRY_BACKEND", backend)) {
    overriding.push_back("KAGURA_TELEMETRY_BACKEND");
  }
  if (differs("KAGURA_TELEMETRY_CONNECTION", connection)) {
    overriding.push_back("KAGURA_TELEMETRY_CONNECTION");
  }
  if (!otlp_endpoint.empty()) {
    const std::string variable = otlp_variable(otlp_endpoint);
    if (differs(variable.c_str(), otlp_endpoint)) overriding.push_back(variable);
    // The traces-specific variable wins over the general one wherever it is set.
    if (variable != "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" &&
        std::getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != nullptr) {
      overriding.push_back("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    }
  }
  for (const auto& name : overriding) {
    std::fprintf(stderr,
                 "⚠ %s is set in this environment and overrides %s: unset it to use the "
                 "configuration just written\n",
                 name.c_str(), env_path.c_str());
  }
}

std::string check() {
  return green("✓");
}

// An endpoint that does not answer yet is not an error: collectors are often started after the
// agents, and spans wait in the spool until it answers. An empty request (valid OTLP) shows
// whether it does.
void check_otlp_endpoint(const std::string& url) {
  fmt::print("\nChecking the OpenTelemetry endpoint {}...\n", url);
  std::fflush(stdout);
  try {
    exporters::OtlpTraceExporter exporter({.endpoint = url, .timeout = std::chrono::seconds(5)});
    exporter.send(R"({"resourceSpans":[]})");
    fmt::print("{} OpenTelemetry endpoint answered: every execution is sent there as a trace\n",
               check());
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "⚠ %s. Saved anyway: spans wait in the spool until the endpoint answers\n",
                 e.what());
  }
}

int run_init(const InitOptions& options) {
  const std::string backend = canonical_backend(options.backend);
  if (backend.empty()) throw CliError("--backend needs a name: sqlite, postgresql or mongodb");
  require_known_backend(backend);
  require_server_connection(backend, options.connection);
  const std::string connection =
      backend == "sqlite" ? sqlite_connection(options.connection) : options.connection;
  if (!options.otlp_endpoint.empty()) {
    if (const auto problem = config::otlp_endpoint_problem(options.otlp_endpoint);
        !problem.empty()) {
      throw CliError("--otlp-endpoint '" + options.otlp_endpoint + "' " + problem +
                     ": give the OpenTelemetry collector's OTLP/HTTP address, e.g. "
                     "--otlp-endpoint http://localhost:4318");
    }
  }

  const fs::path home = config::kagura_home();
  const fs::path env_path = home / ".env";
  std::error_code error;
  const bool had_env = fs::exists(fs::symlink_status(env_path, error));
  if (had_env && !options.force) {
    std::fprintf(stderr,
                 "⚠ Configuration already exists at %s and was left unchanged: use --force to "
                 "overwrite it (the telemetry already recorded is kept)\n",
                 env_path.c_str());
    return 1;
  }

  const bool created_home = !fs::exists(home, error);
  try {
    fs::create_directories(home);
  } catch (const fs::filesystem_error& e) {
    throw CliError("cannot create " + home.string() + " (" + e.code().message() +
                   "): check the permissions of " + home.parent_path().string() +
                   ", or set KAGURA_HOME to a writable directory");
  }
  fmt::print("{} {} {}\n", check(), created_home ? "Created" : "Found", home.string());

  fmt::print("\nInitializing {} database...\n", backend);
  std::fflush(stdout);
  std::string location;
  try {
    // Opening creates or migrates the schema; a count proves that the store answers.
    auto store = storage::create_storage_adapter(backend, connection);
    const auto stored = store->count_executions({});
    location = store->backend_name() + " " + store->location();
    fmt::print("{} Database initialized: {} ({} executions stored)\n", check(), location,
               format_count(stored));
  } catch (const std::exception& e) {
    // A configuration that does not work is never saved, and a directory made for it alone
    // does not stay behind (remove() leaves a directory that is not empty).
    if (created_home) fs::remove(home, error);
    std::fflush(stdout);
    std::fprintf(stderr, "✗ Database initialization failed: %s; nothing was written to %s\n",
                 failure_reason(e.what(), connection).c_str(), env_path.c_str());
    return 1;
  }

  if (!options.otlp_endpoint.empty()) check_otlp_endpoint(otlp_traces_url(options.otlp_endpoint));

  config::write_env_file(env_path, env_file_text(backend, connection, options.otlp_endpoint));
  fmt::print("{} {} {}\n", check(), had_env ? "Overwrote" : "Created", env_path.string());
  warn_about_overrides(backend, connection, options.otlp_endpoint, env_path);

  fmt::print("\n{} {}\n", check(), bold("Kagura initialization complete!"));
  fmt::print("\nNext steps:\n");
  fmt::print("  1. Run your agents: they record to {}\n", location);
  fmt::print("     (settings in {}; environment variables of the same names override them)\n",
             env_path.string());
  if (kBuiltinBackends.count(backend) == 0) {
    const char* plugins = std::getenv("KAGURA_STORAGE_PLUGINS");
    fmt::print(
        "     The {} backend comes from a plugin: programs that record, and kagura, need\n"
        "     KAGURA_STORAGE_PLUGINS={} in their environment\n",
        backend, plugins != nullptr ? plugins : "");
  }
  fmt::print("  2. Monitor telemetry:\n");
  fmt::print("     kagura monitor stats\n");
  fmt::print("     kagura monitor list\n");
  return 0;
}

}  // namespace

void add_init_command(CLI::App& app) {
  auto options = std::make_shared<InitOptions>();
  auto* init = app.add_subcommand(
      "init", "Choose the telemetry store, initialise it and save the choice in ~/.kagura/.env");
  init->add_option("--backend", options->backend,
                   "Storage backend: sqlite, postgresql, mongodb, or a plugin's")
      ->capture_default_str();
  init->add_option("--connection", options->connection,
                   "SQLite path (default ~/.kagura/telemetry.db) or server URI");
  init->add_option("--otlp-endpoint", options->otlp_endpoint,
                   "Also send every execution as OpenTelemetry traces to this OTLP/HTTP "
                   "collector, e.g. http://localhost:4318 (saved as OTEL_EXPORTER_OTLP_ENDPOINT)");
  init->add_flag("--force", options->force,
                 "Overwrite an existing configuration (recorded telemetry is kept)");
  init->callback([options] { run_or_exit([&] { return run_init(*options); }); });
}

}  // namespace kagura::cli
