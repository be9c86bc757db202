#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: a fresh cluster in DIR, listening on a free port
# of 127.0.0.1 only, with a password user and a database of its own.
#
#   postgres.sh start DIR    create and start the cluster; writes the URI to DIR/postgres.url
#   postgres.sh stop DIR     stop the server and remove DIR
#   postgres.sh pause DIR    stop the server, keeping its data (to test reconnecting)
#   postgres.sh resume DIR   start a paused server again, on the same port
#
# PostgreSQL refuses to run as root, so as root the server runs as the postgres user, which is
# given DIR; otherwise the binaries run as the calling user.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|pause|resume DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
command=$1
dir=$2

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/initdb" ] && bindir=$candidate
  done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "postgres.sh: initdb not found: install the postgresql package (scripts/install_deps.sh)" \
    "or set PG_BINDIR" >&2
  exit 1
fi

as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "postgres.sh: no free port found" >&2
  return 1
}

server_start() {
  as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
}

server_stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
  fi
}

case $command in
  start)
    # A leftover of an interrupted run goes first.
    if [ -d "$dir" ]; then
      server_stop
      rm -rf "$dir"
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    password="kagura-$RANDOM$RANDOM"
    as_server bash -c "umask 077 && printf '%s\n' 'superuser-$RANDOM$RANDOM' > '$dir/superuser.pw'"
    # Local (socket) connections are trusted for the setup below; TCP ones need the password.
    as_server "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/superuser.pw" >"$dir/initdb.log"
    for attempt in $(seq 1 10); do
      port=$(free_port)
      cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
      if server_start; then
        break
      fi
      # Someone took the port between the check and the start: try another.
      [ "$attempt" -lt 10 ] || { cat "$dir/server.log" >&2; exit 1; }
    done
    as_server "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
      -c "CREATE ROLE kagura LOGIN PASSWORD '$password' CREATEDB" \
      -c "CREATE DATABASE kagura_test OWNER kagura"
    url="postgresql://kagura:$password@127.0.0.1:$port/kagura_test"
    as_server bash -c "printf '%s\n' '$url' > '$dir/postgres.url'"
    # The tests run as the caller and must read the URI.
    chmod 755 "$dir"
    chmod 644 "$dir/postgres.url"
    echo "$url"
    ;;
  stop)
    [ -d "$dir" ] || exit 0
    server_stop
    rm -rf "$dir"
    ;;
  pause)
    server_stop
    ;;
  resume)
    server_start
    ;;
  *)
    usage
    ;;
esac
