#include "cli/monitor/export.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/monitor/filters.hpp"
#include "cli/monitor/interrupt.hpp"
#include "cli/monitor/paging.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::monitor {
namespace {

namespace fs = std::filesystem;

// Executions read from the store at a time: a few MB with their events.
constexpr std::int64_t kPageSize = 2000;

struct ExportOptions {
  StoreOptions store;
  FilterOptions filters;
  std::string format;
  std::string output;
  std::int64_t limit = 0;
};

std::string infer_format(const ExportOptions& options) {
  if (!options.format.empty()) return options.format;
  const std::string extension = fs::path(options.output).extension().string();
  if (extension == ".json") return "json";
  if (extension == ".jsonl" || extension == ".ndjson") return "jsonl";
  return "csv";
}

// RFC 4180: a field with a comma, a double quote or a line break is quoted, its quotes doubled.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// The shortest text that reads back as the same number, as Python's csv module writes floats.
std::string csv_number(double value) {
  return fmt::format("{}", value);
}

// The file being written: a temporary beside the target, renamed over it once complete, so
// that a failure or Ctrl-C never leaves a partial file (or clobbers an existing one).
class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& target) : target_(target) {
    const fs::path path(target);
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    std::error_code error;
    if (!fs::is_directory(dir, error)) {
      throw CliError("cannot write " + target + ": directory " + dir.string() +
                     " does not exist; create it or choose another --output");
    }
    if (fs::is_directory(path, error)) {
      throw CliError("cannot write " + target + ": it is a directory; give a file name");
    }
    std::string name = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
    const int fd = ::mkstemp(name.data());
    if (fd < 0) {
      throw CliError("cannot write " + target + ": " + std::strerror(errno) +
                     "; check the directory's permissions or choose another --output");
    }
    temp_ = name;
    // mkstemp makes the file private; give it the mode a new file would get.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    file_ = ::fdopen(fd, "w");
    if (file_ == nullptr) {
      ::close(fd);
      ::unlink(temp_.c_str());
      throw CliError("cannot write " + target + ": " + std::strerror(errno));
    }
  }
  ~AtomicOutput() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  std::FILE* file() const { return file_; }

  void commit() {
    const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    const int error = errno;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!flushed || !closed) {
      throw CliError("writing " + target_ + " failed: " + std::strerror(error) +
                     "; nothing written");
    }
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      throw CliError("cannot write " + target_ + ": " + std::strerror(errno));
    }
    committed_ = true;
  }

 private:
  std::string target_;
  std::string temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

void put(std::FILE* out, std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), out);
}

void check_written(std::FILE* out, const std::string& target) {
  if (std::ferror(out) != 0) {
    throw CliError("writing " + target + " failed: " + std::strerror(errno) +
                   (target == "standard output" ? "" : "; nothing written"));
  }
}

int run_export(const ExportOptions& options) {
  const auto filter = make_filter(options.filters, telemetry::unix_now());
  const std::string format = infer_format(options);
  const bool to_stdout = options.output.empty() || options.output == "-";
  const std::string target = to_stdout ? "standard output" : options.output;
  auto store = open_store(options.store);
  if (store->count_executions(filter) == 0) throw no_executions(*store, filter);

  std::unique_ptr<AtomicOutput> file;
  if (!to_stdout) {
    catch_interrupts();  // before the temporary exists, so that Ctrl-C always removes it
    file = std::make_unique<AtomicOutput>(options.output);
  }
  std::FILE* out = to_stdout ? stdout : file->file();

  if (format == "csv") {
    put(out, "id,agent_name,started_at,duration,status,llm_calls,total_tokens,total_cost\r\n");
  } else if (format == "json") {
    put(out, "[");
  }
  std::int64_t written = 0;
  const auto visit = [&](const telemetry::Execution& e) {
    if (format == "csv") {
      put(out, fmt::format("{},{},{},{},{},{},{},{}\r\n", csv_field(e.id), csv_field(e.agent_name),
                           csv_number(e.started_at), e.duration ? csv_number(*e.duration) : "",
                           telemetry::to_string(e.status), e.metrics.llm_calls,
                           e.metrics.total_tokens(), csv_number(e.metrics.total_cost())));
    } else {
      const std::string record = telemetry::to_json(e).dump();
      if (format == "json") put(out, written == 0 ? "\n" : ",\n");
      put(out, record);
      if (format == "jsonl") put(out, "\n");
    }
    ++written;
    if (written % kPageSize == 0) {
      check_written(out, target);
      if (interrupted()) return false;
    }
    return options.limit == 0 || written < options.limit;
  };
  for_each_execution(*store, filter, format != "csv", kPageSize, visit);
  if (interrupted()) {
    throw CliError("export interrupted: " + target + " was not written");
  }
  if (format == "json") put(out, written == 0 ? "]\n" : "\n]\n");
  std::fflush(out);
  check_written(out, target);
  if (file) {
    file->commit();
    fmt::print("Exported {} executions to {} ({})\n", written, options.output, format);
  }
  return 0;
}

}  // namespace

void add_export_command(CLI::App& monitor) {
  auto options = std::make_shared<ExportOptions>();
  auto* command = monitor.add_subcommand("export", "Executions to CSV, JSON or JSON Lines");
  command->footer(
      "Newest first. CSV has RFC-030's columns (id, agent_name, started_at as Unix time, "
      "duration in seconds, status, llm_calls, total_tokens, total_cost in USD) with RFC 4180 "
      "quoting; JSON and JSON Lines hold the full records with their events. The store is read "
      "a page at a time, and the file is written beside the target and renamed over it once "
      "complete, so a failure or Ctrl-C never leaves a partial file.");
  add_store_options(*command, options->store);
  add_filter_options(*command, options->filters);
  command
      ->add_option("--format,-f", options->format,
                   "csv, json or jsonl (default: from the --output extension, else csv)")
      ->check(CLI::IsMember({"csv", "json", "jsonl"}));
  command->add_option("--output,-o", options->output,
                      "The file to write; - or none for standard output");
  command->add_option("--limit,-n", options->limit, "Export only the newest N executions")
      ->check(CLI::PositiveNumber);
  command->callback([options, command] {
    run_monitor([&] {
      reject_options_before(*command);
      return run_export(*options);
    });
  });
}

}  // namespace kagura::cli::monitor
