#pragma once

// Ctrl-C for commands that run on (the live view) or write a file (export): SIGINT, SIGTERM and
// SIGHUP only set a flag, and the command stops at its next check, cleaning up after itself.

namespace kagura::cli::monitor {

void catch_interrupts();
bool interrupted() noexcept;
// Sleeps for `seconds` or until interrupted; false when interrupted.
bool sleep_unless_interrupted(double seconds);

}  // namespace kagura::cli::monitor
