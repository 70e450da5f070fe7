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
#   helm    helm (helm.sh/helm/v4, pinned), built with `go install` into $CACHE_DIR/bin;
#           the chart in deploy/ is linted and rendered offline with it (tools/k8s-check)
#   jaeger  Jaeger v2 (github.com/jaegertracing/jaeger cmd/jaeger, pinned), built with Go
#           into $CACHE_DIR/bin/jaeger (about 3 minutes, once): the trace store and UI
#           `npm start` runs and the tracing test reads traces back from (libs/testing's
#           jaeger.ts); the services export their spans to it over OTLP
#   smsc    the test SMS centre: tools/smsc/Smsc.java on jSMPP (org.jsmpp:jsmpp, pinned,
#           a maintained Java SMPP 3.4 implementation) from Maven Central, compiled with
#           javac into $CACHE_DIR/smsc; the OTP service's SMPP sender tests bind to it as
#           to an operator's SMS centre (needs a JDK 17 and Maven, as the machine has)
#   chromium Debian's chromium (about 100 MB) and a Devanagari font (fonts-lohit-deva), for
#           the web service's browser tests (Playwright drives it; it downloads no browser
#           here) and for Hindi pages drawn as letters, not boxes; installed when run as root
#   prometheus prometheus and promtool 2.42 from Debian's `prometheus` package (installed
#           when run as root, without its recommends); only the binaries are used (npm
#           start and the metrics tests run their own server), never the package's daemon:
#           it is kept from starting while installing and disabled after
#   chromium Debian's chromium (about 100 MB) and a Devanagari font (fonts-lohit-deva), for
#           the web service's browser tests (Playwright drives it; it downloads no browser
#           here) and for Hindi pages drawn as letters, not boxes; installed when run as root
#   pgclient pg_dump and pg_restore, 15 or newer (the server is PostgreSQL 15; a newer
#           pg_dump dumps an older server), from Debian's postgresql-client (installed
#           when run as root), for `vaxguard backup` and `vaxguard restore`
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE_DIR=${VAXGUARD_CACHE_DIR:-$HOME/.cache/vaxguard}
GRPCURL_VERSION=v1.9.4
# v0.6.1 builds with Go 1.26; later releases need Go 1.27.
TORCHWOOD_VERSION=v0.6.1
HELM_VERSION=v4.3.2

JSMPP_VERSION=3.0.1
# jSMPP 3.0.1 logs through this SLF4J API; the no-op binding keeps its lines out of tests.
SLF4J_VERSION=1.7.36
JAEGER_VERSION=v1.75.0

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

# go_tools_current <id> <version> <binary>...: each binary is in $CACHE_DIR/bin, of that version.
go_tools_current() {
  local id=$1 version=$2 binary
  shift 2
  for binary in "$@"; do [[ -x $CACHE_DIR/bin/$binary ]] || return 1; done
  [[ $(cat "$CACHE_DIR/bin/.$id-version" 2>/dev/null) == "$version" ]]
}

# ensure_go_tools <id> <version> <module> <command path>...: `go install`s each
# <module>/<command path>@<version> into $CACHE_DIR/bin unless it is there already.
ensure_go_tools() {
  local id=$1 version=$2 module=$3
  shift 3
  local binaries=() packages=() command
  for command in "$@"; do
    binaries+=("${command##*/}")
    packages+=("$module/$command@$version")
  done
  go_tools_current "$id" "$version" "${binaries[@]}" && return 0
  mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/locks"
  # Own fd, and a second look under the lock: concurrent runs build it once.
  exec 6>"$CACHE_DIR/locks/$id.lock"
  flock 6
  if ! go_tools_current "$id" "$version" "${binaries[@]}"; then
    local go scratch gohome=$CACHE_DIR/go
    go=$(command -v go || echo /usr/local/go/bin/go)
    if [[ ! -x $go ]]; then
      say "${binaries[*]} are built with Go, which is neither on PATH nor in /usr/local/go/bin; install Go (https://go.dev/dl/)"
      return 1
    fi
    say "installing ${binaries[*]} ($module $version) into $CACHE_DIR/bin (go install, about a minute)"
    scratch=$(mktemp -d "$CACHE_DIR/bin/.$id.XXXXXX")
    # Go writes only under the project's own cache, as the tlog interop test's build does.
    if ! GOBIN=$scratch GOPATH=$gohome GOMODCACHE=$gohome/mod GOCACHE=$gohome/build \
      "$go" install "${packages[@]}"; then
      rm -rf "$scratch"
      say "go install of $module $version failed"
      return 1
    fi
    for command in "${binaries[@]}"; do mv -f "$scratch/$command" "$CACHE_DIR/bin/$command"; done
    rm -rf "$scratch"
    echo "$version" >"$CACHE_DIR/bin/.$id-version"
  fi
  exec 6>&-
}

