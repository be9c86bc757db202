#include "cli/dashboard_command.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "cli/command_support.hpp"
#include "cli/dashboard/servers.hpp"
#include "cli/monitor/interrupt.hpp"

namespace kagura::cli {
namespace {

struct DashboardOptions {
  StoreOptions store;
  bool web = false;
  bool prometheus = false;
  std::string host = "127.0.0.1";
  int web_port = 8501;
  int metrics_port = 9090;
  std::string token;
};

int run_dashboard(DashboardOptions options) {
  if (!options.web && !options.prometheus) options.web = true;
  if (options.token.empty()) {
    if (const char* token = std::getenv("KAGURA_DASHBOARD_TOKEN")) options.token = token;
  }
  const dashboard::ServerOptions web{options.host, options.web_port, options.token};
  const dashboard::ServerOptions metrics{options.host, options.metrics_port, options.token};
  if (options.web) dashboard::check_exposure(web, "the web dashboard");
  if (options.prometheus) dashboard::check_exposure(metrics, "the Prometheus endpoint");
  std::shared_ptr<storage::StorageAdapter> store = open_store(options.store);
  monitor::catch_interrupts();

  // Both servers at once: each on its own thread, and the first failure ends both (SIGTERM
  // stops the other as Ctrl-C would).
  std::mutex failure_mutex;
  std::exception_ptr failure;
  const auto serve = [&](auto&& server) {
    try {
      server();
    } catch (...) {
      {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
      std::raise(SIGTERM);
    }
  };
  if (options.web && options.prometheus) {
    std::thread metrics_thread(
        [&] { serve([&] { dashboard::serve_prometheus(metrics, store); }); });
    serve([&] { dashboard::serve_web(web, store); });
    metrics_thread.join();
  } else if (options.web) {
    dashboard::serve_web(web, store);
  } else {
    dashboard::serve_prometheus(metrics, store);
  }
  if (failure) std::rethrow_exception(failure);
  return 0;
}

}  // namespace

void add_dashboard_command(CLI::App& app) {
  auto options = std::make_shared<DashboardOptions>();
  auto* command = app.add_subcommand(
      "dashboard", "Serve the web dashboard and/or a Prometheus endpoint until Ctrl-C");
  command->add_flag("--web", options->web, "The web dashboard and its JSON API (the default)");
  command->add_flag("--prometheus", options->prometheus, "Prometheus metrics at /metrics");
  command->add_option("--host", options->host,
                      "Address to listen on (default 127.0.0.1; anything else needs --token)");
  command->add_option("--port", options->web_port, "Port of the web dashboard (default 8501)")
      ->check(CLI::Range(0, 65535));
  command
      ->add_option("--metrics-port", options->metrics_port,
                   "Port of the Prometheus endpoint (default 9090)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--token", options->token,
                      "Token every request must carry (Authorization: Bearer, or ?token=); "
                      "default $KAGURA_DASHBOARD_TOKEN");
  add_store_options(*command, options->store);
  command->callback([options] { run_or_exit([&] { return run_dashboard(*options); }); });
}

}  // namespace kagura::cli
