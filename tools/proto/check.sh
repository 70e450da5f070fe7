#!/usr/bin/env bash
# Fails when proto/ and the committed generated code disagree: regenerates, then asks
# git whether anything under libs/proto/src/gen changed or appeared.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/proto/generate.sh
if ! git diff --quiet -- libs/proto/src/gen || [ -n "$(git ls-files --others --exclude-standard libs/proto/src/gen)" ]; then
  echo "proto-check: generated code is stale; run 'npx nx run proto:generate' and commit libs/proto/src/gen" >&2
  git status --short -- libs/proto/src/gen >&2
  exit 1
fi
echo "proto-check: generated code matches proto/"
