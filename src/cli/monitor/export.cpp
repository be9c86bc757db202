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
#include <thread>
#include <vector>

#include "cli/monitor/filters.hpp"
#include "cli/monitor/interrupt.hpp"
#include "cli/monitor/paging.hpp"
#include "exporters/otlp_json.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/exporters/otlp_trace_exporter.hpp"
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
  std::string endpoint;
  std::int64_t limit = 0;
};

// Executions per OTLP request: a few hundred KB of JSON, well under collectors' usual 4 MB
// limit on a request.
constexpr std::size_t kOtlpBatch = 200;

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

// The exporter of the configuration (headers, service name, timeout), pointed at --endpoint
// when given: a URL ending in /v1/traces as it is, any other with /v1/traces appended.
exporters::OtlpExporterOptions otlp_options(const std::string& endpoint) {
  const auto config = config::load_telemetry_config();
  auto options = config.otlp;
  if (endpoint.empty() && !config.otlp_problem.empty()) throw CliError(config.otlp_problem);
  if (!endpoint.empty()) {
    if (const auto problem = config::otlp_endpoint_problem(endpoint); !problem.empty()) {
      throw CliError("--endpoint '" + endpoint + "' " + problem +
                     ": give the collector's OTLP/HTTP address, e.g. http://localhost:4318");
    }
    std::string url = endpoint;
    while (url.ends_with('/')) url.pop_back();
    options.endpoint = url.ends_with("/v1/traces") ? url : url + "/v1/traces";
  }
  return options;
}

// One request, with the retries the exporter's pipeline would make: transient answers (429,
// 502, 503, 504, no answer) are tried again, honouring Retry-After; a refusal is final.
void send_otlp(const exporters::OtlpTraceExporter& exporter, const std::string& body,
               std::int64_t spans_sent) {
  constexpr int kAttempts = 5;
  auto backoff = std::chrono::milliseconds(500);
  for (int attempt = 1;; ++attempt) {
    try {
      exporter.send(body);
      return;
    } catch (const pipeline::RejectedBatchError& e) {
      throw CliError(std::string(e.what()) + " (" + std::to_string(spans_sent) +
                     " spans were sent before)");
    } catch (const std::exception& e) {
      if (attempt == kAttempts || interrupted()) {
        throw CliError(std::string(e.what()) + "; gave up after " + std::to_string(attempt) +
                       " attempts (" + std::to_string(spans_sent) + " spans were sent before)");
      }
      auto wait = backoff;
      if (const auto* later = dynamic_cast<const pipeline::RetryLaterError*>(&e)) {
        wait = std::max(wait, std::min(later->retry_after(),
                                       std::chrono::milliseconds(std::chrono::seconds(30))));
      }
      std::this_thread::sleep_for(wait);
      backoff *= 2;
    }
  }
}

int run_export(const ExportOptions& options) {
  const auto filter = make_filter(options.filters, telemetry::unix_now());
  const std::string format = infer_format(options);
  const bool to_stdout = options.output.empty() || options.output == "-";
  const std::string target = to_stdout ? "standard output" : options.output;
  // Sent when no --output asks for the request bodies instead.
  const bool send = format == "otlp" && options.output.empty();
  std::unique_ptr<exporters::OtlpTraceExporter> exporter;
  exporters::OtlpResource resource;
  if (format == "otlp") {
    auto otlp = otlp_options(options.endpoint);
    resource.service_name = otlp.service_name;
    if (send && otlp.endpoint.empty()) {
      throw CliError(
          "--format otlp has nowhere to send: give --endpoint URL, set "
          "OTEL_EXPORTER_OTLP_ENDPOINT (or kagura init --otlp-endpoint), or write the request "
          "bodies with --output FILE (- for standard output)");
    }
    if (send) exporter = std::make_unique<exporters::OtlpTraceExporter>(std::move(otlp));
  }
  auto store = open_store(options.store);
  if (store->count_executions(filter) == 0) throw no_executions(*store, filter);

  std::vector<telemetry::Execution> otlp_batch;
  std::int64_t spans = 0;
  std::int64_t requests = 0;
  if (send) {
    catch_interrupts();
    std::int64_t written = 0;
    const auto send_batch = [&] {
      if (otlp_batch.empty()) return;
      std::vector<const telemetry::Execution*> pointers;
      std::int64_t batch_spans = 0;
      for (const auto& e : otlp_batch) {
        pointers.push_back(&e);
        batch_spans += static_cast<std::int64_t>(exporters::otlp_span_count(e));
      }
      send_otlp(*exporter, exporter->request_body(pointers), spans);
      spans += batch_spans;
      ++requests;
      otlp_batch.clear();
    };
    for_each_execution(*store, filter, true, kPageSize, [&](const telemetry::Execution& e) {
      otlp_batch.push_back(e);
      if (otlp_batch.size() >= kOtlpBatch) send_batch();
      ++written;
      return !interrupted() && (options.limit == 0 || written < options.limit);
    });
    if (interrupted()) {
      throw CliError("export interrupted: " + std::to_string(spans) + " spans of " +
                     std::to_string(written - static_cast<std::int64_t>(otlp_batch.size())) +
                     " executions were sent to " + exporter->location());
    }
    send_batch();
    fmt::print("Sent {} spans of {} executions to {} in {} requests\n", spans, written,
               exporter->location(), requests);
    return 0;
  }

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
    } else if (format == "otlp") {
      otlp_batch.push_back(e);
      if (otlp_batch.size() >= kOtlpBatch) {
        std::vector<const telemetry::Execution*> pointers;
        for (const auto& one : otlp_batch) pointers.push_back(&one);
        put(out, exporters::otlp_trace_request(pointers, resource));
        put(out, "\n");
        otlp_batch.clear();
      }
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
  if (format == "otlp" && !otlp_batch.empty()) {
    std::vector<const telemetry::Execution*> pointers;
    for (const auto& one : otlp_batch) pointers.push_back(&one);
    put(out, exporters::otlp_trace_request(pointers, resource));
    put(out, "\n");
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
      "complete, so a failure or Ctrl-C never leaves a partial file. --format otlp sends the "
      "executions as OpenTelemetry traces to --endpoint (or the configured one) in batches, or "
      "with --output writes the request bodies, one OTLP/JSON ExportTraceServiceRequest a "
      "line.");
  add_store_options(*command, options->store);
  add_filter_options(*command, options->filters);
  command
      ->add_option("--format,-f", options->format,
                   "csv, json, jsonl or otlp (default: from the --output extension, else csv)")
      ->check(CLI::IsMember({"csv", "json", "jsonl", "otlp"}));
  command->add_option("--endpoint", options->endpoint,
                      "--format otlp: the OTLP/HTTP collector to send to (/v1/traces appended "
                      "unless there; default: OTEL_EXPORTER_OTLP_ENDPOINT)");
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
