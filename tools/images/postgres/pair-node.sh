#!/usr/bin/env bash
# One node of the PostgreSQL pair with automatic failover (pg_auto_failover, Debian's
# postgresql-15-auto-failover and pg-auto-failover-cli; issue 23): the monitor, or a
# data node (the first to register becomes the primary, the next its standby).
#
#   pair-node.sh monitor
#   PAIR_MONITOR=<monitor's address> PAIR_NODE_NAME=a pair-node.sh node
#
# Run as the ENTRYPOINT of a container from the project's PostgreSQL image (the fixture
# in libs/testing copies it in; the image's own entrypoint serves the single server), on
# a network of its own: pg_autoctl's connections between the nodes (the monitor's,
# replication's) are trusted from that network, the services' role logs in with its
# password (scram-sha-256), as on the single server.
#
# Faster than pg_auto_failover's defaults (health checks every 5 s, a node unhealthy
# after 20 s, 30 s for an unreachable primary to demote itself), so that a killed
# primary is replaced in seconds: PAIR_UNHEALTHY_MS and PAIR_DEMOTE_MS. The keeper of a
# primary cut off from the monitor and its standby stops writing after
# PAIR_PARTITION_S, before the monitor may promote the standby (PAIR_DEMOTE_MS later).
set -euo pipefail
{
mode=${1:-}
PGDATA=/var/lib/postgresql/pgaf
PG_USER=${PG_USER:-vaxguard}
PG_DATABASE=${PG_DATABASE:-vaxguard}
PAIR_UNHEALTHY_MS=${PAIR_UNHEALTHY_MS:-4000}
PAIR_DEMOTE_MS=${PAIR_DEMOTE_MS:-8000}
PAIR_PARTITION_S=${PAIR_PARTITION_S:-4}
me=$(hostname -i | cut -d' ' -f1)

log() { printf 'vaxguard-pair: %s\n' "$*" >&2; }
sql_ident() { printf '"%s"' "${1//\"/\"\"}"; }

mkdir -p /var/lib/postgresql /var/run/postgresql
chown postgres: /var/lib/postgresql /var/run/postgresql
# pg_autoctl refuses to run as root; its configuration and state live under HOME.
as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups
  env HOME=/var/lib/postgresql PGDATA="$PGDATA" PATH="/usr/lib/postgresql/15/bin:$PATH")
autoctl() { "${as_pg[@]}" pg_autoctl "$@"; }

case $mode in
  monitor)
    if [[ ! -s $PGDATA/PG_VERSION ]]; then
      autoctl create monitor --pgdata "$PGDATA" --pgport 5432 --hostname "$me" \
        --auth trust --ssl-self-signed
      cat >>"$PGDATA/postgresql.conf" <<EOF
# vaxguard-pair: a node is checked every second and failed over after ${PAIR_UNHEALTHY_MS} ms
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = ${PAIR_UNHEALTHY_MS}
pgautofailover.primary_demote_timeout = ${PAIR_DEMOTE_MS}
EOF
    fi
    ;;
  node)
    : "${PAIR_MONITOR:?PAIR_MONITOR: where the monitor is}"
    monitor_url="postgres://autoctl_node@$PAIR_MONITOR:5432/pg_auto_failover?sslmode=require"
    if [[ ! -s $PGDATA/PG_VERSION ]]; then
      # Started with the monitor: wait until it serves (pg_autoctl create gives up at once).
      for ((tries = 0; ; tries++)); do
        autoctl_psql=("${as_pg[@]}" psql "$monitor_url" -qAtc 'SELECT 1 FROM pgautofailover.formation')
        "${autoctl_psql[@]}" >/dev/null 2>&1 && break
        if ((tries >= 600)); then
          log "the monitor at $PAIR_MONITOR did not answer within 5 minutes"
          exit 1
        fi
        sleep 0.5
      done
      # The primary initialises its cluster; the standby copies it (pg_basebackup), with
      # the settings and the role's password rule below.
      autoctl create postgres --pgdata "$PGDATA" --pgport 5432 --hostname "$me" \
        --name "${PAIR_NODE_NAME:-$me}" --dbname "$PG_DATABASE" --auth trust --ssl-self-signed \
        --monitor "$monitor_url"
      autoctl config set --pgdata "$PGDATA" timeout.network_partition_timeout "$PAIR_PARTITION_S"
      if ! grep -q 'vaxguard-pair' "$PGDATA/postgresql.conf"; then
        cat >>"$PGDATA/postgresql.conf" <<EOF
# vaxguard-pair: as the single server (tools/images/postgres/entrypoint.sh)
max_connections = 200
password_encryption = scram-sha-256
jit = off
EOF
      fi
      if ! grep -q "^host all $(sql_ident "$PG_USER")" "$PGDATA/pg_hba.conf"; then
        printf 'host all %s 0.0.0.0/0 scram-sha-256\nhost all %s ::/0 scram-sha-256\n' \
          "$(sql_ident "$PG_USER")" "$(sql_ident "$PG_USER")" >>"$PGDATA/pg_hba.conf"
      fi
    fi
    ;;
  *)
    log "usage: pair-node.sh monitor|node"
    exit 2
    ;;
esac
exec "${as_pg[@]}" pg_autoctl run --pgdata "$PGDATA"
}
