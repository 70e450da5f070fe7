#!/usr/bin/env bash
# run-local.sh <postgres|kafka> <data-dir> <port> [extra server args...]
#
# Fallback when no container engine is available: runs the same entrypoint
# scripts as the images, in the foreground, with host binaries (PostgreSQL 15
# from /usr/lib/postgresql/15/bin, the host JDK + cached Kafka jars). Binds to
# loopback by default. Stop with SIGTERM (or Ctrl-C).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 3 ]] || die "usage: $0 <postgres|kafka> <data-dir> <port> [extra server args...]"
target=$1
port=$3
[[ $port =~ ^[0-9]+$ ]] || die "port must be a number: $port"
mkdir -p "$2"
data_dir=$(cd "$2" && pwd)
shift 3

case $target in
  postgres)
    export PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
    [[ -x $PG_BIN/postgres ]] || die "PostgreSQL 15 server binaries not found in $PG_BIN"
    # initdb wants an empty directory, so the cluster lives one level down.
    export PGDATA=$data_dir/pgdata
    export PG_PORT=$port
    export PG_LISTEN=${PG_LISTEN:-127.0.0.1}
    # The host's /var/run/postgresql may belong to another install (or not be
    # writable); socket names include the port, so /tmp never collides.
    export PG_SOCKET_DIR=${PG_SOCKET_DIR:-/tmp}
    if [[ $(id -u) == 0 ]]; then
      # The entrypoint drops to this user; it needs to reach the data dir.
      chown "${PG_RUN_AS:-postgres}:" "$data_dir"
    fi
    exec "$IMAGES_DIR/postgres/entrypoint.sh" "$@"
    ;;
  kafka)
    command -v "${JAVA:-java}" >/dev/null || die "java not found (need JDK/JRE 17+)"
    KAFKA_LIBS=$(ensure_kafka_libs)
    export KAFKA_LIBS
    export KAFKA_LOG4J_CONFIG=${KAFKA_LOG4J_CONFIG:-$IMAGES_DIR/kafka/log4j.properties}
    export KAFKA_DATA_DIR=$data_dir
    export KAFKA_PORT=$port
    export KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
    export KAFKA_LISTEN_HOST=${KAFKA_LISTEN_HOST:-127.0.0.1}
    export KAFKA_ADVERTISED_LISTENER=${KAFKA_ADVERTISED_LISTENER:-PLAINTEXT://127.0.0.1:$port}
    # exec all the way down: the JVM ends up with this PID and handles SIGTERM.
    exec "$IMAGES_DIR/kafka/entrypoint.sh" "$@"
    ;;
  *) die "usage: $0 <postgres|kafka> <data-dir> <port> [extra server args...]" ;;
esac
