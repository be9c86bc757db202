#!/usr/bin/env bash
# The main job: installs what is needed, builds, runs agents that record themselves into the
# default telemetry store (~/.kagura/telemetry.db), then shows what they recorded with
# kagura monitor. The agents talk over HTTP to a toy OpenAI-compatible server started here on
# 127.0.0.1, so no API key or network is needed; examples/ask.cpp shows a real provider.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${KAGURA_BUILD_DIR:-$root/build}"

"$root/scripts/install_deps.sh"
# Only what the demo runs: the library, the kagura command and the examples.
"$root/scripts/build.sh" -DKAGURA_BUILD_TESTS=OFF -DKAGURA_BUILD_BENCHMARKS=OFF \
  -DKAGURA_BUILD_EXAMPLES=ON

port="${KAGURA_DEMO_PORT:-8731}"
log="$(mktemp)"
"$build_dir/examples/toy_llm_server" "$port" >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
  grep -q listening "$log" && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$log" >&2
    echo "demo: the toy LLM server did not start; set KAGURA_DEMO_PORT to a free port" >&2
    exit 1
  fi
  sleep 0.05
done

echo
echo "== running agents (examples/agent_team) against the toy server on 127.0.0.1:$port =="
OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="${OPENAI_API_KEY:-toy}" \
  "$build_dir/examples/agent_team"

echo
echo "== kagura monitor stats =="
"$build_dir/kagura" monitor stats

echo
echo "== kagura monitor list =="
"$build_dir/kagura" monitor list --limit 10
