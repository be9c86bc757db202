// `kagura monitor live` (and `kagura monitor` alone): plain frames when the output is not a
// terminal, and under tmux the full-screen view that follows the store, stops on Ctrl-C with
// exit status 0 and gives the terminal back.

#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/monitor_test_support.hpp"
#include "kagura/storage/sqlite_store.hpp"

namespace kagura::cli::monitor_test {
namespace {

namespace fs = std::filesystem;
using kagura::test::ProcessResult;
using kagura::test::TempDir;
using namespace std::chrono_literals;

class MonitorLiveTest : public ::testing::Test {
 protected:
  MonitorLiveTest() : team(telemetry::unix_now()) {
    storage::SqliteStore store(db.string());
    team.save_to(store);
  }

  ProcessResult kagura(std::vector<std::string> args) const {
    args.insert(args.end(), {"--db", db.string()});
    return run_kagura(std::move(args), dir.path());
  }

  TempDir dir{"kagura_monitor_live"};
  fs::path db = dir.path() / "telemetry.db";
  TeamScenario team;
};

TEST_F(MonitorLiveTest, WithoutATerminalMonitorPrintsOnePlainFrameAndExits) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"monitor"}, std::vector<std::string>{"monitor", "live"}}) {
    const ProcessResult result = kagura(args);
    ASSERT_EQ(result.exit_code(), 0) << result.err;
    EXPECT_EQ(result.err, "");
    const std::string& out = result.out;
    EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no escape codes in a pipe: " << out;
    EXPECT_EQ(count_of(out, "Kagura live"), 1U) << out;
    EXPECT_NE(out.find("Executions    7  (completed 5, failed 1, running 1)"), std::string::npos)
        << out;
    EXPECT_NE(line_with(out, "Last hour").find("2 executions"), std::string::npos) << out;
    EXPECT_NE(out.find("Recent executions"), std::string::npos) << out;
    EXPECT_NE(out.find(team[5].id), std::string::npos) << out;
    EXPECT_NE(out.find(team[6].id), std::string::npos) << out;
  }
}

