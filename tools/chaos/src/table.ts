// The chaos suite's table: one row per scenario run, as `npx nx run chaos:full` prints it.
import { appendFileSync } from 'node:fs';
import { CALL_KINDS } from './ledger';
import type { RunResult } from './verify';

const COLUMNS = [
  ['scenario', 44],
  ['calls', 7],
  ['acked', 7],
  ['refused', 8],
  ['lost', 6],
  ['dup', 5],
  ['recovery', 10],
  ['log', 8],
] as const;

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1_000).toFixed(1)} s`;
}

/**
 * The table's lines: a header, a row per result (`recovery`: fault end to every kind of
 * call succeeding again; `log`: fault end to the audit log holding every acknowledged
 * action, an upper bound), then each run's recovery per call kind, refusals and notes.
 */
export function formatTable(results: readonly RunResult[]): string[] {
  const cell = (text: string, width: number, left: boolean) =>
    left ? text.slice(0, width).padEnd(width) : text.padStart(width);
  const header = COLUMNS.map(([name, width], i) => cell(name, width, i === 0)).join(' ');
  const lines = [header, '-'.repeat(header.length)];
  for (const result of results) {
    const values = [
      result.scenario,
      String(result.calls),
      String(result.acknowledged),
      String(result.refused),
      String(result.lost),
      String(result.duplicated),
      seconds(result.recoveryMaxMs),
      seconds(result.logCompleteMs),
    ];
    lines.push(COLUMNS.map(([, width], i) => cell(values[i] ?? '', width, i === 0)).join(' '));
  }
  lines.push('');
  for (const result of results) {
    const perKind = CALL_KINDS.map((kind) => `${kind} ${seconds(result.recoveryMs[kind])}`);
    lines.push(`${result.scenario}: recovery ${perKind.join(', ')}`);
    const refusals = Object.entries(result.refusals)
      .sort(([, a], [, b]) => b - a)
      .map(([name, count]) => `${name} ${count}`);
    if (refusals.length > 0) lines.push(`  refusals: ${refusals.join(', ')}`);
    for (const note of result.notes) lines.push(`  note: ${note}`);
    for (const problem of result.problems.slice(0, 20)) lines.push(`  PROBLEM: ${problem}`);
    if (result.problems.length > 20)
      lines.push(`  … and ${result.problems.length - 20} more problems`);
  }
  return lines;
}

/** Prints the table; with CHAOS_REPORT set, also appends the results there as JSON lines. */
export function printTable(title: string, results: readonly RunResult[]): void {
  console.log([`chaos: ${title}`, ...formatTable(results)].join('\n'));
  const report = process.env['CHAOS_REPORT'];
  if (report) {
    appendFileSync(report, results.map((result) => `${JSON.stringify(result)}\n`).join(''));
  }
}
