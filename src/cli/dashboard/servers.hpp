#pragma once

// The two servers of `kagura dashboard`. Each serves until `monitor::interrupted()` turns true
// (Ctrl-C), then returns; each throws CliError when it cannot listen.

#include <memory>

#include "cli/dashboard/server_options.hpp"
#include "kagura/storage/storage_adapter.hpp"

namespace kagura::cli::dashboard {

// The single-page dashboard at / and its JSON API under /api/.
void serve_web(const ServerOptions& options, std::shared_ptr<storage::StorageAdapter> store);

// Prometheus text exposition at /metrics.
void serve_prometheus(const ServerOptions& options, std::shared_ptr<storage::StorageAdapter> store);

}  // namespace kagura::cli::dashboard