TEST_F(MonitorLiveTest, IterationsPrintFramesSeparatedByABlankLine) {
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult result =
      kagura({"monitor", "live", "--iterations", "3", "--refresh", "0.2", "--limit", "2"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_EQ(count_of(result.out, "Kagura live"), 3U) << result.out;
  EXPECT_EQ(count_of(result.out, "\n\nKagura live"), 2U) << result.out;
  EXPECT_EQ(result.out.find('\x1b'), std::string::npos);
  EXPECT_GE(elapsed, 400ms) << "--refresh apart";
  // --limit bounds the recent executions: the two newest.
  EXPECT_EQ(count_of(result.out, team[5].id), 3U);
  EXPECT_EQ(count_of(result.out, team[4].id), 3U);
  EXPECT_EQ(count_of(result.out, team[3].id), 0U);

  const ProcessResult filtered = kagura({"monitor", "--once", "--agent", "translator"});
  ASSERT_EQ(filtered.exit_code(), 0) << filtered.err;
  EXPECT_NE(filtered.out.find("Filters       agent translator"), std::string::npos) << filtered.out;
  EXPECT_NE(filtered.out.find("Executions    2  (completed 2"), std::string::npos) << filtered.out;
}

TEST_F(MonitorLiveTest, JsonFramesAreOneLineEach) {
  const ProcessResult result =
      kagura({"monitor", "live", "--json", "--iterations", "2", "--refresh", "0.1"});
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 2U) << result.out;
  for (const auto& line : lines) {
    const nlohmann::json frame = parse_json(line);
    EXPECT_EQ(frame["stats"]["total_executions"], 7);
    EXPECT_EQ(frame["last_hour"]["total_executions"], 2);
    EXPECT_EQ(frame["recent"][0]["id"], team[5].id);
  }
}

TEST_F(MonitorLiveTest, AnEmptyStoreIsShownAsWaiting) {
  const fs::path empty = dir.path() / "empty.db";
  { storage::SqliteStore store(empty.string()); }
  const ProcessResult result = run_kagura({"monitor", "--db", empty.string()}, dir.path());
  ASSERT_EQ(result.exit_code(), 0) << result.err;
  EXPECT_NE(result.out.find("No executions recorded yet"), std::string::npos) << result.out;
}

TEST_F(MonitorLiveTest, SigintEndsARunningViewWithStatusZero) {
  kagura::test::ChildProcess child({kagura::test::kagura_bin(), "monitor", "live", "--db",
                                    db.string(), "--iterations", "100000", "--refresh", "0.2"},
                                   {{"HOME", dir.path().string()}});
  ASSERT_TRUE(child.wait_for_stdout("Recent executions"));
  ::kill(child.pid(), SIGINT);
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult result = child.finish();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(result.exited()) << "ended by its handler, not killed by the signal";
  EXPECT_EQ(result.exit_code(), 0) << result.err;
}

// Runs kagura on a pseudo-terminal of 40 rows and returns all it wrote there.
std::string run_on_terminal(const std::vector<std::string>& args,
                            const kagura::test::EnvChanges& changes, int& exit_code) {
  const auto env_strings = kagura::test::child_environment(changes);
  std::vector<char*> env_ptrs;
  for (const auto& s : env_strings) env_ptrs.push_back(const_cast<char*>(s.c_str()));
  env_ptrs.push_back(nullptr);
  std::vector<std::string> argv = {kagura::test::kagura_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> arg_ptrs;
  for (const auto& s : argv) arg_ptrs.push_back(const_cast<char*>(s.c_str()));
  arg_ptrs.push_back(nullptr);
  winsize size{};
  size.ws_row = 40;
  size.ws_col = 160;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty failed";
    return {};
  }
  if (pid == 0) {
    ::execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child has closed the terminal
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST_F(MonitorLiveTest, OnATerminalTheViewTakesTheScreenAndGivesItBack) {
  const std::vector<std::string> args = {"monitor", "--db",      db.string(), "--iterations",
                                         "2",       "--refresh", "0.1"};
  int code = -1;
  const std::string out = run_on_terminal(
      args, {{"HOME", dir.path().string()}, {"TERM", "xterm"}, {"NO_COLOR", "1"}}, code);
  EXPECT_EQ(code, 0) << out;
  const auto enter = out.find("\x1b[?1049h\x1b[?25l");
  const auto leave = out.rfind("\x1b[?25h\x1b[?1049l");
  ASSERT_NE(enter, std::string::npos) << "alternate screen, cursor hidden: " << out;
  ASSERT_NE(leave, std::string::npos) << "cursor shown, normal screen back: " << out;
  EXPECT_LT(enter, out.find("Kagura live"));
  EXPECT_GT(leave, out.rfind("Kagura live"));
  EXPECT_EQ(count_of(out, "\x1b[H"), 2U) << "each frame redraws from the top";
  EXPECT_EQ(out.find("\x1b[3"), std::string::npos) << "no colour with NO_COLOR";

  // A terminal that cannot move the cursor gets plain frames.
  const std::string dumb = run_on_terminal(
      args, {{"HOME", dir.path().string()}, {"TERM", "dumb"}, {"NO_COLOR", "1"}}, code);
  EXPECT_EQ(code, 0) << dumb;
  EXPECT_EQ(dumb.find('\x1b'), std::string::npos) << dumb;
  EXPECT_EQ(count_of(dumb, "Kagura live"), 2U) << dumb;
}

// ---- under tmux ----

// Runs a command and returns its standard output and exit status.
std::pair<std::string, int> shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  const int status = ::pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// A tmux server of its own (its own socket name), killed on destruction.
class Tmux {
 public:
  Tmux() {
    std::random_device random;
    socket_ = "kagura_test_" + std::to_string(::getpid()) + "_" + std::to_string(random());
  }
  ~Tmux() { run("kill-server"); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  std::pair<std::string, int> run(const std::string& arguments) const {
    return shell("tmux -L " + socket_ + " -f /dev/null " + arguments + " 2>&1");
  }
  std::string pane() const { return run("capture-pane -p -t live").first; }
  // The exit status of the pane's process once it has ended, or "" if it has not within
  // `timeout`. tmux 3.3 sometimes misses the SIGCHLD of a pane's process (the pane is dead, its
  // process a zombie, #{pane_dead_status} empty); any later child of the server makes it reap
  // every exited child, so a run-shell nudges it.
  std::string exit_status(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (format("#{pane_dead}") == "1") {
        const std::string status = format("#{pane_dead_status}");
        if (!status.empty()) return status;
        run("run-shell true");
      }
      if (std::chrono::steady_clock::now() >= deadline) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::string format(const std::string& spec) const {
    std::string out = run("display-message -p -t live " + quoted(spec)).first;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
  }

 private:
  std::string socket_;
};

// Polls until `done` holds or `timeout` passes.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

TEST_F(MonitorLiveTest, UnderTmuxFollowsTheStoreAndStopsOnCtrlC) {
  if (shell("command -v tmux >/dev/null 2>&1").second != 0) {
    GTEST_SKIP() << "tmux is not installed (scripts/install_deps.sh installs it)";
  }
  Tmux tmux;
  const std::string command = quoted(kagura::test::kagura_bin()) + " monitor live --db " +
                              quoted(db.string()) + " --refresh 0.3";
  // remain-on-exit keeps the pane after the process ends, to read its exit status.
  const auto started =
      tmux.run("new-session -d -s live -x 160 -y 50 -e HOME=" + quoted(dir.path().string()) + " " +
               quoted(command) + " \\; set-option -t live remain-on-exit on");
  ASSERT_EQ(started.second, 0) << started.first;

  // A capture can catch a frame half drawn (tmux reads the view's output in pieces): the rows
  // below the last one it has read still show the previous frame. So each wait is for
  // everything the test then checks, down to the last row it needs.
  std::string screen;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.pane();
        return screen.find("Executions    7  (completed 5, failed 1, running 1)") !=
                   std::string::npos &&
               screen.find(team[5].id) != std::string::npos;
      },
      10s))
      << screen;
  EXPECT_NE(screen.find("Ctrl-C or q to quit"), std::string::npos) << screen;
  EXPECT_EQ(tmux.format("#{alternate_on}"), "1") << "the view runs on the alternate screen";
  EXPECT_EQ(tmux.format("#{cursor_flag}"), "0") << "with the cursor hidden";

  // A new execution shows up at the next refresh.
  const Execution late = ExecutionBuilder("latecomer", telemetry::unix_now())
                             .lasting(0.4)
                             .failed("boom")
                             .llm(0.0, "gpt-4o-mini", 10, 5, 1000);
  {
    storage::SqliteStore store(db.string());
    store.save_execution(late);
  }
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.pane();
        return screen.find("Executions    8  (completed 5, failed 2, running 1)") !=
                   std::string::npos &&
               screen.find(late.id) != std::string::npos;
      },
      10s))
      << "the new execution's id, as saved (" << late.id << "), not on: " << screen;
  EXPECT_NE(line_with(screen, late.id).find("latecomer"), std::string::npos);

  ASSERT_EQ(tmux.run("send-keys -t live C-c").second, 0);
  const std::string status = tmux.exit_status(10s);
  ASSERT_NE(status, "") << "still running after Ctrl-C: " << tmux.pane();
  EXPECT_EQ(status, "0") << "Ctrl-C is a clean exit";
}

