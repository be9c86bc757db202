// Faults: a read-only database file or directory, a full disk, PostgreSQL and MongoDB stopped
// and started again in the middle of a run. In each, the agent keeps working (every call
// returns), the telemetry failures are counted and visible (stats, a notice on stderr), and once
// the fault clears every execution accepted is stored exactly once.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "kagura/storage/mongodb_store.hpp"
#include "kagura/storage/postgres_store.hpp"
#include "kagura/storage/sqlite_store.hpp"
#include "reliability/reliability_support.hpp"
#include "support/mongodb_test_server.hpp"
#include "support/postgres_test_server.hpp"

namespace kagura::test {
namespace {

using namespace std::chrono_literals;

constexpr uid_t kNobody = 65534;

bool is_root() {
  return ::geteuid() == 0;
}

// Root ignores file permissions, so as root (CI) the agents run as nobody, who owns the test's
// directory; otherwise as the caller.
std::vector<std::string> unprivileged(std::vector<std::string> argv) {
  if (is_root()) {
    argv.insert(argv.begin(),
                {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  }
  return argv;
}

void give_to_agents(const fs::path& dir) {
  if (!is_root()) return;
  (void)::chown(dir.c_str(), kNobody, kNobody);
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    (void)::lchown(entry.path().c_str(), kNobody, kNobody);
  }
}

std::uint64_t stat_of(const AgentOutput& output, const char* name) {
  return output.stats ? (*output.stats)[name].get<std::uint64_t>() : 0;
}

// Runs an agent to completion; it must exit normally, whatever the store did.
AgentOutput run_agent(const std::vector<std::string>& argv, const EnvChanges& env,
                      std::string* err = nullptr) {
  const auto result = run_process(argv, env);
  EXPECT_EQ(result.exit_code(), 0) << "the agent did not keep working: " << result.err;
  if (err != nullptr) *err = result.err;
  auto output = parse_agent_output(result.out);
  EXPECT_TRUE(output.stats) << result.err;
  return output;
}

// A SQLite fault present while a process records, cleared before the next one starts: the first
// keeps every execution in the spool, the next delivers them.
using FaultStep = std::function<void(const fs::path& db)>;

void fault_then_recover(const std::string& name, const FaultStep& make_fault,
                        const FaultStep& clear_fault) {
  TempDir dir{"kagura_fault"};
  fs::create_directories(dir.path() / "home");
  fs::create_directories(dir.path() / "data");
  give_to_agents(dir.path());
  const auto db = (dir.path() / "data" / "telemetry.db").string();
  const EnvChanges env = {{"KAGURA_HOME", (dir.path() / "home").string()},
                          {"KAGURA_TELEMETRY_CONNECTION", db}};

  auto before = run_agent(unprivileged(agent_argv(0, 2, {"--count", "10", "--ack"})), env);
  ASSERT_EQ(before.acked.size(), 20u);
  make_fault(db);
  std::string err;
  const auto during =
      run_agent(unprivileged(agent_argv(1, 2, {"--count", "100", "--ack"})), env, &err);
  clear_fault(db);
  const auto recovery_start = std::chrono::steady_clock::now();
  const auto after =
      run_agent(unprivileged(agent_argv(2, 1, {"--count", "0", "--wait-spool-ms", "30000"})), env);
  const double recovery = seconds_since(recovery_start);

  std::vector<std::string> acked = before.acked;
  acked.insert(acked.end(), during.acked.begin(), during.acked.end());
  storage::SqliteStore store(db);
  const StoreCheck check = check_store(store, acked);
  print_figures(name, {{"recorded_during_fault", std::to_string(during.acked.size())},
                       {"written_during_fault", std::to_string(stat_of(during, "written"))},
                       {"spooled", std::to_string(stat_of(during, "spooled"))},
                       {"failed", std::to_string(stat_of(during, "failed"))},
                       {"delivered_after", std::to_string(stat_of(after, "unspooled"))},
                       {"stored", std::to_string(check.stored)},
                       {"missing", std::to_string(check.missing)},
                       {"recovery_seconds", fmt::format("{:.2f}", recovery)}});
  EXPECT_EQ(during.acked.size(), 200u) << "every agent call returns";
  EXPECT_EQ(stat_of(during, "spooled") + stat_of(during, "written"), 200u);
  EXPECT_GT(stat_of(during, "spooled"), 0u) << "the fault was not seen: " << err;
  EXPECT_EQ(stat_of(during, "failed"), 0u);
  EXPECT_NE((*during.stats)["last_error"].get<std::string>(), "") << "the failure is visible";
  EXPECT_NE(err.find("kept in the spool"), std::string::npos) << err;
  EXPECT_EQ(stat_of(after, "spool_pending"), 0u) << (*after.stats)["last_error"];
  EXPECT_EQ(stat_of(after, "unspooled"), stat_of(during, "spooled"));
  EXPECT_EQ(check.stored, 220u);
  EXPECT_EQ(check.distinct, check.stored);
  EXPECT_EQ(check.missing, 0u) << check.first_problem;
  EXPECT_EQ(check.mixed_up, 0u) << check.first_problem;
}

void set_mode(const fs::path& path, fs::perms mode) {
  fs::permissions(path, mode, fs::perm_options::replace);
}

constexpr auto kReadOnlyFile =
    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read;
constexpr auto kWritableFile = kReadOnlyFile | fs::perms::owner_write;
constexpr auto kReadOnlyDir =
    kReadOnlyFile | fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
constexpr auto kWritableDir = kReadOnlyDir | fs::perms::owner_write;

TEST(Faults, AReadOnlyDatabaseFileLosesNothingOnceWritableAgain) {
  fault_then_recover(
      "fault read-only database file", [](const fs::path& db) { set_mode(db, kReadOnlyFile); },
      [](const fs::path& db) { set_mode(db, kWritableFile); });
}

TEST(Faults, AReadOnlyDatabaseDirectoryLosesNothingOnceWritableAgain) {
  fault_then_recover(
      "fault read-only database directory",
      [](const fs::path& db) { set_mode(db.parent_path(), kReadOnlyDir); },
      [](const fs::path& db) { set_mode(db.parent_path(), kWritableDir); });
}

// What a run through a fault that comes and goes while the agent records showed.
struct MidRun {
  AgentOutput output;
  std::string err;
  double recovery_seconds = 0;  // from the fault's end to everything delivered
};

// Executions waiting in the spools under `spool_root` (segment files, claimed or not).
std::size_t spooled_segments(const fs::path& spool_root) {
  std::size_t segments = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator it(spool_root, error), end; !error && it != end;
       it.increment(error)) {
    const auto name = it->path().filename().string();
    if (!name.starts_with('.') && name.find(".jsonl") != std::string::npos) ++segments;
  }
  return segments;
}

// Starts an agent (whose KAGURA_HOME is `home`), calls fault() after `fault_after`, clear()
// `clear_after` later, and waits for the agent to finish recording and deliver its spool. The
// time to recover runs from clear() to the first moment the spool is empty.
MidRun record_through(const std::vector<std::string>& argv, const EnvChanges& env,
                      const fs::path& home, const std::function<void()>& fault,
                      const std::function<void()>& clear, std::chrono::milliseconds fault_after,
                      std::chrono::milliseconds clear_after) {
  ChildProcess child(argv, env);
  ProcessResult result;
  std::atomic<bool> finished{false};
  std::thread reader([&] {
    result = child.finish();
    finished = true;
  });
  std::this_thread::sleep_for(fault_after);
  fault();
  std::this_thread::sleep_for(clear_after);
  clear();
  const auto cleared = std::chrono::steady_clock::now();
  while (!finished && spooled_segments(home / "spool") > 0) std::this_thread::sleep_for(10ms);
  MidRun run;
  run.recovery_seconds = seconds_since(cleared);
  reader.join();
  run.err = result.err;
  EXPECT_EQ(result.exit_code(), 0) << "the agent did not keep working: " << result.err;
  run.output = parse_agent_output(result.out);
  EXPECT_TRUE(run.output.stats) << result.err;
  return run;
}

void expect_all_delivered(const std::string& name, const MidRun& run, std::size_t expected,
                          storage::StorageAdapter& store,
                          const std::vector<std::string>& earlier = {}) {
  std::vector<std::string> acked = earlier;
  acked.insert(acked.end(), run.output.acked.begin(), run.output.acked.end());
  const StoreCheck check = check_store(store, acked);
  const auto& out = run.output;
  print_figures(name, {{"recorded", std::to_string(out.acked.size())},
                       {"written_directly",
                        std::to_string(stat_of(out, "written") - stat_of(out, "unspooled"))},
                       {"spooled", std::to_string(stat_of(out, "spooled"))},
                       {"unspooled", std::to_string(stat_of(out, "unspooled"))},
                       {"failed", std::to_string(stat_of(out, "failed"))},
                       {"dropped", std::to_string(stat_of(out, "dropped"))},
                       {"stored", std::to_string(check.stored)},
                       {"missing", std::to_string(check.missing)},
                       {"duplicates_stored", std::to_string(check.stored - check.distinct)},
                       {"recovery_seconds", fmt::format("{:.2f}", run.recovery_seconds)}});
  EXPECT_EQ(out.acked.size(), expected) << "every agent call returns";
  EXPECT_GT(stat_of(out, "spooled"), 0u) << "the fault was not seen: " << run.err;
  EXPECT_NE(run.err.find("kept in the spool"), std::string::npos) << run.err;
  EXPECT_EQ(stat_of(out, "failed"), 0u) << (*out.stats)["last_error"];
  EXPECT_EQ(stat_of(out, "dropped"), 0u);
  EXPECT_EQ(stat_of(out, "spool_pending"), 0u) << (*out.stats)["last_error"];
  EXPECT_EQ(stat_of(out, "unspooled"), stat_of(out, "spooled"));
  EXPECT_EQ(check.stored, acked.size()) << "each execution stored exactly once";
  EXPECT_EQ(check.distinct, check.stored);
  EXPECT_EQ(check.missing, 0u) << check.first_problem;
  EXPECT_EQ(check.mixed_up, 0u) << check.first_problem;
}

// Fills the file system of `file` until it refuses another byte; returns the bytes written.
std::uint64_t fill_file_system(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  std::vector<char> chunk(1 << 16, 'x');
  std::uint64_t total = 0;
  for (std::size_t size = chunk.size(); size > 0;) {
    const ssize_t n = ::write(fd, chunk.data(), size);
    if (n > 0) {
      total += static_cast<std::uint64_t>(n);
    } else {
      size /= 2;
    }
  }
  ::close(fd);
  return total;
}

TEST(Faults, AFullDiskLosesNothingOnceSpaceIsFreed) {
  if (!is_root()) GTEST_SKIP() << "mounting the small tmpfs that this test fills needs root";
  TempDir dir{"kagura_fault_disk"};
  const auto disk = dir.path() / "disk";
  fs::create_directories(disk);
  if (std::system(("mount -t tmpfs -o size=8m tmpfs " + disk.string()).c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (no CAP_SYS_ADMIN?)";
  }
  struct Unmount {
    fs::path path;
    ~Unmount() { (void)std::system(("umount -l " + path.string()).c_str()); }
  } unmount{disk};
  // The spool is in KAGURA_HOME, on another file system: a spool on the full disk could not
  // take the executions either.
  const auto db = (disk / "telemetry.db").string();
  const EnvChanges env = {{"KAGURA_HOME", (dir.path() / "home").string()},
                          {"KAGURA_TELEMETRY_CONNECTION", db}};
  const auto before = run_agent(agent_argv(0, 2, {"--count", "10", "--ack"}), env);
  ASSERT_EQ(before.acked.size(), 20u);

  const auto filler = disk / "filler";
  const std::uint64_t filled = fill_file_system(filler);
  ASSERT_GT(filled, 0u);
  const auto run = record_through(
      agent_argv(1, 2,
                 {"--count", "300", "--ack", "--pace-us", "5000", "--wait-spool-ms", "30000"}),
      env, dir.path() / "home", [] {}, [&] { fs::remove(filler); }, 0ms, 1200ms);
  std::printf("[figures] fault disk full: filled_bytes=%llu\n",
              static_cast<unsigned long long>(filled));
  storage::SqliteStore store(db);
  expect_all_delivered("fault disk full", run, 600, store, before.acked);
}

void postgres_stopped_and_restarted(const std::string& name, bool durable) {
  OwnPostgresServer server;
  TempDir dir{"kagura_fault_pg"};
  { storage::PostgresStore create(server.url()); }
  EnvChanges env = {{"KAGURA_HOME", (dir.path() / "home").string()},
                    {"KAGURA_TELEMETRY_BACKEND", "postgresql"},
                    {"KAGURA_TELEMETRY_CONNECTION", server.url()}};
  if (durable) env["KAGURA_TELEMETRY_DURABLE"] = "1";
  const auto run = record_through(
      agent_argv(0, 4,
                 {"--count", "500", "--ack", "--pace-us", "5000", "--wait-spool-ms", "60000"}),
      env, dir.path() / "home", [&] { server.run("pause"); }, [&] { server.run("resume"); }, 700ms,
      1000ms);
  storage::PostgresStore store(server.url());
  expect_all_delivered(name, run, 2000, store);
}

TEST(Faults, PostgresStoppedAndRestartedMidRunGetsEveryExecutionOnce) {
  postgres_stopped_and_restarted("fault postgresql restart", false);
}

TEST(Faults, PostgresStoppedAndRestartedMidRunInDurableModeGetsEveryExecutionOnce) {
  postgres_stopped_and_restarted("fault postgresql restart durable", true);
}

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return {};
}

// A CongoDB server of the test's own (scripts/test_servers/congodb_server.mjs, with the
// packages the mongodb_server fixture installed), which keeps its data in a file across a stop
// and a start on the same port.
class OwnCongoServer {
 public:
  explicit OwnCongoServer(const fs::path& dir)
      : dir_(dir),
        entry_(fs::path(KAGURA_MONGODB_DIR) /
               "npm/node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js"),
        node_(find_program("node")) {}
  ~OwnCongoServer() { stop(); }
  OwnCongoServer(const OwnCongoServer&) = delete;
  OwnCongoServer& operator=(const OwnCongoServer&) = delete;

