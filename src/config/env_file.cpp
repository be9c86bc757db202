#include "kagura/config/env_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

namespace kagura::config {
namespace {

bool needs_quotes(std::string_view value) {
  if (value.empty()) return false;
  if (value.front() == '"' || value.front() == '\'') return true;
  if (std::isspace(static_cast<unsigned char>(value.front())) ||
      std::isspace(static_cast<unsigned char>(value.back()))) {
    return true;
  }
  // parse_dotenv() ends a bare value at " #" (a comment) and at the end of the line.
  return value.find(" #") != std::string_view::npos ||
         value.find_first_of("\r\n") != std::string_view::npos;
}

[[noreturn]] void fail(const std::filesystem::path& path, const char* doing, int error) {
  throw ConfigError("cannot write " + path.string() + " (" + doing + ": " + std::strerror(error) +
                    "): check that " + path.parent_path().string() +
                    " is writable and the disk is not full; the previous file, if any, is "
                    "unchanged");
}

// Owns the temporary file until it has been renamed into place.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& target)
      : target_(target),
        name_((target.parent_path() / (target.filename().string() + ".XXXXXX")).string()) {
    std::vector<char> buffer(name_.begin(), name_.end());
    buffer.push_back('\0');
    // mkstemp creates the file 0600, so the text is never readable by others, not even for
    // the moment before a chmod.
    fd_ = ::mkostemp(buffer.data(), O_CLOEXEC);
    if (fd_ < 0) fail(target_, "creating a temporary file", errno);
    name_ = buffer.data();
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!renamed_) ::unlink(name_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(fd_, text.data(), text.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(target_, "writing", errno);
      }
      text.remove_prefix(static_cast<std::size_t>(n));
    }
    // Whatever the umask and an older file's mode were.
    if (::fchmod(fd_, S_IRUSR | S_IWUSR) != 0) fail(target_, "setting its mode to 0600", errno);
    if (::fsync(fd_) != 0) fail(target_, "syncing", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail(target_, "closing", errno);
  }

  void rename_into_place() {
    if (::rename(name_.c_str(), target_.c_str()) != 0) fail(target_, "renaming into place", errno);
    renamed_ = true;
    // The rename itself survives a crash only once the directory is synced.
    const auto directory =
        target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
    const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  std::filesystem::path target_;
  std::string name_;
  int fd_ = -1;
  bool renamed_ = false;
};

}  // namespace

std::string format_dotenv_value(std::string_view value) {
  if (!needs_quotes(value)) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

void write_env_file(const std::filesystem::path& path, std::string_view text) {
  TempFile file(path);
  file.write(text);
  file.rename_into_place();
}

}  // namespace kagura::config
