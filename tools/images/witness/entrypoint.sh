#!/bin/sh
# The audit log's witness in its container (deploy/vaxguard's witness): what
# libs/witness does on a developer's machine. The key (an OpenSSH ed25519 private key,
# mounted from a Secret) goes into an ssh-agent of its own, the logs it cosigns are
# registered in its database (those already there are left as they are), and litewitness
# serves on all interfaces.
#   WITNESS_NAME      its name in its cosignatures
#   WITNESS_PORT      the port it listens on
#   WITNESS_LOGS      `origin|vkey` of each log it cosigns, comma-separated
#   WITNESS_KEY_FILE  its private key
#   WITNESS_DB        its SQLite database (on a volume that outlives the pod)
set -eu
: "${WITNESS_NAME:?}" "${WITNESS_PORT:?}" "${WITNESS_LOGS:?}" "${WITNESS_KEY_FILE:?}" "${WITNESS_DB:?}"

# ssh-add refuses a key others may read; the mounted one is the Secret's mode.
key=/tmp/witness-key
install -m 0600 "$WITNESS_KEY_FILE" "$key"
socket=/tmp/witness-agent.sock
rm -f "$socket"
ssh-agent -a "$socket" >/dev/null
SSH_AUTH_SOCK=$socket ssh-add -q "$key"
fingerprint=$(ssh-keygen -l -f "$key" | cut -d' ' -f2)
rm -f "$key"

mkdir -p "$(dirname "$WITNESS_DB")"
known=$(witnessctl list-logs -db "$WITNESS_DB")
for entry in $(echo "$WITNESS_LOGS" | tr ',' ' '); do
  origin=${entry%%|*}
  vkey=${entry#*|}
  case $known in
    *"\"origin\":\"$origin\""*) ;;
    *) witnessctl add-log -db "$WITNESS_DB" -origin "$origin" ;;
  esac
  case $known in
    *"\"$vkey\""*) ;;
    *) witnessctl add-key -db "$WITNESS_DB" -origin "$origin" -key "$vkey" ;;
  esac
done

# litewitness shuts down cleanly on SIGINT only; an orchestrator stops a container with
# SIGTERM (and `docker import` cannot set STOPSIGNAL), so this shell turns one into the other.
litewitness -name="$WITNESS_NAME" -db="$WITNESS_DB" -ssh-agent="$socket" \
  -key="$fingerprint" -listen="0.0.0.0:$WITNESS_PORT" &
witness=$!
trap 'kill -INT "$witness" 2>/dev/null' TERM INT
# A trapped signal ends `wait` early: wait again until litewitness itself has exited.
wait "$witness" && status=0 || status=$?
while kill -0 "$witness" 2>/dev/null; do
  wait "$witness" && status=0 || status=$?
done
exit "$status"