  bool available() const { return !node_.empty() && fs::exists(entry_); }

  void start() {
    const auto url_file = dir_ / "mongodb.url";
    fs::remove(url_file);
    const std::string script =
        (fs::path(KAGURA_SOURCE_DIR) / "scripts/test_servers/congodb_server.mjs").string();
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/bin/sh", "-c", "exec \"$0\" \"$1\" \"$2\" >>\"$3\" 2>&1", node_,
                                 script, url_file.string(), (dir_ / "server.log").string()},
        EnvChanges{{"CONGODB_ENTRY", entry_.string()},
                   {"CONGODB_PORT", std::to_string(port_)},
                   {"CONGODB_PERSIST", (dir_ / "data.json").string()}});
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!fs::exists(url_file) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    std::ifstream in(url_file);
    std::getline(in, uri_);
    if (uri_.empty()) throw std::runtime_error("CongoDB did not start: see " + dir_.string());
    const auto colon = uri_.rfind(':');
    port_ = std::stoi(uri_.substr(colon + 1, uri_.find('/', colon) - colon - 1));
  }

  // A real stop: the server saves its data and exits.
  void stop() {
    if (!server_) return;
    ::kill(server_->pid(), SIGTERM);
    server_->finish();
    server_.reset();
  }

  const std::string& uri() const { return uri_; }

