#include "cli/prune_command.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "cli/command_support.hpp"
#include "cli/output.hpp"
#include "cli/time_spec.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;

struct PruneOptions {
  StoreOptions store;
  std::string older_than;
  bool dry_run = false;
  bool vacuum = false;
};

// parse_time_spec() reads a bare number as a Unix timestamp, but "--older-than 30" far more
// likely means 30 days than 1970: prune deletes, so it asks for a unit instead of guessing.
double parse_cutoff(const std::string& text, double now) {
  const bool bare_number =
      !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos;
  if (bare_number) {
    throw CliError("--older-than '" + text + "' has no unit: use a span such as " + text +
                   "d (days), " + text + "h (hours) or " + text +
                   "w (weeks), or a date such as 2025-01-01");
  }
  double cutoff = 0;
  try {
    cutoff = parse_time_spec(text, now);
  } catch (const std::invalid_argument&) {
    throw CliError("--older-than '" + text +
                   "' is not an age: use a span back from now (30d, 12h, 2w) or a date in UTC "
                   "(2025-01-01 or 2025-01-01T12:00:00Z)");
  }
  if (cutoff > now) {
    throw CliError("--older-than '" + text +
                   "' is in the future, so every execution would be deleted: give a past date "
                   "or a span such as 30d");
  }
  return cutoff;
}

std::string utc_time(double unix_seconds) {
  const auto time = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string executions(std::int64_t n) {
  return format_count(n) + (n == 1 ? " execution" : " executions");
}

std::uintmax_t size_on_disk(const std::string& path) {
  std::uintmax_t total = 0;
  for (const auto& file : {path, path + "-wal"}) {
    std::error_code error;
    const auto size = fs::file_size(file, error);
    if (!error) total += size;
  }
  return total;
}

std::string format_bytes(std::uintmax_t bytes) {
  if (bytes < 1024 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

// SQLite reuses the pages that deleted rows free, so a store stops growing after a prune but
// its file does not shrink; VACUUM rewrites it at its new size. Kept out of the store itself:
// it rewrites the whole file and waits for every other writer, which the recording path must
// never do.
void vacuum_sqlite(const std::string& path) {
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  auto fail = [&](const char* doing) {
    throw CliError(fmt::format(
        "the executions were deleted, but {} {} failed ({}): the file keeps its size until "
        "then; run kagura prune --vacuum again when no program is recording to it",
        doing, path, db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(opened)));
  };
  if (opened != SQLITE_OK) fail("opening");
  sqlite3_busy_timeout(db.get(), 10000);
  if (sqlite3_exec(db.get(), "VACUUM", nullptr, nullptr, nullptr) != SQLITE_OK) {
    fail("vacuuming");
  }
  // In WAL mode the rewritten file reaches the database, and the file shrinks, at a checkpoint.
  if (sqlite3_exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    fail("checkpointing");
  }
}

int run_prune(const PruneOptions& options) {
  const double now = telemetry::unix_now();
  const double cutoff = parse_cutoff(options.older_than, now);
  auto store = open_store(options.store);
  const std::string where = store->backend_name() + " " + store->location();
  if (options.vacuum && store->backend_name() != "sqlite") {
    throw CliError("--vacuum applies to SQLite stores only, and " + where + " is not one (" +
                   store->backend_name() +
                   " reclaims the space of deleted rows itself): drop "
                   "--vacuum");
  }
  storage::ExecutionFilter older;
  older.until = cutoff;
  if (options.dry_run) {
    const auto count = store->count_executions(older);
    fmt::print("Would delete {} started before {} UTC from {} (dry run: nothing was deleted)\n",
               executions(count), utc_time(cutoff), where);
    return 0;
  }
  const auto deleted = static_cast<std::int64_t>(store->delete_old_executions(cutoff));
  const auto remaining = store->count_executions({});
  fmt::print("Deleted {} started before {} UTC from {}; {} remain{}\n", executions(deleted),
             utc_time(cutoff), where, format_count(remaining), remaining == 1 ? "s" : "");
  if (options.vacuum) {
    const std::string path = store->location();
    store.reset();  // VACUUM needs the file to itself
    std::fflush(stdout);
    const auto before = size_on_disk(path);
    vacuum_sqlite(path);
    fmt::print("Vacuumed {}: {} -> {}\n", path, format_bytes(before),
               format_bytes(size_on_disk(path)));
  }
  return 0;
}

}  // namespace

void add_prune_command(CLI::App& app) {
  auto options = std::make_shared<PruneOptions>();
  auto* prune = app.add_subcommand("prune", "Delete executions older than a given age");
  prune
      ->add_option("--older-than", options->older_than,
                   "Delete executions started before this: a span back from now (30d, 12h, 2w) "
                   "or a date in UTC (2025-01-01)")
      ->required();
  prune->add_flag("--dry-run", options->dry_run,
                  "Only count what would be deleted; delete nothing");
  prune->add_flag("--vacuum", options->vacuum,
                  "SQLite only: shrink the file afterwards (otherwise new executions reuse the "
                  "freed space)");
  add_store_options(*prune, options->store);
  prune->callback([options] { run_or_exit([&] { return run_prune(*options); }); });
}

}  // namespace kagura::cli
