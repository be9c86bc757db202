#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/alerts_command.hpp"
#include "cli/dashboard_command.hpp"
#include "cli/init_command.hpp"
#include "cli/monitor_command.hpp"
#include "cli/prune_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"kagura: observe LLM agents recorded by Kagura C++"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kagura 0.1.0");
  kagura::cli::add_alerts_command(app);
  kagura::cli::add_dashboard_command(app);
  kagura::cli::add_init_command(app);
  kagura::cli::add_monitor_command(app);
  kagura::cli::add_prune_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kagura: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
