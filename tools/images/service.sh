#!/usr/bin/env bash
# service.sh <otp|identity|vaccination-record|audit|witness>
#
# Ensures the container image of a platform service, or of the audit log's witness,
# exists and prints its reference as the last line of stdout (progress on stderr), as
# build.sh does for the test images and on its helpers: the same debootstrap base
# rootfs, `docker import`ed, tagged with a hash of every input so an existing tag means
# nothing changed.
#
#   a service  Node.js (this machine's node: the runtime that built and tested the
#              bundle; its version is an input), the service's esbuild bundle
#              (services/<name>/dist: main, migrate and its other entry points; run
#              `npx nx run <name>:build` first) and the platform's production
#              node_modules (`npm ls --omit=dev`), as /app. Node is PID 1: the service
#              drains its calls and flushes its relay on SIGTERM itself.
#   witness    litewitness and witnessctl (filippo.io/torchwood, built by
#              `ensure-prereqs.sh witness`), OpenSSH's agent, and an entrypoint that
#              loads the witness's key into the agent and registers the logs it cosigns.
#
# Every image runs as user 10001 (vaxguard), what deploy/vaxguard's pods require.
set -euo pipefail

# shellcheck source=build.sh
. "$(dirname "${BASH_SOURCE[0]}")/build.sh"

REPO_ROOT=$(cd "$IMAGES_DIR/../.." && pwd)
SERVICES="otp identity vaccination-record audit"
# ca-certificates: a service may reach a managed PostgreSQL or Kafka over TLS.
SERVICE_PACKAGES="ca-certificates"
WITNESS_PACKAGES="openssh-client"
RUN_AS_UID=10001

# add_user <rootfs>: the images' one user, vaxguard (10001), no home, no shell.
add_user() {
  local rootfs=$1
  check_rootfs "$rootfs"
  echo "vaxguard:x:$RUN_AS_UID:$RUN_AS_UID:VaxGuard:/nonexistent:/usr/sbin/nologin" >>"$rootfs/etc/passwd"
  echo "vaxguard:x:$RUN_AS_UID:" >>"$rootfs/etc/group"
}

# The production packages' folders, relative to the repository: npm's own answer, less
# the workspace's links (the CLI), which no service loads.
production_modules() {
  (cd "$REPO_ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null) |
    sed -n "s:^$REPO_ROOT/\(node_modules/.*\)$:\1:p" |
    while read -r dir; do [[ -L $REPO_ROOT/$dir ]] || printf '%s\n' "$dir"; done
}

build_service_image() {
  local rootfs=$1 service=$2 node
  check_rootfs "$rootfs"
  chroot_run "$rootfs" apt-get update -q
  # shellcheck disable=SC2086
  chroot_run "$rootfs" apt-get install -y -q --no-install-recommends $SERVICE_PACKAGES
  clean_rootfs "$rootfs"
  add_user "$rootfs"
  node=$(readlink -f "$(command -v node)")
  install -m 0755 "$node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/app/dist"
  cp "$REPO_ROOT/services/$service/dist/"*.js "$REPO_ROOT/services/$service/dist/"*.js.map "$rootfs/app/dist/"
  # The bundles are ES modules.
  printf '{ "name": "vaxguard-%s", "private": true, "type": "module" }\n' "$service" >"$rootfs/app/package.json"
  production_modules | (cd "$REPO_ROOT" && xargs cp -a --parents -t "$rootfs/app")
  IMPORT_CHANGES=(
    'WORKDIR /app'
    "USER $RUN_AS_UID:$RUN_AS_UID"
    'ENTRYPOINT ["/usr/local/bin/node", "--enable-source-maps", "/app/dist/main.js"]'
    'ENV NODE_ENV=production'
  )
}

build_witness_image() {
  local rootfs=$1 bin=$CACHE_DIR/bin
  check_rootfs "$rootfs"
  chroot_run "$rootfs" apt-get update -q
  # shellcheck disable=SC2086
  chroot_run "$rootfs" apt-get install -y -q --no-install-recommends $WITNESS_PACKAGES
  clean_rootfs "$rootfs"
  add_user "$rootfs"
  install -m 0755 "$bin/litewitness" "$bin/witnessctl" "$rootfs/usr/local/bin/"
  install -m 0755 "$IMAGES_DIR/witness/entrypoint.sh" "$rootfs/usr/local/bin/vaxguard-entrypoint"
  IMPORT_CHANGES=(
    "USER $RUN_AS_UID:$RUN_AS_UID"
    'ENTRYPOINT ["/usr/local/bin/vaxguard-entrypoint"]'
    'EXPOSE 8080/tcp'
  )
}

service_main() {
  local target=${1:-} version inputs hash ref
  local files=("$IMAGES_DIR/build.sh" "$IMAGES_DIR/lib.sh" "$IMAGES_DIR/service.sh")
  version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$REPO_ROOT/package.json")
  if [[ " $SERVICES " == *" $target "* ]]; then
    [[ -f $REPO_ROOT/services/$target/dist/main.js ]] ||
      die "services/$target/dist/main.js is missing: run npx nx run $target:build"
    inputs="$target $version $SERVICE_PACKAGES node-$(node --version)"
    files+=("$REPO_ROOT/package-lock.json" "$REPO_ROOT/services/$target/dist/"*.js)
  elif [[ $target == witness ]]; then
    [[ -x $CACHE_DIR/bin/litewitness && -x $CACHE_DIR/bin/witnessctl ]] ||
      die "litewitness is missing: run bash tools/dev/ensure-prereqs.sh witness"
    inputs="$target $version $WITNESS_PACKAGES $(cat "$CACHE_DIR/bin/.witness-version")"
    files+=("$IMAGES_DIR/witness/entrypoint.sh")
  else
    die "usage: $0 <${SERVICES// /|}|witness>"
  fi
  hash=$(inputs_hash "$inputs $DEBIAN_SUITE" "${files[@]}")
  ref="vaxguard/$target:$version-$hash"

  if [[ $target == witness ]]; then
    ensure_image "$target" "$ref" "$hash" build_witness_image
  else
    ensure_image "$target" "$ref" "$hash" build_service_image "$target"
  fi
  # The chart's default tag (its appVersion) names the newest build.
  docker tag "$ref" "vaxguard/$target:$version"
  printf '%s\n' "$ref"
}

service_main "$@"
