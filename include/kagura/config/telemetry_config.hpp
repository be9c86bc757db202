#pragma once

// Telemetry settings, from the environment first and ~/.kagura/.env second:
//
//   KAGURA_TELEMETRY_ENABLED           true|false  the global switch (default true)
//   KAGURA_TELEMETRY_BACKEND           sqlite (default)
//   KAGURA_TELEMETRY_CONNECTION        the store; for sqlite a path (default
//                                      ~/.kagura/telemetry.db) or :memory:
//   KAGURA_TELEMETRY_QUEUE_CAPACITY    executions waiting to be written (default 8192)
//   KAGURA_TELEMETRY_BATCH_SIZE        executions per transaction (default 4096)
//   KAGURA_TELEMETRY_FLUSH_INTERVAL_MS longest wait of a partial batch (default 200)
//   KAGURA_TELEMETRY_OVERFLOW          drop_newest (default) | drop_oldest | block
//   KAGURA_TELEMETRY_SPOOL             where executions wait while the store is unreachable
//                                      (default ~/.kagura/spool/<backend>-<hash>), or off
//   KAGURA_TELEMETRY_SPOOL_MAX_MB      the spool's size limit (default 1024)

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kagura/config/paths.hpp"
#include "kagura/pipeline/async_writer.hpp"

namespace kagura::config {

struct TelemetryConfig {
  bool enabled = true;
  std::string backend = "sqlite";
  std::string connection;  // empty: the backend's default
  pipeline::AsyncWriterOptions pipeline;
  // Where each setting came from ("environment", the .env path or "default"); for messages.
  std::map<std::string, std::string, std::less<>> sources;
};

using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment process_environment();

// Throws ConfigError naming the variable, where it was set, and the accepted values.
TelemetryConfig load_telemetry_config(const Environment& environment,
                                      const std::filesystem::path& kagura_home);
TelemetryConfig load_telemetry_config();

}  // namespace kagura::config
