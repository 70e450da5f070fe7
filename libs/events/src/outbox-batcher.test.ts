import { AsyncLocalStorage } from 'node:async_hooks';
import type { Queryable } from '@vaxguard/db';
import type { OutgoingEvent } from '@vaxguard/event-catalogue';
import { describe, expect, it } from 'vitest';
import { OutboxBatcher, type SharedWork } from './outbox';

/** A served call, as grpc-kit's call context would give it: a name and a signal. */
interface Call {
  readonly name: string;
  readonly signal: AbortSignal;
}

function event(id: number): OutgoingEvent {
  return {
    topic: 'vaxguard.test.events',
    key: `k${id}`,
    urgent: false,
    envelope: {
      eventId: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
      type: 'test.happened',
      producer: 'identity',
      occurredAt: new Date(0),
      actor: undefined,
      subject: undefined,
      payload: undefined,
    },
  } as unknown as OutgoingEvent;
}

/**
 * A database whose inserts wait until released, recording for each the call it was run
 * on behalf of and the rows it carried.
 */
function heldDatabase(calls: AsyncLocalStorage<Call>) {
  const statements: { call: string | undefined; rows: number }[] = [];
  const releases: (() => void)[] = [];
  const db: Queryable = {
    query: (async (statement: { values?: unknown[][] | unknown[] }) => {
      const values = statement.values ?? [];
      const rows = Array.isArray(values[0]) ? (values[0] as unknown[]).length : 1;
      statements.push({ call: calls.getStore()?.name, rows });
      await new Promise<void>((resolve) => releases.push(resolve));
      return { rows: [], rowCount: rows };
    }) as unknown as Queryable['query'],
  };
  return { db, statements, release: () => releases.splice(0).forEach((go) => go()) };
}

describe('OutboxBatcher with shared work', () => {
  const calls = new AsyncLocalStorage<Call>();
  const shared: SharedWork = {
    outsideAnyCall: (work) => calls.exit(work),
    currentSignal: () => calls.getStore()?.signal,
  };
  const asCall = <T>(name: string, controller: AbortController, work: () => T): T =>
    calls.run({ name, signal: controller.signal }, work);

  it('inserts on behalf of no call, and one caller going does not fail the rows it shares a batch with', async () => {
    const { db, statements, release } = heldDatabase(calls);
    const batcher = new OutboxBatcher(db, 256, shared);
    const a = new AbortController();
    const b = new AbortController();
    const c = new AbortController();
    const first = asCall('a', a, () => batcher.enqueue(event(1)));
    // While a's insert runs, b and c wait and then go in together.
    const second = asCall('b', b, () => batcher.enqueue(event(2)));
    const third = asCall('c', c, () => batcher.enqueue(event(3)));
    await new Promise((resolve) => setImmediate(resolve));
    // a is answered and its stream closes (or its caller goes): that must not touch b or c.
    a.abort(new Error('a has gone'));
    await expect(first).rejects.toThrow('a has gone');
    release();
    await new Promise((resolve) => setImmediate(resolve));
    // b goes while the batch holding its row and c's runs: b stops waiting, c is written.
    b.abort(new Error('b has gone'));
    await expect(second).rejects.toThrow('b has gone');
    release();
    await expect(third).resolves.toBeUndefined();
    expect(statements).toEqual([
      { call: undefined, rows: 1 },
      { call: undefined, rows: 2 },
    ]);
  });

  it('refuses at once a caller already gone', async () => {
    const { db, statements } = heldDatabase(calls);
    const batcher = new OutboxBatcher(db, 256, shared);
    const gone = new AbortController();
    gone.abort(new Error('already gone'));
    await expect(asCall('gone', gone, () => batcher.enqueue(event(4)))).rejects.toThrow(
      'already gone',
    );
    expect(statements).toEqual([]);
  });
});
