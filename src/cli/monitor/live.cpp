#include "cli/monitor/live.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/monitor/filters.hpp"
#include "cli/monitor/interrupt.hpp"
#include "cli/monitor/list.hpp"
#include "cli/monitor/stats.hpp"
#include "cli/output.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::monitor {
namespace {

constexpr const char* kHelp =
    "Live view of totals and recent executions, redrawn every --refresh seconds until Ctrl-C "
    "(or q). On a terminal it takes the whole screen and gives it back on exit (on a terminal "
    "that cannot move the cursor, TERM=dumb, it prints frames one after another). When "
    "standard output is not a terminal (a pipe or a file) it prints one plain frame, without "
    "escape codes, and exits; with --iterations N it prints N frames separated by a blank "
    "line. --json prints each frame as one line of JSON.";

struct LiveOptions {
  StoreOptions store;
  FilterOptions filters;
  double refresh = 2.0;
  bool once = false;
  std::int64_t iterations = -1;  // -1: until interrupted on a terminal, else one frame
  std::int64_t limit = 10;
  bool json = false;
};

struct TerminalSize {
  std::size_t rows = 0;
  std::size_t columns = 0;
};

std::optional<TerminalSize> terminal_size() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_row == 0 || size.ws_col == 0) {
    return std::nullopt;
  }
  return TerminalSize{size.ws_row, size.ws_col};
}

