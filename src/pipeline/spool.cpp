#include "kagura/pipeline/spool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "kagura/storage/storage_adapter.hpp"
#include "telemetry/execution_json.hpp"

namespace kagura::pipeline {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kSegmentSuffix = ".jsonl";
constexpr std::string_view kClaimMarker = ".claimed-";

// A file descriptor closed when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const noexcept { return fd_; }
  // Closes now, reporting the error that close() may be the first to see.
  int close() noexcept {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

std::string errno_text() {
  return std::strerror(errno);
}

// Segment names start with the time in microseconds, so that name order is age order:
//   0001732500000000000-4242-7-n4096.jsonl
// and a claimed segment carries the claiming process's id: <name>.claimed-<pid>.
struct SegmentName {
  std::string base;  // the name of the unclaimed segment
  std::uint64_t executions = 0;
  std::optional<pid_t> claimed_by;
};

std::optional<SegmentName> parse_segment_name(const std::string& name) {
  SegmentName segment;
  const auto claim = name.find(kClaimMarker);
  segment.base = claim == std::string::npos ? name : name.substr(0, claim);
  if (!segment.base.ends_with(kSegmentSuffix) || segment.base.starts_with('.')) return {};
  if (claim != std::string::npos) {
    try {
      segment.claimed_by = static_cast<pid_t>(std::stol(name.substr(claim + kClaimMarker.size())));
    } catch (const std::exception&) {
      return {};
    }
  }
  const auto count_at = segment.base.rfind("-n");
  if (count_at == std::string::npos) return {};
  try {
    segment.executions = std::stoull(segment.base.substr(count_at + 2));
  } catch (const std::exception&) {
    return {};
  }
  return segment;
}

bool process_alive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

void sync_directory(const fs::path& directory) {
  FileDescriptor fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) (void)::fsync(fd.get());  // best effort: not every file system allows it
}

std::vector<telemetry::Execution> read_segment(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string() + ": " + errno_text());
  std::vector<telemetry::Execution> executions;
  std::size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    try {
      executions.push_back(telemetry::execution_from_json(nlohmann::json::parse(line)));
    } catch (const std::exception& e) {
      throw std::invalid_argument(file.string() + " line " + std::to_string(line_number) + ": " +
                                  e.what());
    }
  }
  return executions;
}

}  // namespace

Spool::Spool(fs::path directory, std::uint64_t max_bytes)
    : directory_(std::move(directory)), max_bytes_(max_bytes) {
  std::error_code error;
  fs::create_directories(directory_, error);
  if (error || !fs::is_directory(directory_)) {
    throw storage::StorageError("cannot create the telemetry spool directory " +
                                directory_.string() + ": " + error.message() +
                                ": make it writable or set KAGURA_TELEMETRY_SPOOL to another "
                                "directory");
  }
  // Executions may carry prompts and tool arguments: the spool is for its owner only.
  fs::permissions(directory_, fs::perms::owner_all, fs::perm_options::replace, error);
}

void Spool::append(std::span<const telemetry::Execution* const> executions) {
  if (executions.empty()) return;
  std::string content;
  std::string line;
  for (const telemetry::Execution* execution : executions) {
    telemetry::detail::write_execution_json(*execution, line);
    content += line;
    content += '\n';
  }
  if (pending_bytes() + content.size() > max_bytes_) {
    throw storage::StorageError("the telemetry spool " + directory_.string() + " is full (" +
                                std::to_string(max_bytes_ / (1024 * 1024)) +
                                " MiB): bring the store back, or raise "
                                "KAGURA_TELEMETRY_SPOOL_MAX_MB");
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  char name[96];
  std::snprintf(name, sizeof name, "%019lld-%d-%010llu-n%zu.jsonl", static_cast<long long>(micros),
                static_cast<int>(::getpid()), static_cast<unsigned long long>(next_sequence_++),
                executions.size());
  const fs::path final_path = directory_ / name;
  const fs::path temporary = directory_ / ("." + std::string(name) + ".tmp");
  const auto fail = [&](const std::string& what) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    return storage::StorageError("cannot write the telemetry spool " + temporary.string() + ": " +
                                 what +
                                 ": free disk space or set KAGURA_TELEMETRY_SPOOL to a "
                                 "writable directory");
  };
  FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw fail(errno_text());
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail(errno_text());
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || fd.close() != 0) throw fail(errno_text());
  if (::rename(temporary.c_str(), final_path.c_str()) != 0) throw fail(errno_text());
  sync_directory(directory_);
}

