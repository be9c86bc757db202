#pragma once

// What every kagura subcommand shares: one-line errors with a non-zero exit, and the options
// that choose which telemetry store to read (--db, --backend, --connection).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::cli {

// A mistake of the user's that the command explains in one line (what, where, the fix).
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Which store a command reads. Empty fields fall back to the configuration
// (KAGURA_TELEMETRY_BACKEND / KAGURA_TELEMETRY_CONNECTION, then ~/.kagura/.env).
struct StoreOptions {
  std::string db;          // a SQLite file; shorthand for --backend sqlite --connection PATH
  std::string backend;     // sqlite, postgresql, mongodb or a plugin's name
  std::string connection;  // a path or URI for that backend
};

void add_store_options(CLI::App& command, StoreOptions& options);

// Opens the chosen store for reading. A SQLite file that does not exist is an error (reading
// must never create an empty store where the user expected data); so is a --db combined with
// --backend or --connection.
std::shared_ptr<storage::StorageAdapter> open_store(const StoreOptions& options);

// Runs a subcommand and exits with its code; an exception becomes "kagura: error: ..." on
// stderr and exit code 1, without CLI11's usage dump.
template <typename Fn>
[[noreturn]] void run_or_exit(Fn&& fn) {
  int code = 0;
  try {
    code = fn();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "kagura: error: %s\n", e.what());
    code = 1;
  }
  std::fflush(stdout);
  std::exit(code);
}

}  // namespace kagura::cli
