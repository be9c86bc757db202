#!/usr/bin/env bash
# The web dashboard's JSON API under load, as docs/benchmarks.md reports it: wrk (4 threads, 16
# connections) against GET /api/summary of `kagura dashboard --web` on a large SQLite store, and
# against GET /api/health (no store read: the HTTP server's own cost) as the baseline, in the
# same run. Prints requests/s and p99 latency of both, and their ratio.
#
#   bench/dashboard_api_bench.sh [executions=1000000] [duration=15s]
#
# The store is monitor_cli_bench's (/tmp/kagura_monitor_bench/monitor_<executions>.db: 30 days,
# five agents, three models, one in ten with a child), built by it once and reused. Builds into
# $KAGURA_BUILD_DIR (default build-bench/) unless KAGURA_BENCH_NO_BUILD=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${KAGURA_BUILD_DIR:-$root/build-bench}"
executions=${1:-1000000}
duration=${2:-15s}
db="/tmp/kagura_monitor_bench/monitor_${executions}.db"

if ! command -v wrk >/dev/null 2>&1; then
  echo "dashboard_api_bench: wrk is missing: run scripts/install_deps.sh (Debian's wrk)" >&2
  exit 1
fi
if [ "${KAGURA_BENCH_NO_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKAGURA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build_dir" --target kagura_cli monitor_cli_bench --parallel 2 >/dev/null
fi
kagura="$build_dir/kagura"

# Reuse the store when it holds exactly `executions`; else monitor_cli_bench builds it (and
# times its own commands once, which costs a few seconds).
total=$("$kagura" monitor stats --json --db "$db" 2>/dev/null |
  sed -n 's/^ *"total_executions": \([0-9]*\),*$/\1/p' || true)
if [ "$total" != "$executions" ]; then
  # Its own exit code says whether its targets were met, which is not this benchmark's concern.
  "$build_dir/bench/monitor_cli_bench" "$executions" 1 "$db" >/dev/null || true
  [ -f "$db" ] || { echo "dashboard_api_bench: monitor_cli_bench did not build $db" >&2; exit 1; }
fi

work=$(mktemp -d /tmp/kagura_dashboard_bench.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
HOME="$work" "$kagura" dashboard --web --port 0 --db "$db" >"$work/out" 2>"$work/err" &
server_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^Dashboard at \(http:[^ ]*\)$/\1/p' "$work/out")
  [ -n "$url" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "dashboard_api_bench: kagura dashboard did not start: $(cat "$work/err")" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "dashboard_api_bench: kagura dashboard printed no URL within 10 s" >&2
  exit 1
fi

# One wrk run: "requests/s p99"; fails on any non-2xx answer or socket error.
run_wrk() {
  local out
  out=$(wrk -t4 -c16 -d"$duration" --latency "$1")
  if grep -qE "Non-2xx|Socket errors" <<<"$out"; then
    echo "dashboard_api_bench: errors under load on $1:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out")"
}
# wrk prints latencies as 850.00us, 1.23ms or 1.05s.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

# Warm-up: the store's pages into the cache.
wrk -t1 -c1 -d2s "${url}api/summary" >/dev/null

echo "store: $db ($executions executions, $(du -h "$db" | cut -f1)); wrk -t4 -c16 -d$duration"
health=$(run_wrk "${url}api/health")
summary=$(run_wrk "${url}api/summary")
read -r health_rps health_p99 <<<"$health"
read -r summary_rps summary_p99 <<<"$summary"
printf "%-28s %12s requests/s   p99 %9s ms\n" "GET /api/health (baseline)" "$health_rps" \
  "$(to_ms "$health_p99")"
printf "%-28s %12s requests/s   p99 %9s ms\n" "GET /api/summary" "$summary_rps" \
  "$(to_ms "$summary_p99")"
awk -v s="$summary_rps" -v h="$health_rps" \
  'BEGIN { printf "summary / baseline: %.2f of the requests/s\n", s / h }'
