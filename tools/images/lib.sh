# shellcheck shell=bash
# Shared helpers for build.sh and run-local.sh (sourced, not executed).
# Everything user-facing goes to stderr so callers can capture stdout.

# Without this, `set -e` is silently off inside $(...).
shopt -s inherit_errexit

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${VAXGUARD_CACHE_DIR:-$HOME/.cache/vaxguard}

log() { printf '[vaxguard-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# inputs_hash <extra-text> <file>...: short sha256 over the text and the
# files (content + path relative to IMAGES_DIR, so renames count but the
# checkout location does not).
inputs_hash() {
  local extra=$1 f
  shift
  {
    printf '%s\n' "$extra"
    for f in "$@"; do
      printf '== %s\n' "${f#"$IMAGES_DIR"/}"
      cat "$f"
    done
  } | sha256sum | cut -c1-12
}

# Version comes from the pom so there is a single place to bump it.
kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$IMAGES_DIR/kafka/pom.xml"
}

# Prints the directory holding the Kafka broker jars, downloading them from
# Maven Central on first use. Keyed by the pom hash so a version bump gets a
# fresh directory instead of mixing jars of two releases on one classpath.
ensure_kafka_libs() {
  local key dir tmp
  key=$(inputs_hash "" "$IMAGES_DIR/kafka/pom.xml")
  dir="$CACHE_DIR/kafka/$(kafka_version)-$key"
  if [[ ! -f "$dir/.complete" ]]; then
    mkdir -p "$CACHE_DIR/locks" "$CACHE_DIR/kafka"
    # Own fd so callers can hold other locks meanwhile.
    exec 8>"$CACHE_DIR/locks/kafka-libs.lock"
    flock 8
    if [[ ! -f "$dir/.complete" ]]; then
      command -v mvn >/dev/null || die "mvn not found (needed once to fetch Kafka jars)"
      log "fetching Kafka $(kafka_version) jars from Maven Central into $dir"
      rm -rf "$dir"
      tmp=$(mktemp -d "$CACHE_DIR/kafka/.fetch.XXXXXX")
      # -B: no ANSI colours; stdout -> stderr: keep our stdout clean.
      if ! mvn -B -q -f "$IMAGES_DIR/kafka/pom.xml" dependency:copy-dependencies \
          -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >&2; then
        rm -rf "$tmp"
        die "maven could not resolve the Kafka jars"
      fi
      touch "$tmp/.complete"
      mv "$tmp" "$dir"
    fi
    exec 8>&-
  fi
  printf '%s\n' "$dir/libs"
}
