#!/usr/bin/env bash
# `npm test`: proto drift and compatibility, typecheck, lint, unit and integration
# tests of every project through Nx, closing with one total line.
set -uo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/ensure-prereqs.sh deps docker grpcurl witness pgclient helm smsc chromium jaeger prometheus || exit 1

counts=$(mktemp)
export VAXGUARD_TEST_COUNTS=$counts
export NX_DAEMON=${NX_DAEMON:-false}
export NX_NO_CLOUD=true
export TESTCONTAINERS_RYUK_DISABLED=true
started=$(date +%s)
# Two tasks at a time: integration suites spend much of their time waiting on brokers,
# timers and processes, so two projects' suites (each one file at a time, each file
# its own platform, ports from blocks each process claims) share the two cores.
npx nx run-many -t proto-check breaking format-check typecheck lint test integration --parallel=2 --outputStyle=stream
status=$?
echo "npm test: $(( $(date +%s) - started )) s, exit $status"
# The totals close the output, alone on the last line: `N passed, N failed, N skipped`.
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
  const sum = (k) => lines.reduce((n, l) => n + l[k], 0);
  console.log(`vitest runs: ${lines.length} (Nx-cached targets are not re-run and not counted)`);
  console.log(`${sum("passed")} passed, ${sum("failed")} failed, ${sum("skipped")} skipped`);
' "$counts"
rm -f "$counts"
exit $status