# ensure_jaeger: Jaeger's cmd/jaeger into $CACHE_DIR/bin. Its module is built as a tool
# of a scratch module (`go get -tool`, then `go build`), as TOOLS.md found it builds here.
ensure_jaeger() {
  go_tools_current jaeger "$JAEGER_VERSION" jaeger && return 0
  mkdir -p "$CACHE_DIR/bin" "$CACHE_DIR/locks"
  # Own fd, and a second look under the lock: concurrent runs build it once.
  exec 8>"$CACHE_DIR/locks/jaeger.lock"
  flock 8
  if ! go_tools_current jaeger "$JAEGER_VERSION" jaeger; then
    local go scratch gohome=$CACHE_DIR/go
    go=$(command -v go || echo /usr/local/go/bin/go)
    if [[ ! -x $go ]]; then
      say "jaeger is built with Go, which is neither on PATH nor in /usr/local/go/bin; install Go (https://go.dev/dl/)"
      return 1
    fi
    say "building jaeger (github.com/jaegertracing/jaeger $JAEGER_VERSION) into $CACHE_DIR/bin (go build, about 3 minutes, once)"
    scratch=$(mktemp -d "$CACHE_DIR/bin/.jaeger.XXXXXX")
    if ! (
      cd "$scratch" &&
        export GOPATH=$gohome GOMODCACHE=$gohome/mod GOCACHE=$gohome/build GOFLAGS=-mod=mod &&
        "$go" mod init vaxguard.local/jaeger-build >/dev/null 2>&1 &&
        "$go" get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" &&
        "$go" build -o jaeger github.com/jaegertracing/jaeger/cmd/jaeger
    ); then
      rm -rf "$scratch"
      say "building jaeger $JAEGER_VERSION failed"
      return 1
    fi
    mv -f "$scratch/jaeger" "$CACHE_DIR/bin/jaeger"
    rm -rf "$scratch"
    echo "$JAEGER_VERSION" >"$CACHE_DIR/bin/.jaeger-version"
  fi
  exec 8>&-
}

# pg_client_current: pg_dump and pg_restore are on PATH, of major version 15 or newer.
pg_client_current() {
  local tool major
  for tool in pg_dump pg_restore; do
    command -v "$tool" >/dev/null || return 1
    # `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`
    major=$("$tool" --version 2>/dev/null | awk '{print $3}' | cut -d. -f1)
    [[ $major =~ ^[0-9]+$ ]] && ((major >= 15)) || return 1
  done
}

ensure_pgclient() {
  pg_client_current && return 0
  if [[ $(id -u) -ne 0 ]]; then
    say "pg_dump and pg_restore (15 or newer) are missing and this user cannot install them; install Debian's postgresql-client"
    return 1
  fi
  mkdir -p "$CACHE_DIR/locks"
  # Own fd, and a second look under the lock: concurrent runs install it once.
  exec 7>"$CACHE_DIR/locks/pgclient.lock"
  flock 7
  if ! pg_client_current; then
    say "installing postgresql-client from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
  fi
  exec 7>&-
  pg_client_current || { say "postgresql-client did not give pg_dump and pg_restore 15 or newer"; return 1; }
}

chromium_current() {
  [[ -x /usr/bin/chromium ]] && dpkg-query -W -f='${Status}' fonts-lohit-deva 2>/dev/null | grep -q 'ok installed'
}

ensure_chromium() {
  chromium_current && return 0
  if [[ $(id -u) -ne 0 ]]; then
    say "chromium and fonts-lohit-deva are missing and this user cannot install them; install them from Debian"
    return 1
  fi
  mkdir -p "$CACHE_DIR/locks"
  # Own fd, and a second look under the lock: concurrent runs install it once.
  exec 4>"$CACHE_DIR/locks/chromium.lock"
  flock 4
  if ! chromium_current; then
    say "installing chromium and fonts-lohit-deva from Debian (about 100 MB, once)"
    # Another step may hold dpkg's lock (prometheus, pgclient): wait for it, not fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends chromium fonts-lohit-deva >/dev/null
  fi
  exec 4>&-
  chromium_current || { say "the chromium package gave no /usr/bin/chromium (or no fonts-lohit-deva)"; return 1; }
}