 private:
  fs::path dir_;
  fs::path entry_;
  std::string node_;
  std::unique_ptr<ChildProcess> server_;
  std::string uri_;
  int port_ = 0;
};

TEST(Faults, MongoStoppedAndRestartedMidRunGetsEveryExecutionOnce) {
  TempDir dir{"kagura_fault_mongo"};
  OwnCongoServer server(dir.path());
  if (!server.available()) {
    GTEST_SKIP() << "the CongoDB packages of the mongodb_server fixture are not installed "
                    "(KAGURA_TEST_MONGODB_URL set, or run outside ctest)";
  }
  server.start();
  const std::string uri = with_database(server.uri(), fresh_mongodb_database());
  { storage::MongoStore create(uri); }
  const EnvChanges env = {{"KAGURA_HOME", (dir.path() / "home").string()},
                          {"KAGURA_TELEMETRY_BACKEND", "mongodb"},
                          {"KAGURA_TELEMETRY_CONNECTION", uri}};
  const auto run = record_through(
      agent_argv(0, 4,
                 {"--count", "300", "--ack", "--pace-us", "5000", "--wait-spool-ms", "90000"}),
      env, dir.path() / "home", [&] { server.stop(); }, [&] { server.start(); }, 500ms, 1000ms);
  storage::MongoStore store(uri);
  expect_all_delivered("fault mongodb restart", run, 1200, store);
}

}  // namespace
}  // namespace kagura::test