void write_all(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The whole screen while the view runs: the alternate screen, the cursor hidden, and typed keys
// not echoed but readable one at a time (q quits). Everything is put back on destruction, also
// when an error ends the view.
class FullScreen {
 public:
  FullScreen() {
    if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= static_cast<tcflag_t>(~(ECHO | ICANON));  // ISIG stays: Ctrl-C works
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      restore_termios_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    write_all("\033[?1049h\033[?25l");
  }
  ~FullScreen() {
    write_all("\033[?25h\033[?1049l");
    if (restore_termios_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  FullScreen(const FullScreen&) = delete;
  FullScreen& operator=(const FullScreen&) = delete;

  bool reads_keys() const { return restore_termios_; }

  void draw(const std::vector<std::string>& lines) const {
    const auto size = terminal_size().value_or(TerminalSize{50, 160});
    std::string out = "\033[H";
    // One row short of the screen: a newline on the last row would scroll it.
    const std::size_t shown = std::min(lines.size(), size.rows > 1 ? size.rows - 1 : 1);
    for (std::size_t i = 0; i < shown; ++i) {
      out += truncate_display(lines[i], size.columns);
      out += "\033[K\n";
    }
    out += "\033[J";
    write_all(out);
  }

 private:
  termios saved_{};
  bool restore_termios_ = false;
};

// Waits for the next frame; false when the user asked to stop (Ctrl-C, q).
bool wait_for_next_frame(double seconds, bool read_keys) {
  if (!read_keys) return sleep_unless_interrupted(seconds);
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                           std::chrono::duration<double>(seconds));
  while (!interrupted()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return true;
    pollfd in{STDIN_FILENO, POLLIN, 0};
    if (::poll(&in, 1, static_cast<int>(std::min<long long>(left, 50))) > 0) {
      char key = 0;
      if (::read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q')) return false;
    }
  }
  return false;
}

struct Frame {
  storage::SummaryStats totals;
  storage::SummaryStats last_hour;
  std::vector<telemetry::Execution> recent;
  storage::ExecutionFilter filter;
  double now = 0;
};

Frame read_frame(storage::StorageAdapter& store, const LiveOptions& options, std::int64_t rows) {
  Frame frame;
  frame.now = telemetry::unix_now();
  frame.filter = make_filter(options.filters, frame.now);
  frame.totals = store.get_summary_stats(frame.filter);
  storage::ExecutionFilter hour = frame.filter;
  hour.since = std::max(frame.filter.since.value_or(0.0), frame.now - 3600);
  frame.last_hour = !hour.until || *hour.until > *hour.since ? store.get_summary_stats(hour)
                                                             : storage::SummaryStats{};
  if (rows > 0) {
    storage::ExecutionQuery query;
    static_cast<storage::ExecutionFilter&>(query) = frame.filter;
    query.limit = rows;
    query.include_events = true;  // for the models
    frame.recent = store.get_executions(query);
  }
  return frame;
}

std::vector<std::string> render(const Frame& frame, const storage::StorageAdapter& store,
                                const LiveOptions& options, bool interactive) {
  std::vector<std::string> lines;
  lines.push_back(bold("Kagura live: " + store.backend_name() + " " + store.location()));
  lines.push_back(dim(fmt::format("  {} UTC, every {}s{}", format_utc_time(frame.now),
                                  options.refresh, interactive ? "; Ctrl-C or q to quit" : "")));
  if (has_filters(frame.filter))
    lines.push_back("  Filters       " + describe_filter(frame.filter));
  lines.emplace_back();
  if (frame.totals.total_executions == 0) {
    lines.push_back(has_filters(frame.filter)
                        ? "  No executions match these filters yet; waiting for some."
                        : "  No executions recorded yet; waiting for agents to record some.");
    return lines;
  }
  for (auto& line : stats_lines(frame.totals)) lines.push_back(std::move(line));
  const auto& h = frame.last_hour;
  lines.push_back(fmt::format("  Last hour     {} executions, {} failed, {} tokens, {}",
                              format_count(h.total_executions),
                              h.failed > 0 ? red(format_count(h.failed)) : format_count(h.failed),
                              format_count(h.total_tokens), format_cost(h.total_cost())));
  if (!frame.recent.empty()) {
    lines.emplace_back();
    lines.push_back(bold("Recent executions"));
    for (auto& line : execution_table(frame.recent, frame.now)) lines.push_back(std::move(line));
  }
  return lines;
}

nlohmann::json frame_json(const Frame& frame) {
  nlohmann::json recent = nlohmann::json::array();
  for (const auto& e : frame.recent) recent.push_back(telemetry::to_json(e));
  return {{"time", frame.now},
          {"stats", stats_json(frame.totals)},
          {"last_hour", stats_json(frame.last_hour)},
          {"recent", std::move(recent)}};
}

int run_live(const LiveOptions& options) {
  // A bad --since fails before anything is drawn; each frame parses the filters again, so that
  // a span such as 24h slides along.
  make_filter(options.filters, telemetry::unix_now());
  auto store = open_store(options.store);
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  std::int64_t iterations = options.once ? 1 : options.iterations;
  if (iterations < 0) iterations = terminal ? 0 : 1;  // 0: until interrupted
  // A terminal that cannot move the cursor (TERM=dumb, or none) gets plain frames instead.
  const char* term = std::getenv("TERM");
  const bool capable = term != nullptr && *term != '\0' && std::string_view(term) != "dumb";
  const bool full_screen = terminal && capable && !options.json && iterations != 1;
  catch_interrupts();

  std::optional<FullScreen> screen;
  if (full_screen) screen.emplace();
  for (std::int64_t frame_number = 0; iterations == 0 || frame_number < iterations;
       ++frame_number) {
    if (frame_number > 0 && !wait_for_next_frame(options.refresh, screen && screen->reads_keys())) {
      break;
    }
    std::int64_t rows = options.limit;
    if (screen) {
      // The recent executions fill what the rest of the frame (16 rows) leaves of the screen,
      // less its last row, which stays empty.
      if (const auto size = terminal_size()) {
        rows = std::min<std::int64_t>(
            rows, std::max<std::int64_t>(static_cast<std::int64_t>(size->rows) - 17, 0));
      }
    }
    const Frame frame = read_frame(*store, options, rows);
    if (interrupted()) break;
    if (options.json) {
      fmt::print("{}\n", frame_json(frame).dump());
      std::fflush(stdout);
    } else if (screen) {
      screen->draw(render(frame, *store, options, true));
    } else {
      if (frame_number > 0) fmt::print("\n");
      for (const auto& line : render(frame, *store, options, false)) fmt::print("{}\n", line);
      std::fflush(stdout);
    }
  }
  return 0;
}

void add_live_options(CLI::App& command, LiveOptions& options) {
  add_store_options(command, options.store);
  add_filter_options(command, options.filters);
  command.add_option("--refresh,-r", options.refresh, "Seconds between redraws (default 2)")
      ->check(CLI::Range(0.1, 86400.0));
  command.add_flag("--once", options.once, "Print one frame and exit (same as --iterations 1)");
  command
      .add_option("--iterations", options.iterations,
                  "Print this many frames, --refresh seconds apart, then exit")
      ->check(CLI::PositiveNumber);
  command
      .add_option("--limit,-n", options.limit,
                  "Recent executions to show at most (default 10; fewer if the screen is "
                  "short)")
      ->check(CLI::NonNegativeNumber);
  command.add_flag("--json", options.json, "Each frame as one line of JSON");
}

}  // namespace

void add_live_command(CLI::App& monitor) {
  auto options = std::make_shared<LiveOptions>();
  auto* live = monitor.add_subcommand(
      "live", "Totals and recent executions, redrawn until Ctrl-C (the default)");
  live->footer(kHelp);
  add_live_options(*live, *options);
  live->callback([options] { run_monitor([&] { return run_live(*options); }); });

  // `kagura monitor` alone is the live view, with the same options.
  add_live_options(monitor, *options);
  monitor.footer(kHelp);
  monitor.callback([options, &monitor] {
    if (!monitor.get_subcommands().empty()) return;
    run_monitor([&] { return run_live(*options); });
  });
}

}  // namespace kagura::cli::monitor