prometheus_current() { [[ -x /usr/bin/prometheus && -x /usr/bin/promtool ]]; }

ensure_prometheus() {
  prometheus_current && return 0
  if [[ $(id -u) -ne 0 ]]; then
    say "prometheus and promtool are missing and this user cannot install them; install Debian's prometheus package"
    return 1
  fi
  mkdir -p "$CACHE_DIR/locks"
  # Own fd, and a second look under the lock: concurrent runs install it once.
  exec 5>"$CACHE_DIR/locks/prometheus.lock"
  flock 5
  if ! prometheus_current; then
    say "installing prometheus (its binaries) from Debian"
    # The package's postinst starts its daemon through invoke-rc.d, which asks
    # policy-rc.d: a machine without one gets one saying no for the install.
    local own_policy=''
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      own_policy=1
    fi
    local status=0
    apt-get update -qq || status=$?
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
      >/dev/null || status=$?
    [[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
    ((status == 0)) || { say "apt-get install prometheus failed"; return 1; }
    # Where systemd runs, the unit stays off: the binaries are all we use.
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
  exec 5>&-
  prometheus_current || { say "the prometheus package gave no /usr/bin/prometheus and promtool"; return 1; }
}

# smsc_current: the compiled test SMS centre is of this source and these versions.
smsc_current() {
  [[ -f $CACHE_DIR/smsc/classes/Smsc.class ]] &&
    [[ $(cat "$CACHE_DIR/smsc/.source" 2>/dev/null) == "$(smsc_source_id)" ]]
}

# What the build is of: the source's SHA-256 (which the tests compare) and the versions.
smsc_source_id() {
  echo "$(sha256sum tools/smsc/Smsc.java | cut -d' ' -f1) jsmpp-$JSMPP_VERSION slf4j-$SLF4J_VERSION"
}

ensure_smsc() {
  smsc_current && return 0
  local tool
  for tool in java javac mvn; do
    command -v "$tool" >/dev/null || { say "the test SMS centre needs $tool (a JDK 17 and Maven)"; return 1; }
  done
  mkdir -p "$CACHE_DIR/locks" "$CACHE_DIR"
  # Own fd, and a second look under the lock: concurrent runs build it once.
  exec 9>"$CACHE_DIR/locks/smsc.lock"
  flock 9
  if ! smsc_current; then
    say "building the test SMS centre (jSMPP $JSMPP_VERSION) into $CACHE_DIR/smsc (Maven, about a minute)"
    local scratch artifact
    scratch=$(mktemp -d "$CACHE_DIR/.smsc.XXXXXX")
    for artifact in "org.jsmpp:jsmpp:$JSMPP_VERSION" "org.slf4j:slf4j-api:$SLF4J_VERSION" \
      "org.slf4j:slf4j-nop:$SLF4J_VERSION"; do
      if ! mvn -q -B dependency:copy "-Dartifact=$artifact" "-DoutputDirectory=$scratch/lib" >&2; then
        rm -rf "$scratch"
        say "Maven could not fetch $artifact"
        return 1
      fi
    done
    if ! javac -d "$scratch/classes" -cp "$scratch/lib/*" tools/smsc/Smsc.java; then
      rm -rf "$scratch"
      say "javac failed on tools/smsc/Smsc.java"
      return 1
    fi
    smsc_source_id >"$scratch/.source"
    rm -rf "$CACHE_DIR/smsc"
    mv "$scratch" "$CACHE_DIR/smsc"
  fi
  exec 9>&-
}

for need in "$@"; do
  case $need in
    deps) ensure_deps ;;
    chromium) ensure_chromium ;;
    docker) ensure_docker ;;
    grpcurl) ensure_go_tools grpcurl "$GRPCURL_VERSION" github.com/fullstorydev/grpcurl cmd/grpcurl ;;
    helm) ensure_go_tools helm "$HELM_VERSION" helm.sh/helm/v4 cmd/helm ;;
    jaeger) ensure_jaeger ;;
    pgclient) ensure_pgclient ;;
    prometheus) ensure_prometheus ;;
    smsc) ensure_smsc ;;
    witness) ensure_go_tools witness "$TORCHWOOD_VERSION" filippo.io/torchwood cmd/litewitness cmd/witnessctl ;;
    *) say "unknown prerequisite: $need"; exit 2 ;;
  esac
done