SpoolDelivery Spool::deliver(BatchDestination& store, std::size_t batch_size,
                             const SegmentDelivered& on_segment) {
  SpoolDelivery result;
  batch_size = std::max<std::size_t>(1, batch_size);
  const pid_t self = ::getpid();
  std::vector<SegmentName> segments;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory_, error)) {
    const std::string name = entry.path().filename().string();
    auto segment = parse_segment_name(name);
    if (!segment) continue;
    if (segment->claimed_by) {
      // A claim of a process that died mid-delivery is released; a live process's is its own.
      if (*segment->claimed_by == self || process_alive(*segment->claimed_by)) continue;
      if (::rename(entry.path().c_str(), (directory_ / segment->base).c_str()) != 0) continue;
    }
    segments.push_back(std::move(*segment));
  }
  if (error) {
    result.error =
        "cannot read the telemetry spool " + directory_.string() + ": " + error.message();
    return result;
  }
  std::sort(segments.begin(), segments.end(),
            [](const SegmentName& a, const SegmentName& b) { return a.base < b.base; });

  for (const SegmentName& segment : segments) {
    const fs::path unclaimed = directory_ / segment.base;
    const fs::path claimed =
        directory_ / (segment.base + std::string(kClaimMarker) + std::to_string(self));
    // Another process may have claimed (or delivered) it since the listing.
    if (::rename(unclaimed.c_str(), claimed.c_str()) != 0) continue;
    std::vector<telemetry::Execution> executions;
    try {
      executions = read_segment(claimed);
    } catch (const std::invalid_argument& e) {
      std::error_code ignored;
      fs::rename(claimed, directory_ / (segment.base + ".corrupt"), ignored);
      result.error = std::string("set aside an unreadable spool segment: ") + e.what();
      continue;
    } catch (const std::exception& e) {
      (void)::rename(claimed.c_str(), unclaimed.c_str());
      result.error = e.what();
      return result;
    }
    std::uint64_t inserted = 0;
    try {
      std::vector<const telemetry::Execution*> chunk;
      for (std::size_t start = 0; start < executions.size(); start += batch_size) {
        const std::size_t end = std::min(executions.size(), start + batch_size);
        chunk.clear();
        for (std::size_t i = start; i < end; ++i) chunk.push_back(&executions[i]);
        const std::size_t new_ones = store.save_executions(chunk);
        inserted += new_ones;
        result.inserted += new_ones;
      }
    } catch (const RejectedBatchError& e) {
      // Delivering it again would meet the same refusal and hold back every later segment.
      std::error_code ignored;
      fs::rename(claimed, directory_ / (segment.base + ".rejected"), ignored);
      result.rejected += executions.size();
      result.error = std::string(store.backend_name()) + " at " + store.location() +
                     " rejected a spool segment, set aside as " + segment.base +
                     ".rejected: " + e.what();
      continue;
    } catch (const std::exception& e) {
      // Part of the segment may be stored already; the store skips those ids next time.
      (void)::rename(claimed.c_str(), unclaimed.c_str());
      result.error = e.what();
      if (const auto* later = dynamic_cast<const RetryLaterError*>(&e)) {
        result.retry_after = later->retry_after();
      }
      return result;
    }
    if (on_segment) on_segment(executions.size(), inserted);
    std::error_code ignored;
    fs::remove(claimed, ignored);
    result.delivered += executions.size();
  }
  result.complete = pending_executions() == 0;
  return result;
}

std::uint64_t Spool::pending_executions() const {
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory_, error)) {
    if (const auto segment = parse_segment_name(entry.path().filename().string())) {
      total += segment->executions;
    }
  }
  return total;
}

std::uint64_t Spool::pending_bytes() const {
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory_, error)) {
    if (!parse_segment_name(entry.path().filename().string())) continue;
    std::error_code size_error;
    const auto size = entry.file_size(size_error);
    if (!size_error) total += size;
  }
  return total;
}

}  // namespace kagura::pipeline
