#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft combined broker+controller) for tests.
# Used as the image ENTRYPOINT and, with other env, by run-local.sh on the
# host, so all broker config lives here. Extra arguments go to kafka.Kafka
# (e.g. --override log.retention.ms=60000).
set -euo pipefail

# One brace group: bash parses it fully before running, so editing this file
# while it runs (before the exec) cannot derail it.
{
KAFKA_LIBS=${KAFKA_LIBS:-/opt/kafka/libs}
KAFKA_LOG4J_CONFIG=${KAFKA_LOG4J_CONFIG:-/opt/kafka/config/log4j.properties}
KAFKA_DATA_DIR=${KAFKA_DATA_DIR:-/var/lib/kafka}
KAFKA_LISTEN_HOST=${KAFKA_LISTEN_HOST:-0.0.0.0}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_ADVERTISED_LISTENER=${KAFKA_ADVERTISED_LISTENER:-PLAINTEXT://localhost:$KAFKA_PORT}
# Fixed so a re-created data dir looks like the same cluster; any 16 bytes,
# base64url without padding (this is "vaxguard-kafka-1").
KAFKA_CLUSTER_ID=${KAFKA_CLUSTER_ID:-dmF4Z3VhcmQta2Fma2EtMQ}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}
KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:-}
JAVA=${JAVA:-java}

log_dir=$KAFKA_DATA_DIR/data
config=$KAFKA_DATA_DIR/server.properties
mkdir -p "$log_dir"

# Rewritten on every start so env changes (ports, advertised listener) apply
# to an existing data dir too.
cat >"$config" <<PROPS
process.roles=broker,controller
node.id=1
# 127.0.0.1 rather than localhost: no resolver / IPv6-first surprises.
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_LISTEN_HOST:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$KAFKA_ADVERTISED_LISTENER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$log_dir

# One broker: every replication factor / ISR must be 1.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# Fewer internal partitions = faster first consumer group / transaction.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
# Tests: no 3s wait before the first rebalance, topics appear on demand.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
num.partitions=3
PROPS

classpath="$KAFKA_LIBS/*"
# Option variables are split on spaces on purpose (like Kafka's own scripts).
# shellcheck disable=SC2206
jvm=(
  $KAFKA_HEAP_OPTS
  -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$KAFKA_LOG4J_CONFIG"
  $KAFKA_JVM_OPTS
  -cp "$classpath"
)

# meta.properties exists once formatted; checking it ourselves skips a
# second JVM start (~2s) on every restart.
if [[ ! -f "$log_dir/meta.properties" ]]; then
  echo "vaxguard-kafka: formatting $log_dir (cluster id $KAFKA_CLUSTER_ID)" >&2
  "$JAVA" "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted \
    -t "$KAFKA_CLUSTER_ID" -c "$config" >&2
fi

# exec: the JVM becomes this PID and runs Kafka's shutdown hook on SIGTERM.
exec "$JAVA" "${jvm[@]}" kafka.Kafka "$config" "$@"
}
