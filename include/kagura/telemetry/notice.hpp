#pragma once

// One-line notices from the telemetry machinery to the user: first-run initialisation, unpriced
// models, a full queue, a failing store. Telemetry never throws into the agent, so this is how
// its problems become visible. The default handler writes "kagura: <text>" to stderr.

#include <functional>
#include <string_view>

namespace kagura::telemetry {

using NoticeHandler = std::function<void(std::string_view message)>;

// Replaces the handler; returns the previous one. Thread-safe.
NoticeHandler set_notice_handler(NoticeHandler handler);
void notify(std::string_view message) noexcept;

}  // namespace kagura::telemetry
