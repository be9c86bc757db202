#pragma once

// How executions travel to and from the executions table: a batch goes to the server as one
// JSON array of rows (kInsertSql unpacks it), and rows come back in kRecordColumns' order.

#include <cstddef>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <vector>

#include "kagura/telemetry/execution.hpp"

namespace kagura::storage::postgres_detail {

// Inserts the rows of the JSON array in $1, skipping ids already stored; RETURNING makes the
// affected-row count the number of new rows.
extern const char* const kInsertSql;

// The columns read_execution() reads, without and with the events.
extern const char* const kRecordColumns;
extern const char* const kRecordColumnsWithEvents;

// A batch serialised for kInsertSql. Each row starts at a known offset, so the parameter for
// the rows from any index on is a suffix of the text, and rows dropped from the front of a
// prepared batch cost no copy of the rest.
class EncodedBatch {
 public:
  void encode(std::span<const telemetry::Execution* const> batch);
  std::size_t size() const noexcept { return starts_.size(); }
  // The JSON array of rows [first, size()).
  std::string parameter(std::size_t first) const;

 private:
  std::string text_;  // "[" row "," row ... "]", without the brackets
  std::vector<std::size_t> starts_;
};

telemetry::Execution read_execution(const pqxx::row& row, bool with_events);

// Text of a double that reads back as the same double.
std::string double_text(double value);
double parse_double(const pqxx::field& field);
std::int64_t parse_int(const pqxx::field& field);

}  // namespace kagura::storage::postgres_detail
