#!/usr/bin/env bash
# Fails when proto/ and the committed generated code disagree. Generates into a
# scratch directory and compares, so the work tree is never touched while other
# tasks read it.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
bash tools/proto/generate.sh "$scratch"
if ! diff -r "$scratch/libs/proto/src/gen" libs/proto/src/gen >"$scratch/diff.txt"; then
  echo "proto-check: generated code is stale; run 'npx nx run proto:generate' and commit libs/proto/src/gen" >&2
  head -40 "$scratch/diff.txt" >&2
  exit 1
fi
if [ -n "$(git ls-files --others --exclude-standard libs/proto/src/gen)" ] || ! git diff --quiet -- libs/proto/src/gen; then
  echo "proto-check: libs/proto/src/gen differs from what is committed; commit the regenerated code" >&2
  exit 1
fi
echo "proto-check: generated code matches proto/"
