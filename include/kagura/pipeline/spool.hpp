#pragma once

// A local, durable holding area for executions that the store cannot take right now (the
// database is down, unreachable or refusing the connection). Each batch that cannot be written
// becomes one segment file in the spool directory, written to a temporary name, synced and then
// renamed, so a crash never leaves half a segment behind. When the store answers again the
// segments are delivered oldest first and removed; the store skips ids it already has, so a
// delivery interrupted half way is simply repeated.
//
// Several processes may share a spool directory (all agents of a machine writing to one
// PostgreSQL server, say): a process claims a segment by renaming it before delivering it, and
// claims left by a process that died are released again.
//
// Segments are JSON Lines, one execution per line in the RFC's JSON shape, so they can be
// read (or fed to another tool) by hand.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>

#include "kagura/pipeline/batch_destination.hpp"
#include "kagura/telemetry/execution.hpp"

namespace kagura::pipeline {

struct SpoolDelivery {
  std::uint64_t delivered = 0;  // executions taken off the spool
  std::uint64_t inserted = 0;   // of those, new to the store (the rest it already had)
  std::uint64_t rejected = 0;   // in segments the destination rejected for good, set aside
  bool complete = false;        // the spool is empty now (as far as this process can see)
  std::string error;            // why delivery stopped, when it did
  // How long the destination asked to be left alone (RetryLaterError), zero if it did not.
  std::chrono::milliseconds retry_after{0};
};

class Spool {
 public:
  // Creates the directory when needed. Throws storage::StorageError when it cannot.
  Spool(std::filesystem::path directory, std::uint64_t max_bytes);

  const std::filesystem::path& directory() const noexcept { return directory_; }

  // Writes the executions durably as one segment. Throws storage::StorageError when the spool
  // is full (max_bytes) or the file cannot be written; then nothing of the batch is kept.
  void append(std::span<const telemetry::Execution* const> executions);

  // Delivers segments to `store`, oldest first, in transactions of at most `batch_size`,
  // until the spool is empty or the store fails. Never throws: a failure is reported in the
  // result and the segment stays for the next attempt. A segment that cannot be parsed is
  // set aside as <name>.corrupt (and counted in the error) instead of blocking the others, and
  // so is one the destination rejects for good (RejectedBatchError), as <name>.rejected.
  // `on_segment` hears of each segment stored, before its file is removed, so that a reader
  // who sees the spool empty also sees every delivery counted.
  using SegmentDelivered = std::function<void(std::uint64_t delivered, std::uint64_t inserted)>;
  SpoolDelivery deliver(BatchDestination& store, std::size_t batch_size,
                        const SegmentDelivered& on_segment = {});

  // Executions and bytes waiting in the directory (from every process sharing it).
  std::uint64_t pending_executions() const;
  std::uint64_t pending_bytes() const;

 private:
  std::filesystem::path directory_;
  std::uint64_t max_bytes_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace kagura::pipeline
