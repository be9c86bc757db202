#include "kagura/pipeline/process_status.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "kagura/telemetry/ids.hpp"
#include "kagura/telemetry/notice.hpp"
#include "pipeline/background_thread.hpp"

namespace kagura::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string file_name(const ProcessStatus& status) {
  return status.host + "-" + std::to_string(status.pid) + ".json";
}

std::string comparable_location(std::string_view backend, std::string_view location) {
  if (backend != "sqlite" || location == ":memory:") return std::string(location);
  std::error_code ignored;
  const auto canonical = fs::weakly_canonical(fs::path(location), ignored);
  return canonical.empty() ? std::string(location) : canonical.string();
}

}  // namespace

std::string to_json(const ProcessStatus& status) {
  const PipelineStats& s = status.stats;
  json stats = {{"queued", s.queued},         {"written", s.written},
                {"duplicates", s.duplicates}, {"dropped", s.dropped},
                {"failed", s.failed},         {"spooled", s.spooled},
                {"unspooled", s.unspooled},   {"spool_pending", s.spool_pending},
                {"batches", s.batches},       {"pending", s.pending},
                {"last_error", s.last_error}};
  json document = {{"host", status.host},
                   {"pid", status.pid},
                   {"backend", status.backend},
                   {"location", status.location},
                   {"started_at", status.started_at},
                   {"updated_at", status.updated_at},
                   {"exited", status.exited},
                   {"stats", std::move(stats)}};
  // Replacement of invalid UTF-8: a store error message may quote anything.
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

ProcessStatus process_status_from_json(std::string_view text) {
  try {
    const json document = json::parse(text);
    ProcessStatus status;
    status.host = document.at("host").get<std::string>();
    status.pid = document.at("pid").get<std::int64_t>();
    status.backend = document.at("backend").get<std::string>();
    status.location = document.at("location").get<std::string>();
    status.started_at = document.at("started_at").get<double>();
    status.updated_at = document.at("updated_at").get<double>();
    status.exited = document.at("exited").get<bool>();
    const json& stats = document.at("stats");
    PipelineStats& s = status.stats;
    s.queued = stats.at("queued").get<std::uint64_t>();
    s.written = stats.at("written").get<std::uint64_t>();
    s.duplicates = stats.at("duplicates").get<std::uint64_t>();
    s.dropped = stats.at("dropped").get<std::uint64_t>();
    s.failed = stats.at("failed").get<std::uint64_t>();
    s.spooled = stats.at("spooled").get<std::uint64_t>();
    s.unspooled = stats.at("unspooled").get<std::uint64_t>();
    s.spool_pending = stats.at("spool_pending").get<std::uint64_t>();
    s.batches = stats.at("batches").get<std::uint64_t>();
    s.pending = stats.at("pending").get<std::uint64_t>();
    s.last_error = stats.at("last_error").get<std::string>();
    return status;
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("not a pipeline status: ") + e.what());
  }
}

std::string this_host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  // The name becomes part of a file name.
  std::string host(name);
  for (char& c : host) {
    if (c == '/' || c == '\\') c = '_';
  }
  return host;
}

bool process_running(const ProcessStatus& status, std::chrono::seconds stale_after) {
  if (status.exited) return false;
  if (status.host == this_host_name()) {
    return ::kill(static_cast<pid_t>(status.pid), 0) == 0 || errno == EPERM;
  }
  return telemetry::unix_now() - status.updated_at <= static_cast<double>(stale_after.count());
}

void write_process_status(const fs::path& directory, const ProcessStatus& status) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    throw std::runtime_error("cannot create " + directory.string() + ": " + error.message());
  }
  const fs::path final_path = directory / file_name(status);
  const fs::path temporary = directory / ("." + file_name(status) + ".tmp");
  const std::string text = to_json(status) + "\n";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot write " + temporary.string() + ": " + std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(temporary.c_str());
      throw std::runtime_error("cannot write " + temporary.string() + ": " + reason);
    }
    written += static_cast<std::size_t>(n);
  }
  // No fsync: the file describes a running process and is rewritten within seconds; a crash of
  // the machine makes it meaningless anyway.
  if (::close(fd) != 0 || ::rename(temporary.c_str(), final_path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw std::runtime_error("cannot write " + final_path.string() + ": " + reason);
  }
}

std::vector<ProcessStatus> read_process_statuses(const fs::path& directory,
                                                 std::string_view backend,
                                                 std::string_view location,
                                                 std::chrono::seconds forget_after) {
  std::vector<ProcessStatus> result;
  std::error_code error;
  fs::directory_iterator entries(directory, error);
  if (error) return result;  // nobody has published yet
  const std::string wanted = comparable_location(backend, location);
  const double now = telemetry::unix_now();
  for (const auto& entry : entries) {
    const fs::path& path = entry.path();
    if (path.extension() != ".json" || path.filename().string().starts_with(".")) continue;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    ProcessStatus status;
    try {
      status = process_status_from_json(text.str());
    } catch (const std::invalid_argument&) {
      continue;  // being replaced, or not ours
    }
    const bool ended = !process_running(status, forget_after);
    if (ended && now - status.updated_at > static_cast<double>(forget_after.count())) {
      fs::remove(path, error);
      continue;
    }
    if (status.backend != backend ||
        comparable_location(status.backend, status.location) != wanted) {
      continue;
    }
    result.push_back(std::move(status));
  }
  return result;
}

StatusPublisher::StatusPublisher(fs::path directory, ProcessStatus identity,
                                 std::function<PipelineStats()> read_stats,
                                 std::chrono::milliseconds interval)
    : directory_(std::move(directory)),
      status_(std::move(identity)),
      read_stats_(std::move(read_stats)),
      interval_(interval) {
  if (status_.host.empty()) status_.host = this_host_name();
  if (status_.pid == 0) status_.pid = ::getpid();
  if (status_.started_at == 0.0) status_.started_at = telemetry::unix_now();
  publish(false);
  thread_ = start_background_thread("kagura-status", [this] { run(); });
}

StatusPublisher::~StatusPublisher() {
  stop();
}

void StatusPublisher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  publish(true);
}

void StatusPublisher::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    publish(false);
    lock.lock();
  }
}

void StatusPublisher::publish(bool exited) {
  status_.stats = read_stats_();
  status_.updated_at = telemetry::unix_now();
  status_.exited = exited;
  try {
    write_process_status(directory_, status_);
  } catch (const std::exception& e) {
    if (!failure_reported_) {
      failure_reported_ = true;
      telemetry::notify(std::string("pipeline counters cannot be published for kagura "
                                    "dashboard --prometheus: ") +
                        e.what());
    }
  }
}

}  // namespace kagura::pipeline
