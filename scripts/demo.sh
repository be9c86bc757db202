#!/usr/bin/env bash
# The main job: installs what is needed, builds, runs agents that record into the default
# telemetry store (~/.kagura/telemetry.db), then shows what they recorded with kagura monitor.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${KAGURA_BUILD_DIR:-$root/build}"

"$root/scripts/install_deps.sh"
"$root/scripts/build.sh"

echo
echo "== running agents (examples/record_agents) =="
"$build_dir/examples/record_agents"

echo
echo "== kagura monitor stats =="
"$build_dir/kagura" monitor stats

echo
echo "== kagura monitor list =="
"$build_dir/kagura" monitor list --limit 10
