#include "cli/monitor/trace.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/monitor/filters.hpp"
#include "cli/monitor/trace_tree.hpp"
#include "cli/output.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::monitor {
namespace {

using telemetry::Execution;

struct TraceOptions {
  StoreOptions store;
  std::string id;
  bool json = false;
};

// A trace larger than this is shown in part; no agent tree of a real program comes near it.
constexpr std::int64_t kTraceLimit = 100000;

std::string cost_text(const telemetry::Metrics& m) {
  if (m.unpriced_llm_calls > 0 && m.unpriced_llm_calls == m.llm_calls) return "unpriced";
  const std::string cost = format_cost(m.total_cost());
  return m.unpriced_llm_calls > 0 ? "≥" + cost : cost;
}

std::string status_text(const Execution& e) {
  const std::string text(telemetry::to_string(e.status));
  if (e.status == telemetry::ExecutionStatus::failed) return red(text);
  if (e.status == telemetry::ExecutionStatus::running) return yellow(text);
  return green(text);
}

std::string plural(std::int64_t n, const char* one, const char* many) {
  return format_count(n) + " " + (n == 1 ? one : many);
}

std::string event_summary(const telemetry::Event& event) {
  struct Visitor {
    std::string operator()(const telemetry::LlmCall& c) const {
      std::string text =
          fmt::format("{}  {}→{} tokens", c.model.empty() ? "?" : c.model,
                      format_count(c.prompt_tokens), format_count(c.completion_tokens));
      if (c.cached_tokens > 0) text += fmt::format(" (cached {})", format_count(c.cached_tokens));
      text += "  " + (c.priced ? format_cost(telemetry::nano_usd_to_usd(c.cost_nanos))
                               : std::string("unpriced"));
      text += "  " + format_duration(c.duration);
      if (c.time_to_first_token) text += "  ttft " + format_duration(*c.time_to_first_token);
      if (!c.finish_reason.empty()) text += "  finish " + c.finish_reason;
      if (c.retries > 0) text += "  " + plural(c.retries, "retry", "retries");
      return text;
    }
    std::string operator()(const telemetry::ToolCall& c) const {
      std::string text = c.tool_name + "  " + format_duration(c.duration) + "  ";
      text += c.success ? green("ok") : red("failed") + (c.error.empty() ? "" : ": " + c.error);
      return text;
    }
    std::string operator()(const telemetry::MemoryOperation& m) const {
      std::string text = m.operation;
      if (!m.memory_type.empty()) text += " " + m.memory_type;
      text += "  " + plural(m.items, "item", "items") + "  " + format_duration(m.duration);
      return text;
    }
    std::string operator()(const telemetry::CustomEvent& c) const {
      return truncate_display(c.data.dump(), 100);
    }
  };
  return one_line(std::visit(Visitor{}, event.payload));
}

std::string offset_text(double offset) {
  if (offset > -0.0005 && offset < 0.0005) return "+0ms";
  if (offset < 0) return "-" + format_duration(-offset);
  return "+" + format_duration(offset);
}

void print_tree(const ChildMap& children, const std::string& parent, double root_start,
                const std::string& indent, std::set<std::string>& seen) {
  const auto found = children.find(parent);
  if (found == children.end()) return;
  const auto& list = found->second;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Execution& child = list[i];
    const bool last = i + 1 == list.size();
    fmt::print("{}{} {}  {}  {}  {}  {}  {}\n", indent, last ? "└─" : "├─", bold(child.agent_name),
               status_text(child), child.duration ? format_duration(*child.duration) : "-",
               cost_text(child.metrics), dim(offset_text(child.started_at - root_start)), child.id);
    // A store cannot hold a cycle of ids, but a damaged one must not hang the command.
    if (seen.insert(child.id).second) {
      print_tree(children, child.id, root_start, indent + (last ? "   " : "│  "), seen);
    }
  }
}

nlohmann::json tree_json(const ChildMap& children, const std::string& parent,
                         std::set<std::string>& seen) {
  nlohmann::json out = nlohmann::json::array();
  const auto found = children.find(parent);
  if (found == children.end()) return out;
  for (const auto& child : found->second) {
    nlohmann::json node = telemetry::to_json(child);
    node.erase("events");
    node["children"] = seen.insert(child.id).second ? tree_json(children, child.id, seen)
                                                    : nlohmann::json::array();
    out.push_back(std::move(node));
  }
  return out;
}

std::size_t count_descendants(const ChildMap& children, const std::string& parent,
                              std::set<std::string>& seen) {
  const auto found = children.find(parent);
  if (found == children.end()) return 0;
  std::size_t n = 0;
  for (const auto& child : found->second) {
    ++n;
    if (seen.insert(child.id).second) n += count_descendants(children, child.id, seen);
  }
  return n;
}

