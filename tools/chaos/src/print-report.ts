// Prints the table of every scenario a chaos run reported (CHAOS_REPORT, JSON lines that
// table.ts's printTable appended), after all the suite's files have run:
// `npx nx run chaos:full` ends with it.
import { readFileSync } from 'node:fs';
import { formatTable } from './table';
import type { RunResult } from './verify';

const file = process.argv[2];
if (!file) {
  console.error('usage: tsx tools/chaos/src/print-report.ts <CHAOS_REPORT file>');
  process.exit(2);
}
let text = '';
try {
  text = readFileSync(file, 'utf8');
} catch {
  console.log('chaos: no scenario reported a result');
  process.exit(0);
}
const results = text
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as RunResult);
console.log(['', 'chaos: every scenario', ...formatTable(results)].join('\n'));
