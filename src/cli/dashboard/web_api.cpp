#include "cli/dashboard/web_api.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <vector>

#include "cli/monitor/compare.hpp"
#include "cli/monitor/filters.hpp"
#include "cli/monitor/stats.hpp"
#include "cli/monitor/trace_tree.hpp"
#include "cli/output.hpp"
#include "cli/time_spec.hpp"
#include "kagura/telemetry/ids.hpp"

namespace kagura::cli::dashboard {
namespace {

using telemetry::Execution;

constexpr double kHour = 3600.0;
constexpr double kDay = 86400.0;
// A week of hours: more buckets than a chart can show legibly, and as many store reads.
constexpr std::int64_t kMaxHourBuckets = 168;
// Ten years of days.
constexpr std::int64_t kMaxDayBuckets = 3660;
constexpr std::int64_t kMaxLimit = 1000;
constexpr std::int64_t kDefaultLimit = 50;
// More agents than a comparison table can show; the most expensive come first.
constexpr std::size_t kMaxAgents = 100;
constexpr std::int64_t kTraceLimit = 10000;

const std::vector<std::string> kFilterParams = {"agent", "status", "since", "until"};

std::optional<std::string> param(const ApiParams& params, const std::string& name) {
  const auto found = params.find(name);
  if (found == params.end() || found->second.empty()) return std::nullopt;
  return found->second;
}

std::int64_t integer_param(const ApiParams& params, const std::string& name, std::int64_t fallback,
                           std::int64_t min, std::int64_t max) {
  const auto text = param(params, name);
  if (!text) return fallback;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    throw ApiError(400, name + "=" + *text + " is not valid: give a whole number from " +
                            std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

std::vector<std::string> with(const std::vector<std::string>& params,
                              std::initializer_list<const char*> more) {
  std::vector<std::string> out = params;
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

// A parameter no endpoint reads is most likely a typo, which would otherwise silently widen
// the answer to everything.
void check_params(const ApiParams& params, const std::vector<std::string>& allowed) {
  for (const auto& [name, value] : params) {
    if (name == "token") continue;  // the access token, checked before any handler runs
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string names;
    for (const auto& allowed_name : allowed) names += (names.empty() ? "" : ", ") + allowed_name;
    throw ApiError(400, "unknown parameter '" + name + "': this endpoint takes " + names);
  }
}

// The same rules as `kagura monitor`'s --agent/--status/--since/--until, with the parameter's
// name in the message instead of the option's.
storage::ExecutionFilter parse_filter(const ApiParams& params, double now) {
  storage::ExecutionFilter filter;
  filter.agent_name = param(params, "agent");
  const auto parse = [&](const char* name, auto&& fn) {
    const auto text = param(params, name);
    if (!text) return;
    try {
      fn(*text);
    } catch (const std::invalid_argument& e) {
      throw ApiError(400, std::string(name) + "=" + *text + ": " + e.what());
    }
  };
  parse("status",
        [&](const std::string& text) { filter.status = telemetry::parse_execution_status(text); });
  parse("since", [&](const std::string& text) { filter.since = parse_time_spec(text, now); });
  parse("until", [&](const std::string& text) { filter.until = parse_time_spec(text, now); });
  if (filter.since && filter.until && *filter.until <= *filter.since) {
    throw ApiError(400, "until (" + format_utc_time(*filter.until) + " UTC) is not after since (" +
                            format_utc_time(*filter.since) +
                            " UTC): the range is empty; swap them or widen it");
  }
  return filter;
}

// Days since 1970-01-01 of a "YYYY-MM-DD" key (H. Hinnant's days_from_civil).
std::optional<std::int64_t> day_number(const std::string& key) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (key.size() != 10 || key[4] != '-' || key[7] != '-') return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t length, auto& out) {
    const auto [end, error] = std::from_chars(key.data() + at, key.data() + at + length, out);
    return error == std::errc() && end == key.data() + at + length;
  };
  if (!number(0, 4, y) || !number(5, 2, m) || !number(8, 2, d)) return std::nullopt;
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

nlohmann::json point(double start, std::string key, std::int64_t executions,
                     telemetry::NanoUsd cost_nanos) {
  return {{"start", start},
          {"key", std::move(key)},
          {"executions", executions},
          {"cost", telemetry::nano_usd_to_usd(cost_nanos)}};
}

nlohmann::json hourly(storage::StorageAdapter& store, const storage::ExecutionFilter& filter,
                      double now) {
  const double since = filter.since.value_or(now - 24 * kHour);
  const double until = filter.until.value_or(now);
  const double first = std::floor(since / kHour) * kHour;
  const auto buckets = static_cast<std::int64_t>(std::ceil((until - first) / kHour));
  if (buckets > kMaxHourBuckets) {
    throw ApiError(400, "bucket=hour covers at most " + std::to_string(kMaxHourBuckets) +
                            " hours, and since/until span " + std::to_string(buckets) +
                            ": narrow them (since=7d at most) or use bucket=day");
  }
  // Each hour is a summary of its own: on a store with hourly rollups (SQLite) a whole hour is
  // a handful of rollup rows, and every backend answers it without reading the executions out.
  nlohmann::json points = nlohmann::json::array();
  for (std::int64_t i = 0; i < buckets; ++i) {
    const double start = first + static_cast<double>(i) * kHour;
    storage::ExecutionFilter window = filter;
    window.since = std::max(start, since);
    window.until = std::min(start + kHour, until);
    const auto stats = store.get_summary_stats(window);
    points.push_back(point(start, format_utc_time(start).substr(0, 16), stats.total_executions,
                           stats.cost_nanos));
  }
  return points;
}

nlohmann::json daily(storage::StorageAdapter& store, const storage::ExecutionFilter& filter) {
  const auto groups = store.get_cost_breakdown(storage::CostGrouping::day, filter);
  std::map<std::int64_t, const storage::CostGroup*> by_day;
  for (const auto& group : groups) {
    if (const auto day = day_number(group.key)) by_day[*day] = &group;
  }
  nlohmann::json points = nlohmann::json::array();
  if (by_day.empty() && !(filter.since && filter.until)) return points;
  // Days without executions are zeros, so that the chart's time axis is even.
  std::int64_t first = by_day.empty() ? 0 : by_day.begin()->first;
  std::int64_t last = by_day.empty() ? 0 : by_day.rbegin()->first;
  if (filter.since) first = static_cast<std::int64_t>(std::floor(*filter.since / kDay));
  if (filter.until) {
    last = std::max(first, static_cast<std::int64_t>(std::ceil(*filter.until / kDay)) - 1);
  }
  if (last - first + 1 > kMaxDayBuckets) first = last - kMaxDayBuckets + 1;
  for (std::int64_t day = first; day <= last; ++day) {
    const double start = static_cast<double>(day) * kDay;
    const auto found = by_day.find(day);
    points.push_back(found == by_day.end()
                         ? point(start, format_utc_day(start), 0, 0)
                         : point(start, found->second->key, found->second->executions,
                                 found->second->cost_nanos));
  }
  return points;
}

nlohmann::json listing_json(const Execution& e) {
  nlohmann::json row = telemetry::to_json(e);
  row.erase("events");
  row["models"] = monitor::models_of(e);
  return row;
}

using monitor::ChildMap;

nlohmann::json tree_json(const ChildMap& children, const std::string& parent,
                         std::set<std::string>& seen) {
  nlohmann::json out = nlohmann::json::array();
  const auto found = children.find(parent);
  if (found == children.end()) return out;
  for (const auto& child : found->second) {
    nlohmann::json node = telemetry::to_json(child);
    node.erase("events");
    // A store cannot hold a cycle of ids, but a damaged one must not recurse forever.
    node["children"] = seen.insert(child.id).second ? tree_json(children, child.id, seen)
                                                    : nlohmann::json::array();
    out.push_back(std::move(node));
  }
  return out;
}

}  // namespace

WebApi::WebApi(std::shared_ptr<storage::StorageAdapter> store, std::function<double()> clock)
    : store_(std::move(store)),
      clock_(clock ? std::move(clock) : [] { return telemetry::unix_now(); }) {}

nlohmann::json WebApi::shared_read(const std::string& endpoint, const ApiParams& params,
                                   const std::function<nlohmann::json()>& read) const {
  std::string key = endpoint;
  for (const auto& [name, value] : params) {
    if (name != "token") key += "\n" + name + "=" + value;
  }
  std::promise<nlohmann::json> promise;
  std::shared_future<nlohmann::json> answer;
  {
    std::lock_guard lock(in_flight_mutex_);
    if (const auto found = in_flight_.find(key); found != in_flight_.end()) {
      answer = found->second;
    } else {
      in_flight_.emplace(key, promise.get_future().share());
    }
  }
  if (answer.valid()) return answer.get();  // rethrows the reader's error
  try {
    promise.set_value(read());
  } catch (...) {
    promise.set_exception(std::current_exception());
  }
  {
    std::lock_guard lock(in_flight_mutex_);
    answer = in_flight_.at(key);
    in_flight_.erase(key);
  }
  return answer.get();
}

nlohmann::json WebApi::summary(const ApiParams& params) const {
  check_params(params, kFilterParams);
  return shared_read("summary", params, [&] {
    return monitor::stats_json(store_->get_summary_stats(parse_filter(params, clock_())));
  });
}

nlohmann::json WebApi::timeseries(const ApiParams& params) const {
  check_params(params, with(kFilterParams, {"bucket"}));
  return shared_read("timeseries", params, [&]() -> nlohmann::json {
    const double now = clock_();
    const auto filter = parse_filter(params, now);
    const std::string bucket = param(params, "bucket").value_or("day");
    if (bucket != "hour" && bucket != "day") {
      throw ApiError(400, "bucket=" + bucket + " is not a bucket: use bucket=hour or bucket=day");
    }
    return {{"bucket", bucket},
            {"points", bucket == "hour" ? hourly(*store_, filter, now) : daily(*store_, filter)}};
  });
}

nlohmann::json WebApi::cost(const ApiParams& params) const {
  check_params(params, with(kFilterParams, {"by"}));
  return shared_read("cost", params, [&]() -> nlohmann::json {
    const auto filter = parse_filter(params, clock_());
    const std::string by = param(params, "by").value_or("model");
    storage::CostGrouping grouping = storage::CostGrouping::model;
    if (by == "agent") {
      grouping = storage::CostGrouping::agent;
    } else if (by == "day") {
      grouping = storage::CostGrouping::day;
    } else if (by != "model") {
      throw ApiError(400, "by=" + by + " is not a grouping: use by=model, by=agent or by=day");
    }
    const auto groups = store_->get_cost_breakdown(grouping, filter);
    nlohmann::json rows = nlohmann::json::array();
    telemetry::NanoUsd total = 0;
    std::int64_t calls = 0;
    std::int64_t unpriced = 0;
    for (const auto& g : groups) {
      nlohmann::json row = {{"key", g.key},
                            {"llm_calls", g.llm_calls},
                            {"prompt_tokens", g.prompt_tokens},
                            {"completion_tokens", g.completion_tokens},
                            {"cached_tokens", g.cached_tokens},
                            {"unpriced_llm_calls", g.unpriced_llm_calls},
                            {"cost", g.cost()}};
      if (grouping != storage::CostGrouping::model) row["executions"] = g.executions;
      rows.push_back(std::move(row));
      total += g.cost_nanos;
      calls += g.llm_calls;
      unpriced += g.unpriced_llm_calls;
    }
    return {{"by", by},
            {"groups", std::move(rows)},
            {"total_cost", telemetry::nano_usd_to_usd(total)},
            {"llm_calls", calls},
            {"unpriced_llm_calls", unpriced}};
  });
}

nlohmann::json WebApi::agents(const ApiParams& params) const {
  check_params(params, {"since", "until"});
  return shared_read("agents", params, [&]() -> nlohmann::json {
    const auto filter = parse_filter(params, clock_());
    const auto groups = store_->get_cost_breakdown(storage::CostGrouping::agent, filter);
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < groups.size() && i < kMaxAgents; ++i) {
      storage::ExecutionFilter agent_filter = filter;
      agent_filter.agent_name = groups[i].key;
      const auto s = store_->get_summary_stats(agent_filter);
      rows.push_back(monitor::comparison_json(groups[i].key, s));
    }
    return {{"agents", std::move(rows)}, {"truncated", groups.size() > kMaxAgents}};
  });
}

nlohmann::json WebApi::executions(const ApiParams& params) const {
  check_params(params, with(kFilterParams, {"limit", "offset"}));
  return shared_read("executions", params, [&]() -> nlohmann::json {
    storage::ExecutionQuery query;
    static_cast<storage::ExecutionFilter&>(query) = parse_filter(params, clock_());
    query.limit = integer_param(params, "limit", kDefaultLimit, 1, kMaxLimit);
    query.offset = integer_param(params, "offset", 0, 0, INT64_MAX / 2);
    // The rows show each execution's models, which only its events name; a page's events are
    // cheap to read on every backend.
    query.include_events = true;
    const auto page = store_->get_executions(query);
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& e : page) rows.push_back(listing_json(e));
    return {{"executions", std::move(rows)},
            {"total", store_->count_executions(query)},
            {"limit", query.limit},
            {"offset", query.offset}};
  });
}

nlohmann::json WebApi::execution(std::string_view id_or_prefix) const {
  if (id_or_prefix.empty() || id_or_prefix.size() > 64 ||
      !std::all_of(id_or_prefix.begin(), id_or_prefix.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == '-';
      })) {
    throw ApiError(400, "'" + std::string(id_or_prefix) +
                            "' is not an execution id: ids are hexadecimal (32 digits, or a "
                            "prefix of them), as /api/executions lists them");
  }
  std::optional<Execution> execution;
  try {
    execution = store_->get_execution(id_or_prefix);
  } catch (const storage::AmbiguousIdError&) {
    throw ApiError(400, "execution id prefix '" + std::string(id_or_prefix) +
                            "' matches more than one execution: give more characters of the id");
  }
  if (!execution) {
    throw ApiError(404, "no execution with id '" + std::string(id_or_prefix) +
                            "': check it against /api/executions");
  }
  bool truncated = false;
  const ChildMap children = monitor::children_in_trace(*store_, *execution, kTraceLimit, truncated);
  std::set<std::string> seen{execution->id};
  nlohmann::json out = {{"execution", telemetry::to_json(*execution)},
                        {"children", tree_json(children, execution->id, seen)},
                        {"children_truncated", truncated}};
  out["execution"]["models"] = monitor::models_of(*execution);
  return out;
}

std::string dump_json(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kagura::cli::dashboard
