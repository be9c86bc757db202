#!/usr/bin/env bash
# Ingest and queries on every storage backend, as docs/benchmarks.md reports them: starts a
# throwaway PostgreSQL cluster and the CongoDB MongoDB-wire server (the test servers), runs
# bench/backend_bench against SQLite (the baseline), PostgreSQL and MongoDB, and stops them.
#   bench/backend_bench.sh [executions=1000000] [repetitions=5] [mongodb executions=executions]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$root/build-bench"
executions=${1:-1000000}
repetitions=${2:-5}
mongo_executions=${3:-$executions}
"$root/scripts/install_deps.sh"
KAGURA_BUILD_DIR="$build_dir" KAGURA_BUILD_TYPE=Release "$root/scripts/build.sh" -DKAGURA_BUILD_TESTS=OFF

work=$(mktemp -d /tmp/kagura_backend_bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  "$root/scripts/test_servers/postgres.sh" stop "$work/postgres" >/dev/null 2>&1 || true
  "$root/scripts/test_servers/mongodb.sh" stop "$work/mongodb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
postgres_url=$("$root/scripts/test_servers/postgres.sh" start "$work/postgres")
# CongoDB keeps everything in the Node.js heap.
NODE_OPTIONS=--max-old-space-size=12288 "$root/scripts/test_servers/mongodb.sh" start "$work/mongodb" >/dev/null
mongodb_url=$(cat "$work/mongodb/mongodb.url")

"$build_dir/bench/backend_bench" "$executions" "$repetitions" \
  "sqlite=sqlite=$work/telemetry.db" \
  "postgresql=postgresql=$postgres_url" \
  "mongodb=mongodb=$mongodb_url=$mongo_executions"
