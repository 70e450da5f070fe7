#!/usr/bin/env bash
# build.sh <postgres|kafka>
#
# Ensures the local test image exists and prints its reference as the last
# line of stdout (progress goes to stderr). There is no image registry here,
# so images are built from a debootstrap rootfs and `docker import`ed. The tag
# carries a hash of every input, so an existing tag means nothing changed and
# we exit immediately.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
DEBIAN_SECURITY_MIRROR=http://deb.debian.org/debian-security
# partman: audit entries partitioned by index (issue 23); auto-failover and its
# pg_autoctl: the primary and standby pair with its monitor (issue 23).
PG_PACKAGES="postgresql-15 postgresql-15-partman postgresql-15-auto-failover pg-auto-failover-cli"
KAFKA_PACKAGES="openjdk-17-jre-headless"

# --- base rootfs (shared by both images, cached as a tarball) --------------

make_base() {
  local rootfs=$1
  check_rootfs "$rootfs"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >&2
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR $DEBIAN_SUITE main
deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main
deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main
EOF
  # Package scripts must not try to start services inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  # Docs, man pages and translations are dead weight in a test image: drop
  # what debootstrap installed and keep dpkg from adding more.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-vaxguard-slim" <<'EOF'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
EOF
  rm -rf "${rootfs:?}"/usr/share/{doc,man,info,locale}/*
  # update-alternatives fails (e.g. in the JRE's postinst) if the directory
  # of a man page slave link is missing.
  mkdir -p "$rootfs"/usr/share/man/man{1..8}
  # Sandbox: downloads as _apt fail on the fresh rootfs' cache dir (apt falls
  # back to root, warning per package). Use-Pty: there is no /dev/pts in the
  # chroot, so dpkg's pty logging would only print errors.
  cat >"$rootfs/etc/apt/apt.conf.d/01-vaxguard" <<'EOF'
APT::Sandbox::User "root";
Dpkg::Use-Pty "0";
EOF
  # Pick up bookworm-updates / security fixes once, here.
  chroot_run "$rootfs" apt-get update -q
  chroot_run "$rootfs" apt-get -y -q upgrade
  clean_rootfs "$rootfs"
}

# Sets BASE_TARBALL (no $(...): cleanup state and errexit must stay in this
# shell).
base_tarball() {
  # Keyed by its own inputs only (not the image-specific parts of this file).
  local key tarball
  key=$(inputs_hash "$(declare -f make_base clean_rootfs chroot_run)
$DEBIAN_SUITE $DEBIAN_MIRROR $DEBIAN_SECURITY_MIRROR $(dpkg --print-architecture)")
  tarball="$CACHE_DIR/base/debian-$DEBIAN_SUITE-minbase-$key.tar"
  if [[ ! -f $tarball ]]; then
    exec 7>"$CACHE_DIR/locks/base.lock"
    flock 7
    if [[ ! -f $tarball ]]; then
      log "creating base rootfs ($DEBIAN_SUITE minbase) -> $tarball"
      new_rootfs
      make_base "$NEW_ROOTFS"
      mkdir -p "$CACHE_DIR/base"
      tar -C "$NEW_ROOTFS" --numeric-owner -cf "$tarball.tmp" .
      mv "$tarball.tmp" "$tarball"
      # Tarballs for older inputs are never used again.
      find "$CACHE_DIR/base" -name 'debian-*.tar' ! -path "$tarball" -delete
      remove_rootfs "$NEW_ROOTFS"
    fi
    exec 7>&-
  fi
  BASE_TARBALL=$tarball
}

# --- chroot helpers ----------------------------------------------------------

ROOTFS_DIRS=()

# Everything below writes/deletes "$rootfs/...", as root: refuse any path
# that is not one of our temp dirs, so a bug can never aim that at the host.
check_rootfs() {
  [[ $1 == "$CACHE_DIR"/tmp/rootfs.?* && -d $1 ]] || die "refusing to touch rootfs '$1'"
}

# Sets NEW_ROOTFS to a fresh temp dir that the EXIT trap will remove. Our PID
# is in the name so a later run can sweep dirs of builds that were SIGKILLed.
new_rootfs() {
  mkdir -p "$CACHE_DIR/tmp"
  NEW_ROOTFS=$(mktemp -d "$CACHE_DIR/tmp/rootfs.$$.XXXXXX")
  ROOTFS_DIRS+=("$NEW_ROOTFS")
}

sweep_stale_rootfs() {
  local d pid
  for d in "$CACHE_DIR"/tmp/rootfs.*; do
    [[ -d $d ]] || continue
    pid=${d##*/rootfs.}
    pid=${pid%%.*}
    if [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "removing leftover $d"
      remove_rootfs "$d"
    fi
  done
}

