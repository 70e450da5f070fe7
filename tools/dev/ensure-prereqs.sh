#!/usr/bin/env bash
# Makes a fresh clone on a fresh machine ready, idempotently and quickly when it
# already is. Called by `npm start`, `npm test` and .ci/run.
#   deps    npm packages, installed from package-lock.json when it changed
#   docker  a running Docker engine (installs docker.io and debootstrap from Debian
#           and starts dockerd when run as root), for Testcontainers and the images
#   grpcurl grpcurl, pinned, built with `go install` into $CACHE_DIR/bin/grpcurl; the
#           reflection integration test drives it as a client with only an address
#   witness litewitness and witnessctl (filippo.io/torchwood, pinned), a real C2SP
#           tlog-witness, built with Go into $CACHE_DIR/bin; the platform's audit log
#           has its checkpoints cosigned by one (libs/witness starts it)
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE_DIR=${VAXGUARD_CACHE_DIR:-$HOME/.cache/vaxguard}
GRPCURL_VERSION=v1.9.4
# v0.6.1 builds with Go 1.26; later releases need Go 1.27.
TORCHWOOD_VERSION=v0.6.1

say() { printf '[prereqs] %s\n' "$*" >&2; }

ensure_deps() {
  local want have=''
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  [[ -f node_modules/.vaxguard-lock ]] && have=$(cat node_modules/.vaxguard-lock)
  if [[ $want != "$have" ]]; then
    say "installing npm packages from package-lock.json"
    # Not `npm ci`: it insists on lock entries for every platform's optional binary
    # (@bufbuild/buf-darwin-*, ...), which this registry does not serve. `npm install`
    # installs the same locked versions and leaves the lock file as it is.
    npm install --no-audit --no-fund --loglevel=error
    echo "$want" >node_modules/.vaxguard-lock
  fi
}

docker_up() { docker info >/dev/null 2>&1; }

ensure_docker() {
  docker_up && return 0
  if [[ $(id -u) -ne 0 ]]; then
    say "no Docker engine is reachable and this user cannot start one; start dockerd (or set TEST_DATABASE_URL and TEST_KAFKA_BROKERS)"
    return 1
  fi
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    say "installing docker.io and debootstrap from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
  if ! docker_up; then
    say "starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/vaxguard-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
      docker_up && break
      sleep 1
    done
  fi
  docker_up || { say "dockerd did not come up; see /var/log/vaxguard-dockerd.log"; return 1; }
  say "Docker engine ready"
}

grpcurl_current() {
  [[ -x $CACHE_DIR/bin/grpcurl && $(cat "$CACHE_DIR/bin/.grpcurl-version" 2>/dev/null) == "$GRPCURL_VERSION" ]]
}

ensure_grpcurl() {
  grpcurl_current && return 0
  mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/locks"
  # Own fd, and a second look under the lock: concurrent runs build it once.
  exec 6>"$CACHE_DIR/locks/grpcurl.lock"
  flock 6
  if ! grpcurl_current; then
    local go scratch
    go=$(command -v go || echo /usr/local/go/bin/go)
    if [[ ! -x $go ]]; then
      say "grpcurl is built with Go, which is neither on PATH nor in /usr/local/go/bin; install Go (https://go.dev/dl/)"
      return 1
    fi
    say "installing grpcurl $GRPCURL_VERSION into $CACHE_DIR/bin (go install, about a minute)"
    scratch=$(mktemp -d "$CACHE_DIR/bin/.grpcurl.XXXXXX")
    if ! GOBIN=$scratch "$go" install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"; then
      rm -rf "$scratch"
      say "go install of grpcurl $GRPCURL_VERSION failed"
      return 1
    fi
    mv -f "$scratch/grpcurl" "$CACHE_DIR/bin/grpcurl"
    rm -rf "$scratch"
    echo "$GRPCURL_VERSION" >"$CACHE_DIR/bin/.grpcurl-version"
  fi
  exec 6>&-
}

witness_current() {
  [[ -x $CACHE_DIR/bin/litewitness && -x $CACHE_DIR/bin/witnessctl &&
    $(cat "$CACHE_DIR/bin/.witness-version" 2>/dev/null) == "$TORCHWOOD_VERSION" ]]
}

ensure_witness() {
  witness_current && return 0
  mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/locks"
  # Own fd, and a second look under the lock: concurrent runs build it once.
  exec 7>"$CACHE_DIR/locks/witness.lock"
  flock 7
  if ! witness_current; then
    local go scratch gohome=$CACHE_DIR/go
    go=$(command -v go || echo /usr/local/go/bin/go)
    if [[ ! -x $go ]]; then
      say "litewitness is built with Go, which is neither on PATH nor in /usr/local/go/bin; install Go (https://go.dev/dl/)"
      return 1
    fi
    say "installing litewitness and witnessctl (filippo.io/torchwood $TORCHWOOD_VERSION) into $CACHE_DIR/bin (go install, about a minute)"
    scratch=$(mktemp -d "$CACHE_DIR/bin/.witness.XXXXXX")
    # Go writes only under the project's own cache, as the tlog interop test's build does.
    if ! GOBIN=$scratch GOPATH=$gohome GOMODCACHE=$gohome/mod GOCACHE=$gohome/build \
      "$go" install "filippo.io/torchwood/cmd/litewitness@$TORCHWOOD_VERSION" \
      "filippo.io/torchwood/cmd/witnessctl@$TORCHWOOD_VERSION"; then
      rm -rf "$scratch"
      say "go install of filippo.io/torchwood $TORCHWOOD_VERSION failed"
      return 1
    fi
    mv -f "$scratch/litewitness" "$scratch/witnessctl" "$CACHE_DIR/bin/"
    rm -rf "$scratch"
    echo "$TORCHWOOD_VERSION" >"$CACHE_DIR/bin/.witness-version"
  fi
  exec 7>&-
}

for need in "$@"; do
  case $need in
    deps) ensure_deps ;;
    docker) ensure_docker ;;
    grpcurl) ensure_grpcurl ;;
    witness) ensure_witness ;;
    *) say "unknown prerequisite: $need"; exit 2 ;;
  esac
done
