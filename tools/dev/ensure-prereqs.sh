#!/usr/bin/env bash
# Makes a fresh clone on a fresh machine ready, idempotently and quickly when it
# already is. Called by `npm start`, `npm test` and .ci/run.
#   deps    npm packages, installed from package-lock.json when it changed
#   docker  a running Docker engine (installs docker.io and debootstrap from Debian
#           and starts dockerd when run as root), for Testcontainers and the images
set -euo pipefail
cd "$(dirname "$0")/../.."

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

for need in "$@"; do
  case $need in
    deps) ensure_deps ;;
    docker) ensure_docker ;;
    *) say "unknown prerequisite: $need"; exit 2 ;;
  esac
done
