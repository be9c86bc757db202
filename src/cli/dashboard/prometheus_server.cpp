// `kagura dashboard --prometheus`: /metrics computed from the store this process reads.
//
// The store is read once at start, then each scrape reads only what arrived since. Two
// subtleties of a store that other processes are writing:
// - An execution is written when it ends, and the store orders by start time, so a long
//   execution (or one delivered late from a spool) appears *behind* ones already read. Each
//   scrape therefore looks again at the last kOverlapSeconds before the newest start seen,
//   skipping the ids it has already counted; only those ids are remembered, so memory stays
//   bounded by the executions of that window. An execution that reaches the store more than
//   kOverlapSeconds after a newer one was read is not counted (say, after a long outage
//   spent in the spool); kagura_exporter_* documents what was read.
// - Counters only grow, so an execution is counted once, when it is seen finished. One read
//   while still running is re-read by id at every scrape until it has finished.
// The pipeline's own counters (queued, written, dropped, ...) live in the recording processes,
// which publish them in ~/.kagura/pipelines (kagura/pipeline/process_status.hpp); each scrape
// serves those of the processes writing to this store, one series per process, until an hour
// after the process ended.

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cli/command_support.hpp"
#include "cli/dashboard/servers.hpp"
#include "cli/monitor/interrupt.hpp"
#include "cli/monitor/paging.hpp"
#include "kagura/config/paths.hpp"
#include "kagura/metrics/prometheus_metrics.hpp"
#include "kagura/pipeline/process_status.hpp"

namespace kagura::cli::dashboard {
namespace {

constexpr double kOverlapSeconds = 15 * 60;
constexpr std::int64_t kPageSize = 1000;
// Executions read while running and waiting to be seen finished; beyond this the oldest are
// given up (a store full of executions that never finish is not worth a growing re-read).
constexpr std::size_t kMaxUnfinished = 10000;
constexpr std::size_t kRechecksPerScrape = 200;
constexpr std::chrono::seconds kForgetEndedProcessesAfter{3600};
// A process on another machine (sharing the home directory) that has not published for this
// long is taken to have ended; publishers write every few seconds.
constexpr std::chrono::seconds kSilentProcessEndedAfter{60};

class StoreFollower {
 public:
  explicit StoreFollower(std::shared_ptr<storage::StorageAdapter> store)
      : store_(std::move(store)), pipelines_(config::kagura_home() / "pipelines") {}

  // Reads the whole store, newest first; false when interrupted.
  bool read_all() {
    std::lock_guard lock(mutex_);
    bool stopped = false;
    monitor::for_each_execution(*store_, {}, true, kPageSize, [&](const telemetry::Execution& e) {
      if (monitor::interrupted()) {
        stopped = true;
        return false;
      }
      take(e);
      return true;
    });
    loaded_ = !stopped;
    return loaded_;
  }

  // Reads what is new, then renders; a store that fails leaves the last figures, with the
  // error counted.
  std::string scrape() {
    std::lock_guard lock(mutex_);
    try {
      read_new();
      if (failing_) std::cerr << "kagura dashboard: the store answers again\n";
      failing_ = false;
    } catch (const std::exception& e) {
      ++scrape_errors_;
      if (!failing_) {
        std::cerr << "kagura dashboard: could not read the store for /metrics (" << e.what()
                  << "); serving the last figures until it answers\n";
      }
      failing_ = true;
    }
    metrics::TextExposition out;
    metrics_.write(out);
    write_recording_processes(out);
    out.family("kagura_exporter_executions_read_total", "counter",
               "Finished executions this exporter has read from the store and counted.");
    out.sample("kagura_exporter_executions_read_total", {}, metrics_.executions());
    out.family("kagura_exporter_scrape_errors_total", "counter",
               "Scrapes on which the store could not be read (the last figures were served).");
    out.sample("kagura_exporter_scrape_errors_total", {}, scrape_errors_);
    out.family("kagura_exporter_unfinished_executions", "gauge",
               "Executions read while still running, not counted until seen finished.");
    out.sample("kagura_exporter_unfinished_executions", {},
               static_cast<std::uint64_t>(unfinished_.size()));
    return out.take();
  }

 private:
  void write_recording_processes(metrics::TextExposition& out) const {
    std::vector<metrics::ProcessPipelineStats> processes;
    for (auto& status : pipeline::read_process_statuses(
             pipelines_, store_->backend_name(), store_->location(), kForgetEndedProcessesAfter)) {
      processes.push_back({{{"process", status.host + ":" + std::to_string(status.pid)}},
                           std::move(status.stats),
                           pipeline::process_running(status, kSilentProcessEndedAfter),
                           status.updated_at});
    }
    metrics::write_pipeline_metrics(out, processes);
  }

