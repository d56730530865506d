#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests: a fresh cluster in a temporary directory, listening on
# 127.0.0.1:PORT with its unix socket in that directory, trust authentication for user `postgres`.
# Prints `ready <port> <dir>` on stdout once it takes connections, then waits; it stops the server
# and removes the directory when its stdin closes (the test process exiting, however it exits)
# or when it is sent SIGTERM/SIGINT.
#
# The server runs as the `postgres` system user when started as root (PostgreSQL refuses to run
# as root); otherwise as the calling user.
#
# Usage: throwaway-postgres.sh PORT
set -euo pipefail

port=${1:?usage: throwaway-postgres.sh PORT}
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$bin/initdb" ] || { echo "no PostgreSQL at $bin (Debian package postgresql)" >&2; exit 1; }

dir=$(mktemp -d /tmp/tessera-pg-XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi

stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 0' TERM INT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: a crash of the test machine may lose the throwaway data, which is fine.
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

echo "ready $port $dir"
# Waits until the test process closes our stdin (it exited) or a signal arrives; `cat` runs in
# the background (stdin passed explicitly) so that bash runs the traps while waiting.
cat <&0 >/dev/null &
wait $! || true
