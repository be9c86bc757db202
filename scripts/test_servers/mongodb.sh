#!/usr/bin/env bash
# The MongoDB-compatible test server for the storage tests: CongoDB, the wire-protocol server
# inside the npm package @push.rocks/smartmongo 2.2.0. MongoDB's own server is neither in
# Debian nor installable from npm without a download at run time.
#
#   mongodb.sh setup DIR   install the pinned packages into DIR/npm (idempotent)
#   mongodb.sh start DIR   start the server on a free port of 127.0.0.1; URI in DIR/mongodb.url
#   mongodb.sh stop DIR    stop it
#
# With KAGURA_TEST_MONGODB_URL set (say mongodb://127.0.0.1:27017/kagura), start writes that
# URI instead and starts nothing, so that the same tests run against a real mongod.
#
# The package's own install fails (its dependency tree names versions missing from the
# registry), so its tarball is unpacked beside the few dependencies CongoDB imports, pinned and
# installed without scripts.
set -euo pipefail

command_name=${1:-}
dir=${2:-}
if [ -z "$command_name" ] || [ -z "$dir" ]; then
  echo "usage: $0 setup|start|stop DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="$dir/npm"
package=@push.rocks/smartmongo@2.2.0
dependencies=(bson@6.10.4 mingo@7.2.7 @push.rocks/smartfs@1.5.0 @push.rocks/smartpath@5.1.0
  @push.rocks/smartpromise@4.2.3 @push.rocks/smartrx@3.0.10)
entry="$cache/node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js"

setup() {
  if [ -f "$cache/.installed" ] && [ -f "$entry" ]; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "mongodb.sh: npm is missing: run scripts/install_deps.sh (Node.js and npm)" >&2
    exit 1
  fi
  mkdir -p "$cache"
  (
    cd "$cache"
    [ -f package.json ] || echo '{"name":"kagura-test-mongodb","private":true}' >package.json
    npm install --silent --no-audit --no-fund --ignore-scripts --save-exact "${dependencies[@]}"
    rm -rf pack && mkdir pack
    (cd pack && npm pack --silent "$package" >/dev/null)
    rm -rf node_modules/@push.rocks/smartmongo
    mkdir -p node_modules/@push.rocks/smartmongo
    tar -xzf pack/*.tgz -C node_modules/@push.rocks/smartmongo --strip-components=1
    rm -rf pack
  )
  if [ ! -f "$entry" ]; then
    echo "mongodb.sh: $entry is missing after installing $package" >&2
    exit 1
  fi
  touch "$cache/.installed"
}

start() {
  if [ -n "${KAGURA_TEST_MONGODB_URL:-}" ]; then
    mkdir -p "$dir"
    echo "$KAGURA_TEST_MONGODB_URL" >"$dir/mongodb.url"
    echo "mongodb.sh: using the server at KAGURA_TEST_MONGODB_URL"
    return 0
  fi
  setup
  stop
  rm -f "$dir/mongodb.url"
  CONGODB_ENTRY="$entry" nohup node "$here/congodb_server.mjs" "$dir/mongodb.url" \
    >"$dir/mongodb.log" 2>&1 &
  echo $! >"$dir/mongodb.pid"
  for _ in $(seq 1 200); do
    if [ -s "$dir/mongodb.url" ]; then
      echo "mongodb.sh: CongoDB at $(cat "$dir/mongodb.url")"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/mongodb.pid")" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "mongodb.sh: the server did not start; its log ($dir/mongodb.log):" >&2
  cat "$dir/mongodb.log" >&2 || true
  exit 1
}

stop() {
  if [ -f "$dir/mongodb.pid" ]; then
    kill "$(cat "$dir/mongodb.pid")" 2>/dev/null || true
    rm -f "$dir/mongodb.pid" "$dir/mongodb.url"
  fi
}

case "$command_name" in
  setup) setup ;;
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 setup|start|stop DIR" >&2
    exit 2
    ;;
esac
