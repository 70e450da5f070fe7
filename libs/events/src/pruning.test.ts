import { describe, expect, it, vi } from 'vitest';
import type { Queryable } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { ProcessedEventsPruner } from './pruning';

/** A pool whose DELETEs answer with the given row counts in turn (or throw an Error). */
function fakePool(answers: (number | Error)[]) {
  const params: unknown[][] = [];
  const pool = {
    query: async (_text: string, values: unknown[]) => {
      params.push(values);
      const answer = answers.shift() ?? 0;
      if (answer instanceof Error) throw answer;
      return { rowCount: answer };
    },
  } as unknown as Queryable;
  return { pool, params };
}

function pruner(pool: Queryable, logs: MemoryLogSink) {
  return new ProcessedEventsPruner({
    pool,
    consumer: 'audit-log',
    retentionMs: 3_600_000,
    intervalMs: 20,
    batchSize: 1_000,
    logger: createLogger({ service: 'pruning-test', sink: logs }),
  });
}

describe('ProcessedEventsPruner', () => {
  it('deletes a batch at a time until a batch comes back short', async () => {
    const { pool, params } = fakePool([1_000, 1_000, 500]);
    const removed = await pruner(pool, new MemoryLogSink()).prune();
    expect(removed).toBe(2_500);
    expect(params).toEqual([
      ['audit-log', 3_600, 1_000],
      ['audit-log', 3_600, 1_000],
      ['audit-log', 3_600, 1_000],
    ]);
  });

  it('logs what a pass removed, logs a failed pass, and runs again after the interval', async () => {
    const logs = new MemoryLogSink();
    const { pool } = fakePool([new Error('connection lost'), 7]);
    const running = pruner(pool, logs);
    running.start();
    try {
      await vi.waitFor(() =>
        expect(logs.records().map((line) => [line.msg, line.removed])).toEqual([
          ['processed events prune failed; trying again later', undefined],
          ['processed events pruned', 7],
        ]),
      );
    } finally {
      await running.stop();
    }
  });

  it('stops after the statement under way, and runs no pass after stop', async () => {
    let finish: ((count: number) => void) | undefined;
    let statements = 0;
    const pool = {
      query: () => {
        statements++;
        return new Promise((resolve) => {
          finish = (count) => resolve({ rowCount: count });
        });
      },
    } as unknown as Queryable;
    const running = pruner(pool, new MemoryLogSink());
    running.start();
    await vi.waitFor(() => expect(finish).toBeDefined());
    let stopped = false;
    const stopping = running.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stopped).toBe(false);
    // A full batch would ask for another, but the pruner is stopping.
    finish!(1_000);
    await stopping;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(statements).toBe(1);
  });
});
