#include "kagura/telemetry/notice.hpp"

#include <cstdio>
#include <mutex>

namespace kagura::telemetry {
namespace {

std::mutex& handler_mutex() {
  static std::mutex mutex;
  return mutex;
}

NoticeHandler& current_handler() {
  static NoticeHandler handler;
  return handler;
}

}  // namespace

NoticeHandler set_notice_handler(NoticeHandler handler) {
  std::lock_guard lock(handler_mutex());
  std::swap(current_handler(), handler);
  return handler;
}

void notify(std::string_view message) noexcept {
  try {
    std::lock_guard lock(handler_mutex());
    if (current_handler()) {
      current_handler()(message);
      return;
    }
    std::fprintf(stderr, "kagura: %.*s\n", static_cast<int>(message.size()), message.data());
  } catch (...) {
    // A notice must never become the agent's problem.
  }
}

}  // namespace kagura::telemetry