// What the view gives back, seen from the shell that ran it (a dead pane says nothing of the
// terminal's state: tmux hides its cursor).
TEST_F(MonitorLiveTest, UnderTmuxCtrlCGivesTheTerminalBack) {
  if (shell("command -v tmux >/dev/null 2>&1").second != 0) {
    GTEST_SKIP() << "tmux is not installed (scripts/install_deps.sh installs it)";
  }
  Tmux tmux;
  // bash waits for the view, then reports; a child that handles SIGINT itself lets the script
  // go on (bash's wait-and-cooperative-exit).
  const std::string script =
      "echo before the view; " + quoted(kagura::test::kagura_bin()) + " monitor --db " +
      quoted(db.string()) +
      " --refresh 0.3; echo \"view exited with $?\"; stty -a; echo end of stty; sleep 60";
  ASSERT_EQ(
      tmux.run("new-session -d -s live -x 160 -y 50 " + quoted("bash -c " + quoted(script))).second,
      0);
  std::string screen;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.pane();
        return screen.find(team[6].id) != std::string::npos;
      },
      10s))
      << screen;
  EXPECT_EQ(screen.find("before the view"), std::string::npos) << "the view has the screen";
  ASSERT_EQ(tmux.run("send-keys -t live C-c").second, 0);
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.pane();
        // The whole report, not just its first line: stty may not have printed yet.
        return screen.find("end of stty") != std::string::npos;
      },
      10s))
      << screen;
  EXPECT_NE(screen.find("view exited with 0"), std::string::npos) << screen;
  EXPECT_EQ(tmux.format("#{alternate_on}"), "0") << "the normal screen is back";
  EXPECT_EQ(tmux.format("#{cursor_flag}"), "1") << "and the cursor visible";
  EXPECT_NE(screen.find("before the view"), std::string::npos) << "as it was: " << screen;
  EXPECT_EQ(screen.find("Executions"), std::string::npos)
      << "the view leaves nothing behind: " << screen;
  // Echo and line editing are on again: stty prints them without a minus.
  EXPECT_NE(screen.find(" icanon "), std::string::npos) << screen;
  EXPECT_NE(screen.find(" echo "), std::string::npos) << screen;
}

TEST_F(MonitorLiveTest, UnderTmuxQQuits) {
  if (shell("command -v tmux >/dev/null 2>&1").second != 0) {
    GTEST_SKIP() << "tmux is not installed (scripts/install_deps.sh installs it)";
  }
  Tmux tmux;
  const std::string command =
      quoted(kagura::test::kagura_bin()) + " monitor --db " + quoted(db.string()) + " --refresh 5";
  ASSERT_EQ(tmux.run("new-session -d -s live -x 160 -y 20 -e HOME=" + quoted(dir.path().string()) +
                     " " + quoted(command) + " \\; set-option -t live remain-on-exit on")
                .second,
            0);
  std::string screen;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.pane();
        // The last row shown: the frame is drawn down to it (see above).
        return screen.find(team[3].id) != std::string::npos;
      },
      10s))
      << screen;
  // A short screen shows fewer recent executions rather than scrolling: 20 rows leave room
  // for the totals and the three newest.
  EXPECT_EQ(screen.rfind("Kagura live", 0), 0U) << screen;
  EXPECT_NE(screen.find(team[5].id), std::string::npos) << screen;
  EXPECT_EQ(screen.find(team[2].id), std::string::npos) << screen;
  ASSERT_EQ(tmux.run("send-keys -t live q").second, 0);
  const std::string status = tmux.exit_status(3s);
  ASSERT_NE(status, "") << "q did not quit well before the next refresh: " << tmux.pane();
  EXPECT_EQ(status, "0");
}

}  // namespace
}  // namespace kagura::cli::monitor_test
