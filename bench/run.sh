#!/usr/bin/env bash
# Builds the benchmarks in Release mode and runs them as docs/benchmarks.md reports them.
#   bench/run.sh [executions=1000000] [repetitions=3]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$root/build-bench"
"$root/scripts/install_deps.sh"
KAGURA_BUILD_DIR="$build_dir" KAGURA_BUILD_TYPE=Release "$root/scripts/build.sh" -DKAGURA_BUILD_TESTS=OFF

echo "== caller-side overhead, rounds of 1,000 (the writer keeps up) =="
"$build_dir/bench/overhead_bench" 21 1000
echo "== caller-side overhead, bursts of 8,000 (the default queue of 8,192 nearly fills) =="
"$build_dir/bench/overhead_bench" 21 8000
echo "== ingest and queries =="
"$build_dir/bench/store_bench" "${1:-1000000}" "${2:-3}"
echo "== telemetry's share of a full agent call (local HTTP server, one tool round) =="
"$build_dir/bench/agent_overhead_bench" 101 200
echo "== the least recording could cost that call: facts appended to a thread's buffer, handed off =="
KAGURA_BENCH_LOWER_BOUND=1 "$build_dir/bench/agent_overhead_bench" 101 200
echo "== storage backends: SQLite (baseline), PostgreSQL, MongoDB wire server (bench/backend_bench.sh) =="
"$root/bench/backend_bench.sh" "${1:-1000000}" 5 100000
echo "== kagura monitor stats/list as whole processes on a 1,000,000-execution SQLite store =="
"$build_dir/bench/monitor_cli_bench" "${1:-1000000}" 15
echo "== the durable mode's price: agent time per call vs the default, 1 and 8 threads =="
"$build_dir/bench/durable_bench" 2000 8
