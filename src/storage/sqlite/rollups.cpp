#include "storage/sqlite/rollups.hpp"

#include <SQLiteCpp/Statement.h>

#include <algorithm>

namespace kagura::storage::sqlite_detail {

void RollupDelta::add(const telemetry::Execution& e) {
  const auto bucket = detail::bucket_of(e.started_at);
  auto cell = std::find_if(executions_.rbegin(), executions_.rend(), [&](const auto& c) {
    return c.bucket == bucket && c.status == e.status && c.agent == e.agent_name;
  });
  if (cell == executions_.rend()) {
    executions_.push_back({bucket, e.agent_name, e.status, {}});
    cell = executions_.rbegin();
  }
  cell->totals.add(detail::ExecutionSummary::of(e));
  for (const auto& event : e.events) {
    const auto* call = std::get_if<telemetry::LlmCall>(&event.payload);
    if (call == nullptr) continue;
    auto llm = std::find_if(llm_calls_.rbegin(), llm_calls_.rend(), [&](const auto& c) {
      return c.bucket == bucket && c.status == e.status && c.model == call->model &&
             c.agent == e.agent_name;
    });
    if (llm == llm_calls_.rend()) {
      llm_calls_.push_back({bucket, e.agent_name, e.status, call->model, {}});
      llm = llm_calls_.rbegin();
    }
    llm->totals.add(*call);
  }
}

namespace {

void bind_optional(SQLite::Statement& statement, int index, std::optional<double> value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind(index);
  }
}

std::optional<double> optional_double(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getDouble();
}

}  // namespace

detail::Totals read_totals(SQLite::Statement& row, int first) {
  const auto column = [&](int offset) { return row.getColumn(first + offset); };
  detail::Totals t;
  t.executions = column(0).getInt64();
  t.with_duration = column(1).getInt64();
  t.duration_sum = column(2).getDouble();
  const auto sketch = column(3);
  t.durations = DurationSketch::decode(std::string_view(
      static_cast<const char*>(sketch.getBlob()), static_cast<std::size_t>(sketch.getBytes())));
  t.llm_calls = column(4).getInt64();
  t.tool_calls = column(5).getInt64();
  t.memory_operations = column(6).getInt64();
  t.prompt_tokens = column(7).getInt64();
  t.completion_tokens = column(8).getInt64();
  t.cached_tokens = column(9).getInt64();
  t.reasoning_tokens = column(10).getInt64();
  t.unpriced_llm_calls = column(11).getInt64();
  t.cost_nanos = column(12).getInt64();
  t.first_started_at = optional_double(column(13));
  t.last_started_at = optional_double(column(14));
  return t;
}

void RollupDelta::apply(SQLite::Database& db) {
  SQLite::Statement read_cell(db, std::string("SELECT ") + kTotalsColumns +
                                      " FROM execution_rollups WHERE bucket = ? AND "
                                      "agent_name = ? AND status = ?");
  SQLite::Statement write_cell(
      db,
      "INSERT OR REPLACE INTO execution_rollups (bucket, agent_name, status, executions, "
      "with_duration, duration_sum, duration_sketch, llm_calls, tool_calls, memory_operations, "
      "prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, unpriced_llm_calls, "
      "cost_nanos, first_started_at, last_started_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  for (const auto& [bucket, agent, status, delta] : executions_) {
    const std::string status_text(telemetry::to_string(status));
    detail::Totals cell;
    read_cell.bind(1, bucket);
    read_cell.bind(2, agent);
    read_cell.bind(3, status_text);
    if (read_cell.executeStep()) cell = read_totals(read_cell, 0);
    read_cell.reset();
    cell.merge(delta);

    const std::string sketch = cell.durations.encode();
    write_cell.bind(1, bucket);
    write_cell.bind(2, agent);
    write_cell.bind(3, status_text);
    write_cell.bind(4, cell.executions);
    write_cell.bind(5, cell.with_duration);
    write_cell.bind(6, cell.duration_sum);
    write_cell.bindNoCopy(7, sketch.data(), static_cast<int>(sketch.size()));
    write_cell.bind(8, cell.llm_calls);
    write_cell.bind(9, cell.tool_calls);
    write_cell.bind(10, cell.memory_operations);
    write_cell.bind(11, cell.prompt_tokens);
    write_cell.bind(12, cell.completion_tokens);
    write_cell.bind(13, cell.cached_tokens);
    write_cell.bind(14, cell.reasoning_tokens);
    write_cell.bind(15, cell.unpriced_llm_calls);
    write_cell.bind(16, cell.cost_nanos);
    bind_optional(write_cell, 17, cell.first_started_at);
    bind_optional(write_cell, 18, cell.last_started_at);
    write_cell.exec();
    write_cell.reset();
  }

  SQLite::Statement upsert_llm(
      db,
      "INSERT INTO llm_rollups (bucket, agent_name, status, model, calls, prompt_tokens, "
      "completion_tokens, cached_tokens, reasoning_tokens, unpriced_calls, cost_nanos) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (bucket, agent_name, status, model) DO UPDATE SET "
      "calls = calls + excluded.calls, prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
      "completion_tokens = completion_tokens + excluded.completion_tokens, "
      "cached_tokens = cached_tokens + excluded.cached_tokens, "
      "reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, "
      "unpriced_calls = unpriced_calls + excluded.unpriced_calls, "
      "cost_nanos = cost_nanos + excluded.cost_nanos");
  for (const auto& [bucket, agent, status, model, delta] : llm_calls_) {
    upsert_llm.bind(1, bucket);
    upsert_llm.bind(2, agent);
    upsert_llm.bind(3, std::string(telemetry::to_string(status)));
    upsert_llm.bind(4, model);
    upsert_llm.bind(5, delta.calls);
    upsert_llm.bind(6, delta.prompt_tokens);
    upsert_llm.bind(7, delta.completion_tokens);
    upsert_llm.bind(8, delta.cached_tokens);
    upsert_llm.bind(9, delta.reasoning_tokens);
    upsert_llm.bind(10, delta.unpriced_calls);
    upsert_llm.bind(11, delta.cost_nanos);
    upsert_llm.exec();
    upsert_llm.reset();
  }
  executions_.clear();
  llm_calls_.clear();
}

}  // namespace kagura::storage::sqlite_detail