  void take(const telemetry::Execution& e) {
    if (!newest_ || e.started_at > *newest_) newest_ = e.started_at;
    // The whole-store read comes newest first, so only the overlap window is remembered.
    if (e.started_at >= *newest_ - kOverlapSeconds) seen_.emplace(e.id, e.started_at);
    if (!metrics_.add(e)) remember_unfinished(e.id);
  }

  void remember_unfinished(const std::string& id) {
    if (!unfinished_.insert(id).second) return;
    unfinished_order_.push_back(id);
    while (unfinished_order_.size() > kMaxUnfinished) {
      unfinished_.erase(unfinished_order_.front());
      unfinished_order_.pop_front();
    }
  }

  void read_new() {
    if (!loaded_) return;
    storage::ExecutionFilter window;
    if (newest_) {
      window.since = *newest_ - kOverlapSeconds;
      std::erase_if(seen_, [&](const auto& entry) { return entry.second < *window.since; });
    }
    // Nothing new when the store holds exactly the executions already seen in the window:
    // one count instead of a listing at each scrape of a quiet store.
    if (store_->count_executions(window) != static_cast<std::int64_t>(seen_.size())) {
      // A listing without events finds the new ids; then only the span from the oldest of them
      // is read again with events, which are most of a row.
      std::optional<double> oldest_new;
      std::unordered_set<std::string> listed;
      monitor::for_each_execution(
          *store_, window, false, kPageSize, [&](const telemetry::Execution& e) {
            listed.insert(e.id);
            if (!seen_.contains(e.id)) {
              oldest_new = std::min(oldest_new.value_or(e.started_at), e.started_at);
            }
            return true;
          });
      // Ids no longer listed were deleted (kagura prune): forgotten, so that the count matches
      // again.
      std::erase_if(seen_, [&](const auto& entry) { return !listed.contains(entry.first); });
      if (oldest_new) {
        window.since = *oldest_new;
        monitor::for_each_execution(*store_, window, true, kPageSize,
                                    [&](const telemetry::Execution& e) {
                                      if (!seen_.contains(e.id)) take(e);
                                      return true;
                                    });
      }
    }
    recheck_unfinished();
  }

  // A few per scrape, in turn, so that many unfinished executions cannot slow a scrape down.
  void recheck_unfinished() {
    const std::size_t turns = std::min(unfinished_order_.size(), kRechecksPerScrape);
    for (std::size_t i = 0; i < turns; ++i) {
      std::string id = std::move(unfinished_order_.front());
      unfinished_order_.pop_front();
      const auto execution = store_->get_execution(id);
      if (execution && execution->status == telemetry::ExecutionStatus::running) {
        unfinished_order_.push_back(std::move(id));
        continue;
      }
      if (execution) metrics_.add(*execution);  // deleted meanwhile: nothing to count
      unfinished_.erase(id);
    }
  }

  std::shared_ptr<storage::StorageAdapter> store_;
  const std::filesystem::path pipelines_;
  std::mutex mutex_;
  metrics::ExecutionMetrics metrics_;
  bool loaded_ = false;
  std::optional<double> newest_;                  // the latest start time read
  std::unordered_map<std::string, double> seen_;  // id -> start, within the overlap window
  std::unordered_set<std::string> unfinished_;
  std::deque<std::string> unfinished_order_;
  std::uint64_t scrape_errors_ = 0;
  bool failing_ = false;
};

}  // namespace

void serve_prometheus(const ServerOptions& options,
                      std::shared_ptr<storage::StorageAdapter> store) {
  StoreFollower follower(std::move(store));
  httplib::Server server;
  configure_sockets(server);
  server.set_pre_routing_handler([&](const httplib::Request& request, httplib::Response& response) {
    if (request_authorised(request, options.token))
      return httplib::Server::HandlerResponse::Unhandled;
    response.status = 401;
    response.set_header("WWW-Authenticate", "Bearer");
    response.set_content("unauthorised: send the token as 'Authorization: Bearer TOKEN'\n",
                         "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.Get("/metrics", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content(follower.scrape(), std::string(metrics::kExpositionContentType));
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.status == 404) {
      response.set_content("not found: the metrics are at /metrics\n", "text/plain; charset=utf-8");
    }
  });

  // Bound before the store is read, so that a port in use is reported at once; connections
  // made during the read wait in the backlog.
  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
  } else if (!server.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port < 0) {
    throw CliError(fmt::format(
        "the Prometheus endpoint cannot listen on {}:{} (port in use, or the address is not "
        "this machine's): pick another port with --metrics-port PORT (0 picks a free one)",
        options.host, options.port));
  }
  if (!follower.read_all()) return;  // Ctrl-C while reading the store

  std::fprintf(stdout, "Prometheus metrics at http://%s:%d/metrics\n",
               url_host(options.host).c_str(), port);
  std::fflush(stdout);
  serve_until_interrupted(server, "the Prometheus endpoint", options.host, port);
}

}  // namespace kagura::cli::dashboard
