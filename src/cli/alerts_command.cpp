#include "cli/alerts_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/command_support.hpp"
#include "cli/monitor/interrupt.hpp"
#include "cli/output.hpp"
#include "cli/time_spec.hpp"
#include "kagura/alerts/action.hpp"
#include "kagura/alerts/evaluator.hpp"
#include "kagura/alerts/rules_file.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli {
namespace {

namespace fs = std::filesystem;
using telemetry::Execution;

constexpr std::int64_t kPageSize = 1000;
// How long commands started by the last alerts may take before the command exits anyway.
constexpr auto kCommandWait = std::chrono::seconds(30);

struct WatchOptions {
  StoreOptions store;
  std::string rules;
  double interval = 5;
  bool once = false;
  std::string since;
  std::string lookback = "1h";
};

fs::path rules_path(const std::string& given) {
  return given.empty() ? alerts::default_rules_path() : fs::path(given);
}

std::vector<alerts::Rule> load_rules(const fs::path& path) {
  auto rules = alerts::load_rules_file(path);
  if (rules.empty()) {
    throw CliError(path.string() +
                   " has no enabled rules, so there is nothing to check: add a "
                   "rule (see docs/alerts.md) or set \"enabled\": true");
  }
  return rules;
}

// Every finished execution that started at or after `since`, newest first. Offsets may repeat a
// row when executions arrive during the read; the caller skips ids it has seen.
std::vector<Execution> executions_since(storage::StorageAdapter& store, double since) {
  std::vector<Execution> all;
  storage::ExecutionQuery query;
  query.since = since;
  query.limit = kPageSize;
  query.include_events = false;
  for (;;) {
    auto page = store.get_executions(query);
    const auto size = static_cast<std::int64_t>(page.size());
    for (auto& e : page) {
      if (e.status != telemetry::ExecutionStatus::running) all.push_back(std::move(e));
    }
    if (size < kPageSize) break;
    query.offset += size;
  }
  return all;
}

void sort_by_time(std::vector<Execution>& executions) {
  std::stable_sort(executions.begin(), executions.end(), [](const auto& a, const auto& b) {
    return alerts::execution_time(a) < alerts::execution_time(b);
  });
}

class Watcher {
 public:
  Watcher(std::vector<alerts::Rule> rules) : evaluator_(std::move(rules)) {}

  // Executions that are already in the store when the watch starts: history for the windows.
  void remember(const Execution& e) {
    evaluator_.remember(e);
    seen_.emplace(e.id, e.started_at);
  }

  // Checks the executions not seen before, oldest first.
  void check_new(std::vector<Execution> executions) {
    std::vector<Execution> fresh;
    for (auto& e : executions) {
      if (seen_.emplace(e.id, e.started_at).second) fresh.push_back(std::move(e));
    }
    sort_by_time(fresh);
    for (const auto& e : fresh) {
      ++checked_;
      for (const auto& alert : evaluator_.evaluate(e)) {
        runner_.run(evaluator_.rules()[alert.rule_index], alert);
      }
    }
    runner_.reap();
  }

  // Ids of executions that started before `since` can no longer come back from a read.
  void forget_before(double since) {
    std::erase_if(seen_, [&](const auto& entry) { return entry.second < since; });
  }

  int finish(bool print_summary) {
    const bool all_done = runner_.wait_for_commands(kCommandWait);
    if (!all_done) {
      std::fprintf(stderr, "kagura: %zu alert command(s) still running are left to finish\n",
                   runner_.running_commands());
    }
    const auto stats = evaluator_.stats();
    const auto actions = runner_.stats();
    if (print_summary) {
      fmt::print("Checked {} {}: {} {}{}; actions: {} delivered, {} failed\n",
                 format_count(checked_), checked_ == 1 ? "execution" : "executions",
                 format_count(static_cast<std::int64_t>(stats.alerts)),
                 stats.alerts == 1 ? "alert" : "alerts",
                 stats.suppressed > 0
                     ? fmt::format(" ({} more held back by cooldowns)", stats.suppressed)
                     : "",
                 actions.delivered, actions.failed);
    }
    return actions.failed > 0 ? 1 : 0;
  }

  double longest_window() const { return evaluator_.longest_window(); }

 private:
  alerts::Evaluator evaluator_;
  alerts::ActionRunner runner_;
  std::unordered_map<std::string, double> seen_;
  std::int64_t checked_ = 0;
};

int run_watch(const WatchOptions& options) {
  if (!(options.interval > 0)) {
    throw CliError(
        fmt::format("--interval {:g} must be more than 0 seconds, e.g. 5", options.interval));
  }
  const auto lookback = alerts::parse_duration(options.lookback);
  if (!lookback || *lookback <= 0) {
    throw CliError("--lookback '" + options.lookback +
                   "' is not a span: use e.g. 1h (executions that started up to this long ago "
                   "and finish later are still caught)");
  }
  const fs::path path = rules_path(options.rules);
  auto rules = load_rules(path);
  const auto rule_count = rules.size();
  const double now = telemetry::unix_now();
  std::optional<double> since;
  if (!options.since.empty()) {
    try {
      since = parse_time_spec(options.since, now);
    } catch (const std::invalid_argument& e) {
      throw CliError(std::string("--since: ") + e.what());
    }
  }
  auto store = open_store(options.store);
  monitor::catch_interrupts();
  Watcher watcher(std::move(rules));

  // What is in the store already: checked when --since covers it, else only history for the
  // window rules (a watch without --since starts from now).
  const double base = since.value_or(now);
  const double history_since = std::min(base - watcher.longest_window(), now - *lookback);
  std::vector<Execution> first;
  for (auto& e : executions_since(*store, history_since)) {
    if (since && e.started_at >= *since) {
      first.push_back(std::move(e));
    } else {
      watcher.remember(e);
    }
  }
  if (!options.once) {
    fmt::print("Watching {} {} with {} {} from {}, every {:g}s (Ctrl-C to stop)\n",
               store->backend_name(), store->location(), rule_count,
               rule_count == 1 ? "rule" : "rules", path.string(), options.interval);
    std::fflush(stdout);
  }
  watcher.check_new(std::move(first));

  while (!options.once && monitor::sleep_unless_interrupted(options.interval)) {
    const double poll_since = telemetry::unix_now() - *lookback;
    try {
      watcher.check_new(executions_since(*store, poll_since));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kagura: could not read the store (%s); trying again in %gs\n", e.what(),
                   options.interval);
      continue;
    }
    watcher.forget_before(poll_since);
  }
  return watcher.finish(true);
}