remove_rootfs() {
  local d=$1
  check_rootfs "$d"
  if mountpoint -q "$d/proc"; then umount "$d/proc" || umount -l "$d/proc"; fi
  # --one-file-system: never descend into a mount we failed to undo.
  rm -rf --one-file-system "$d"
}

cleanup() {
  local d
  for d in "${ROOTFS_DIRS[@]}"; do [[ -d $d ]] && remove_rootfs "$d"; done
  rm -f "$CACHE_DIR"/base/*.tar.tmp 2>/dev/null || true
}
trap cleanup EXIT

chroot_run() {
  local rootfs=$1
  check_rootfs "$rootfs"
  shift
  # java (ca-certificates-java) and some maintainer scripts need /proc.
  mountpoint -q "$rootfs/proc" || mount -t proc proc "$rootfs/proc"
  # apt inside the chroot resolves the mirror with the host's resolver.
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  chroot "$rootfs" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    "$@" >&2
}

clean_rootfs() {
  local rootfs=$1
  check_rootfs "$rootfs"
  chroot_run "$rootfs" apt-get clean
  umount "$rootfs/proc"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/apt/* \
    "$rootfs"/var/log/dpkg.log "$rootfs"/tmp/*
  # Docker bind-mounts its own resolv.conf; don't ship the build host's.
  : >"$rootfs/etc/resolv.conf"
}

# --- images ------------------------------------------------------------------

build_postgres() {
  local rootfs=$1
  check_rootfs "$rootfs"
  # Only our entrypoint creates clusters (in PGDATA), not the package.
  mkdir -p "$rootfs/etc/postgresql-common/createcluster.d"
  echo 'create_main_cluster = false' \
    >"$rootfs/etc/postgresql-common/createcluster.d/vaxguard.conf"
  chroot_run "$rootfs" apt-get update -q
  # shellcheck disable=SC2086
  chroot_run "$rootfs" apt-get install -y -q --no-install-recommends $PG_PACKAGES
  # postgresql-15 hard-depends on LLVM (+z3) for JIT, ~130MB of the image.
  # The entrypoint sets jit=off (JIT only adds latency to test queries), so
  # drop them; nothing runs apt in this image afterwards.
  chroot_run "$rootfs" dpkg --purge --force-depends libllvm14 libz3-4
  clean_rootfs "$rootfs"
  install -m 0755 "$IMAGES_DIR/postgres/entrypoint.sh" "$rootfs/usr/local/bin/vaxguard-entrypoint"
  IMPORT_CHANGES=(
    'ENTRYPOINT ["/usr/local/bin/vaxguard-entrypoint"]'
    'EXPOSE 5432/tcp'
  )
}

build_kafka() {
  local rootfs=$1 libs
  check_rootfs "$rootfs"
  libs=$(ensure_kafka_libs)
  chroot_run "$rootfs" apt-get update -q
  # shellcheck disable=SC2086
  chroot_run "$rootfs" apt-get install -y -q --no-install-recommends $KAFKA_PACKAGES
  clean_rootfs "$rootfs"
  mkdir -p "$rootfs/opt/kafka/libs" "$rootfs/opt/kafka/config" "$rootfs/var/lib/kafka"
  cp "$libs"/*.jar "$rootfs/opt/kafka/libs/"
  install -m 0644 "$IMAGES_DIR/kafka/log4j.properties" "$rootfs/opt/kafka/config/log4j.properties"
  install -m 0755 "$IMAGES_DIR/kafka/entrypoint.sh" "$rootfs/usr/local/bin/vaxguard-entrypoint"
  IMPORT_CHANGES=(
    'ENTRYPOINT ["/usr/local/bin/vaxguard-entrypoint"]'
    'EXPOSE 9092/tcp'
  )
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# ensure_image <name> <ref> <inputs hash> <build function> [args...]: unless <ref>
# exists, builds it: the base rootfs unpacked into a fresh temp dir, the build function
# run on it (`<function> <rootfs> [args...]`, setting IMPORT_CHANGES), then imported.
ensure_image() {
  local target=$1 ref=$2 hash=$3 build=$4 rootfs started c changes
  shift 4
  if ! image_exists "$ref"; then
    mkdir -p "$CACHE_DIR/locks"
    # Concurrent callers for the same image wait here, then find it built.
    exec 9>"$CACHE_DIR/locks/image-$target.lock"
    flock 9
    if ! image_exists "$ref"; then
      # An unreachable daemon also makes `image inspect` fail; don't spend a
      # minute building before finding out.
      docker info >/dev/null 2>&1 || die "docker daemon not reachable"
      command -v debootstrap >/dev/null || die "debootstrap not installed"
      started=$SECONDS
      log "building $ref"
      sweep_stale_rootfs
      base_tarball
      new_rootfs
      rootfs=$NEW_ROOTFS
      tar -C "$rootfs" --numeric-owner -xpf "$BASE_TARBALL"
      IMPORT_CHANGES=()
      "$build" "$rootfs" "$@"
      changes=()
      for c in "${IMPORT_CHANGES[@]}" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        'ENV LANG=C.UTF-8' \
        "LABEL vaxguard.image=$target vaxguard.inputs=$hash"; do
        changes+=(--change "$c")
      done
      log "importing rootfs into docker"
      # Device nodes etc. come from the container runtime, not the image.
      tar -C "$rootfs" --numeric-owner \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
        docker import "${changes[@]}" - "$ref" >/dev/null
      remove_rootfs "$rootfs"
      log "built $ref in $((SECONDS - started))s"
    fi
    exec 9>&-
  fi
}

# All top-level work happens in main, called on the last line: bash reads
# scripts lazily, so this makes editing build.sh safe while a build runs.
main() {
  local target=${1:-} version packages files hash ref
  case $target in
    postgres | kafka) ;;
    *) die "usage: $0 <postgres|kafka>" ;;
  esac

  case $target in
    postgres)
      version=15
      packages=$PG_PACKAGES
      files=("$IMAGES_DIR/postgres/entrypoint.sh")
      ;;
    kafka)
      version=$(kafka_version)
      packages=$KAFKA_PACKAGES
      files=("$IMAGES_DIR/kafka/entrypoint.sh" "$IMAGES_DIR/kafka/log4j.properties" "$IMAGES_DIR/kafka/pom.xml")
      ;;
  esac
  hash=$(inputs_hash "$target $version $packages $DEBIAN_SUITE" \
    "$IMAGES_DIR/build.sh" "$IMAGES_DIR/lib.sh" "${files[@]}")
  ref="vaxguard/$target:$version-$hash"

  ensure_image "$target" "$ref" "$hash" "build_$target"
  printf '%s\n' "$ref"
}

# Sourced (service.sh builds the platform's images on these helpers), it only defines.
[[ ${BASH_SOURCE[0]} != "$0" ]] || main "$@"
