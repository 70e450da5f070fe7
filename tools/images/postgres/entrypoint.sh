#!/usr/bin/env bash
# PostgreSQL 15 for tests. Used as the image ENTRYPOINT and, with other env,
# by run-local.sh on the host, so all server config lives here.
#
# First start (no PG_VERSION in PGDATA): initdb + create role/database with
# the single-user backend, so no temporary server ever prints the
# "ready to accept connections" line; callers can wait for it exactly once.
# Extra arguments are passed to postgres (e.g. -c work_mem=64MB).
set -euo pipefail

# One brace group: bash parses it fully before running, so editing this file
# while a server started from it is running cannot derail this shell (it
# stays alive as the signal relay below).
{
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGDATA=${PGDATA:-/var/lib/postgresql/data}
PG_PORT=${PG_PORT:-5432}
PG_LISTEN=${PG_LISTEN:-*}
PG_SOCKET_DIR=${PG_SOCKET_DIR:-/var/run/postgresql}
PG_USER=${PG_USER:-vaxguard}
PG_PASSWORD=${PG_PASSWORD:-vaxguard}
PG_DATABASE=${PG_DATABASE:-vaxguard}
PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-200}
PG_FAST=${PG_FAST:-0}
# postgres refuses to run as root; this user owns the data when we are root.
PG_RUN_AS=${PG_RUN_AS:-postgres}

log() { printf 'vaxguard-postgres: %s\n' "$*" >&2; }

as_pg=()
if [[ $(id -u) == 0 ]]; then
  # setpriv execs in place (runuser/su fork, adding another process that
  # would have to relay signals).
  as_pg=(setpriv "--reuid=$PG_RUN_AS" "--regid=$PG_RUN_AS" --init-groups)
  mkdir -p "$PGDATA" "$PG_SOCKET_DIR"
  chown "$PG_RUN_AS:" "$PGDATA" "$PG_SOCKET_DIR"
  if ! "${as_pg[@]}" test -w "$PGDATA" -a -x "$PGDATA"; then
    log "$PGDATA is not reachable by user $PG_RUN_AS (check parent dir permissions)"
    exit 1
  fi
else
  mkdir -p "$PGDATA" "$PG_SOCKET_DIR"
fi
# initdb insists on 0700/0750.
chmod 0700 "$PGDATA"

sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }
sql_ident() { printf '"%s"' "${1//\"/\"\"}"; }

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  log "initialising $PGDATA"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDATA" --username="$PG_USER" \
    --encoding=UTF8 --locale=C.UTF-8 --auth=trust --no-sync >&2

  # Local socket stays trust (handy for debugging inside the container); TCP
  # requires the password, like a real deployment.
  cat >"$PGDATA/pg_hba.conf" <<'EOF'
local all all                trust
host  all all 0.0.0.0/0      scram-sha-256
host  all all ::/0           scram-sha-256
EOF

  setup_sql="ALTER ROLE $(sql_ident "$PG_USER") PASSWORD $(sql_literal "$PG_PASSWORD");"
  if [[ $PG_DATABASE != postgres ]]; then
    setup_sql+=$'\n'"CREATE DATABASE $(sql_ident "$PG_DATABASE") OWNER $(sql_ident "$PG_USER");"
  fi
  # Single-user mode exits 0 even when a statement fails, so check its log.
  setup_log=$("${as_pg[@]}" "$PG_BIN/postgres" --single -D "$PGDATA" \
    -c password_encryption=scram-sha-256 -c fsync=off template1 <<<"$setup_sql" 2>&1 || true)
  if grep -Eq '(ERROR|FATAL|PANIC):' <<<"$setup_log"; then
    printf '%s\n' "$setup_log" >&2
    log "setup failed; remove $PGDATA to retry"
    exit 1
  fi
  # Durable even though the above ran with fsync off.
  sync
fi

args=(
  -D "$PGDATA"
  -c "listen_addresses=$PG_LISTEN"
  -c "port=$PG_PORT"
  -c "unix_socket_directories=$PG_SOCKET_DIR"
  -c "max_connections=$PG_MAX_CONNECTIONS"
  -c password_encryption=scram-sha-256
  # The image ships without LLVM; JIT only slows short test queries anyway.
  -c jit=off
)
if [[ $PG_FAST == 1 ]]; then
  # Throwaway test data: trade crash safety for speed.
  args+=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
fi

# Not exec'd on purpose: postgres treats SIGTERM as "smart" shutdown, which
# waits for every client to disconnect (a test's idle pool => docker stop hangs
# until SIGKILL). We stay as a thin PID 1 and turn SIGTERM into SIGINT
# (postgres' fast shutdown: abort transactions, checkpoint, exit).
# `docker import` on this daemon rejects STOPSIGNAL, so it can't go in the
# image config instead.
"${as_pg[@]}" "$PG_BIN/postgres" "${args[@]}" "$@" &
pg_pid=$!
trap 'kill -INT "$pg_pid" 2>/dev/null || true' TERM INT
trap 'kill -HUP "$pg_pid" 2>/dev/null || true' HUP
trap 'kill -QUIT "$pg_pid" 2>/dev/null || true' QUIT
# wait returns early whenever a trapped signal arrives; keep waiting until
# postgres itself has exited and pass its status on.
while :; do
  status=0
  wait "$pg_pid" || status=$?
  kill -0 "$pg_pid" 2>/dev/null || break
done
exit "$status"
}