int run_check(const std::string& given) {
  const fs::path path = rules_path(given);
  const auto rules = alerts::load_rules_file(path);
  fmt::print("{}: {} {} enabled\n", path.string(), rules.size(),
             rules.size() == 1 ? "rule" : "rules");
  if (rules.empty()) return 0;
  Table table({{"NAME"}, {"KIND"}, {"CONDITION"}, {"AGENTS"}, {"COOLDOWN"}, {"ACTIONS"}});
  for (const auto& rule : rules) {
    std::string agents;
    for (const auto& agent : rule.agents) agents += (agents.empty() ? "" : ",") + agent;
    std::string actions;
    for (const auto& action : rule.actions) {
      actions += (actions.empty() ? "" : ",") + std::string(to_string(action.type));
    }
    table.add_row({rule.name, std::string(to_string(rule.kind)), alerts::describe_condition(rule),
                   agents.empty() ? "all" : agents,
                   rule.cooldown > 0 ? alerts::format_span(rule.cooldown) : "none", actions});
  }
  for (const auto& line : table.lines()) fmt::print("{}\n", line);
  return 0;
}

int run_test(const std::string& given, const std::string& name) {
  const fs::path path = rules_path(given);
  const auto rules = alerts::load_rules_file(path);
  const auto rule = std::find_if(rules.begin(), rules.end(),
                                 [&](const alerts::Rule& r) { return r.name == name; });
  if (rule == rules.end()) {
    std::string names;
    for (const auto& r : rules) names += (names.empty() ? "" : ", ") + r.name;
    throw CliError(fmt::format("no enabled rule named '{}' in {}: the rules are {}", name,
                               path.string(), names.empty() ? "(none)" : names));
  }
  alerts::Alert alert;
  alert.rule = rule->name;
  alert.kind = rule->kind;
  alert.threshold = rule->threshold;
  alert.value = rule->threshold;
  alert.message = fmt::format("test of rule '{}' by kagura alerts test ({})", rule->name,
                              alerts::describe_condition(*rule));
  if (rule->agents.size() == 1) alert.agent = rule->agents.front();
  if (rule->is_window_rule()) alert.window = rule->window;
  alert.timestamp = telemetry::unix_now();
  alerts::ActionRunner runner;
  runner.run(*rule, alert);
  runner.wait_for_commands(kCommandWait);
  const auto stats = runner.stats();
  fmt::print("Test alert of rule '{}': {} of {} {} delivered{}\n", rule->name, stats.delivered,
             rule->actions.size(), rule->actions.size() == 1 ? "action" : "actions",
             stats.failed > 0 ? fmt::format(", {} failed (see above)", stats.failed) : "");
  return stats.failed > 0 ? 1 : 0;
}

}  // namespace

void add_alerts_command(CLI::App& app) {
  auto* alerts = app.add_subcommand(
      "alerts", "Alert rules (~/.kagura/alerts.json): watch a store, check or test the rules");
  alerts->require_subcommand(1);
  const std::string rules_help =
      "The rules file (default: ~/.kagura/alerts.json, or $KAGURA_HOME/alerts.json)";

  auto watch_options = std::make_shared<WatchOptions>();
  auto* watch = alerts->add_subcommand(
      "watch", "Check the rules against executions as they reach the store, until Ctrl-C");
  watch->add_option("--rules", watch_options->rules, rules_help);
  watch->add_option("--interval", watch_options->interval, "Seconds between reads of the store")
      ->capture_default_str();
  watch->add_flag("--once", watch_options->once,
                  "Check once and exit (with --since: the executions since then)");
  watch->add_option("--since", watch_options->since,
                    "Also check executions already stored that started since this time (24h, "
                    "2025-01-10, Unix time); default: only new ones");
  watch
      ->add_option("--lookback", watch_options->lookback,
                   "How long before a read an execution may have started and still be caught "
                   "when it finishes")
      ->capture_default_str();
  add_store_options(*watch, watch_options->store);
  watch->callback([watch_options] { run_or_exit([&] { return run_watch(*watch_options); }); });

  auto check_rules = std::make_shared<std::string>();
  auto* check = alerts->add_subcommand("check", "Validate the rules file and list its rules");
  check->add_option("--rules", *check_rules, rules_help);
  check->callback([check_rules] { run_or_exit([&] { return run_check(*check_rules); }); });

  auto test_rules = std::make_shared<std::string>();
  auto test_rule = std::make_shared<std::string>();
  auto* test = alerts->add_subcommand(
      "test", "Fire a rule's actions once with a sample alert, to try a webhook or command");
  test->add_option("rule", *test_rule, "The rule's name")->required();
  test->add_option("--rules", *test_rules, rules_help);
  test->callback(
      [test_rules, test_rule] { run_or_exit([&] { return run_test(*test_rules, *test_rule); }); });
}

}  // namespace kagura::cli