void print_execution(const storage::StorageAdapter& store, const Execution& e,
                     const ChildMap& children, bool truncated) {
  const double now = telemetry::unix_now();
  const auto& m = e.metrics;
  fmt::print("{} {}  {}  {}\n", bold("Execution"), e.id, bold(e.agent_name), status_text(e));
  fmt::print("  Store       {} {}\n", store.backend_name(), store.location());
  fmt::print("  Started     {} UTC ({})\n", format_utc_time(e.started_at),
             format_relative_time(e.started_at, now));
  fmt::print("  Duration    {}\n", e.duration ? format_duration(*e.duration) : "- (running)");
  if (e.parent_id.empty()) {
    fmt::print("  Trace       {} (this execution is its root)\n", e.trace_id);
  } else {
    fmt::print("  Trace       {}\n", e.trace_id);
    fmt::print("  Parent      {}\n", e.parent_id);
  }
  const auto models = models_of(e);
  if (!models.empty()) fmt::print("  Models      {}\n", join(models, ", "));
  fmt::print("  Calls       LLM {}  tools {}  memory {}\n", format_count(m.llm_calls),
             format_count(m.tool_calls), format_count(m.memory_operations));
  fmt::print("  Tokens      {}  (prompt {}, completion {}, cached {}, reasoning {})\n",
             format_count(m.total_tokens()), format_count(m.prompt_tokens),
             format_count(m.completion_tokens), format_count(m.cached_tokens),
             format_count(m.reasoning_tokens));
  fmt::print("  Cost        {}{}\n", format_cost(m.total_cost()),
             m.unpriced_llm_calls > 0
                 ? "  (" + plural(m.unpriced_llm_calls, "LLM call", "LLM calls") +
                       " of unpriced models not included)"
                 : std::string());
  if (!e.error.empty() || !e.error_type.empty()) {
    fmt::print("  Error       {}\n",
               red(one_line(e.error_type.empty() ? e.error : e.error_type + ": " + e.error)));
  }
  if (!e.kwargs.empty()) {
    fmt::print("  Arguments   {}\n", truncate_display(e.kwargs.dump(), 200));
  }
  for (const auto& [name, value] : e.tags) fmt::print("  Tag         {} = {}\n", name, value);
  for (const auto& [name, value] : m.custom) {
    fmt::print("  Metric      {} = {}\n", name, value.dump());
  }

  fmt::print("\n{}\n",
             bold("Timeline (" +
                  plural(static_cast<std::int64_t>(e.events.size()), "event", "events") + ")"));
  if (e.events.empty()) {
    fmt::print("  (no events recorded)\n");
  } else {
    Table table({{"offset", Table::Align::right}, {"type"}, {"summary"}});
    for (const auto& event : e.events) {
      table.add_row({offset_text(event.timestamp - e.started_at), std::string(event.type()),
                     event_summary(event)});
    }
    for (const auto& line : table.lines(false)) fmt::print("  {}\n", line);
  }

  std::set<std::string> counted{e.id};
  const std::size_t descendants = count_descendants(children, e.id, counted);
  fmt::print("\n{}\n",
             bold("Children (" +
                  plural(static_cast<std::int64_t>(descendants), "execution", "executions") + ")"));
  if (descendants == 0) {
    fmt::print("  (none)\n");
    return;
  }
  fmt::print("{}  {}  {}  {}  {}\n", bold(e.agent_name), status_text(e),
             e.duration ? format_duration(*e.duration) : "-", cost_text(m), e.id);
  std::set<std::string> seen{e.id};
  print_tree(children, e.id, e.started_at, "", seen);
  if (truncated) {
    fmt::print("  (the trace has more than {} executions; only the first are shown)\n",
               format_count(kTraceLimit));
  }
}

int run_trace(const TraceOptions& options) {
  auto store = open_store(options.store);
  std::optional<Execution> execution;
  try {
    execution = store->get_execution(options.id);
  } catch (const storage::AmbiguousIdError&) {
    throw CliError("execution id prefix '" + options.id +
                   "' is ambiguous: it matches more than one execution in " + store->location() +
                   "; give more characters of the id (`kagura monitor list` shows full ids)");
  }
  if (!execution) {
    throw CliError("no execution with id '" + options.id + "' in " + store->location() +
                   ": check the id (or a prefix of it) with `kagura monitor list`");
  }
  bool truncated = false;
  const ChildMap children = children_in_trace(*store, *execution, kTraceLimit, truncated);
  if (options.json) {
    std::set<std::string> seen{execution->id};
    nlohmann::json out = {{"execution", telemetry::to_json(*execution)},
                          {"children", tree_json(children, execution->id, seen)}};
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  print_execution(*store, *execution, children, truncated);
  return 0;
}

}  // namespace

void add_trace_command(CLI::App& monitor) {
  auto options = std::make_shared<TraceOptions>();
  auto* command = monitor.add_subcommand(
      "trace",
      "One execution in detail: its events as a timeline and its child executions as a tree");
  command->add_option("id", options->id, "The execution's id, or a prefix matching only it")
      ->required();
  add_store_options(*command, options->store);
  command->add_flag("--json", options->json,
                    "Machine-readable JSON: the full record and the tree of its children");
  command->callback([options, command] {
    run_monitor([&] {
      reject_options_before(*command);
      return run_trace(*options);
    });
  });
}

}  // namespace kagura::cli::monitor
