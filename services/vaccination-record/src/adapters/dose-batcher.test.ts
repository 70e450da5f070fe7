import type { Pool, PoolClient } from '@vaxguard/db';
import { failedPrecondition, VaxGuardError } from '@vaxguard/errors';
import { runOnBehalfOf } from '@vaxguard/grpc-kit';
import { describe, expect, it } from 'vitest';
import type { DoseReads, RecordUnitOfWork, TransactionLocks } from '../domain/model';
import { DoseBatcher, type DoseReadsQuery } from './dose-batcher';

const READS: DoseReads = { quota: { alreadyCounted: false, distinct: 0 }, history: [] };

/** A pool whose one connection records what it is sent; `failOn` fails a statement. */
function fakePool(failOn?: (text: string) => boolean) {
  const sent: string[] = [];
  const client = {
    escapeLiteral: (value: string) => `'${value}'`,
    query: (text: string | { text: string }) => {
      const sql = typeof text === 'string' ? text : text.text;
      sent.push(sql);
      if (failOn?.(sql)) return Promise.reject(new Error('connection lost'));
      return Promise.resolve({ rows: [] });
    },
    release: () => undefined,
  };
  const pool = { connect: () => Promise.resolve(client as unknown as PoolClient) };
  return { pool: pool as unknown as Pool, sent };
}

function batcherOn(pool: Pool) {
  const reads: DoseReadsQuery[][] = [];
  const singles: string[] = [];
  const batcher = new DoseBatcher({
    pool,
    lockName: (key) => key,
    reads: (_client, queries) => {
      reads.push([...queries]);
      return Promise.resolve(queries.map(() => READS));
    },
    unitOfWork: (_client, writes, sharedReads) =>
      ({
        doseReads: sharedReads,
        publish: (event: { beneficiaryRef: string }) => {
          writes.add({ text: `INSERT INTO outbox -- ${event.beneficiaryRef}`, values: [] });
          return Promise.resolve();
        },
      }) as unknown as RecordUnitOfWork,
    single: async (work, locks) => {
      singles.push(locks.beneficiary ?? '');
      return work({
        doseReads: () => Promise.resolve(READS),
        publish: () => Promise.resolve(),
      } as unknown as RecordUnitOfWork);
    },
  });
  return { batcher, reads, singles };
}

const locksOf = (n: number): TransactionLocks => ({
  request: `req-${n}`,
  quotaOf: `staff-${n}`,
  beneficiary: `bnf-${n}`,
});

/** A dose's work: reads, then writes one event, or throws a schedule violation. */
function dose(n: number, violates = false) {
  return async (uow: RecordUnitOfWork) => {
    await uow.doseReads({
      clientRequestId: `req-${n}`,
      staffId: `staff-${n}`,
      windowStart: new Date(0),
      beneficiaryRef: `bnf-${n}`,
    });
    if (violates) throw failedPrecondition('out of sequence', { reason: 'DOSE_OUT_OF_SEQUENCE' });
    await uow.publish({ beneficiaryRef: `bnf-${n}` } as never);
    return `dose ${n}`;
  };
}

/** Three doses at once, the second a schedule violation: the others are recorded. */
async function threeWithAViolation(batcher: DoseBatcher) {
  const outcomes = await Promise.allSettled([
    batcher.submit(dose(1), locksOf(1)),
    batcher.submit(dose(2, true), locksOf(2)),
    batcher.submit(dose(3), locksOf(3)),
  ]);
  expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  return outcomes;
}

describe('DoseBatcher', () => {
  it('commits doses that arrive together in one transaction: locks with BEGIN, one read, one write, COMMIT', async () => {
    const { pool, sent } = fakePool();
    const { batcher, reads } = batcherOn(pool);
    const answers = await Promise.all([2, 1, 3].map((n) => batcher.submit(dose(n), locksOf(n))));
    expect(answers).toEqual(['dose 2', 'dose 1', 'dose 3']);
    expect(reads.map((batch) => batch.map((query) => query.beneficiaryRef))).toEqual([
      ['bnf-2', 'bnf-1', 'bnf-3'],
    ]);
    expect(sent).toHaveLength(3);
    // Every lock with BEGIN, each kind sorted, request locks before quota before beneficiary.
    expect(sent[0]?.match(/'[^']+'/g)).toEqual([
      "'request:req-1'",
      "'request:req-2'",
      "'request:req-3'",
      "'quota:staff-1'",
      "'quota:staff-2'",
      "'quota:staff-3'",
      "'beneficiary:bnf-1'",
      "'beneficiary:bnf-2'",
      "'beneficiary:bnf-3'",
    ]);
    expect(sent[1]).toMatch(/bnf-2[\s\S]*bnf-1[\s\S]*bnf-3/);
    expect(sent[2]).toBe('COMMIT');
  });

  it('answers a violation with its own error and keeps its neighbours, without its writes', async () => {
    const { pool, sent } = fakePool();
    const { batcher } = batcherOn(pool);
    const outcomes = await threeWithAViolation(batcher);
    const rejected = outcomes[1] as PromiseRejectedResult;
    expect((rejected.reason as { reason?: string }).reason).toBe('DOSE_OUT_OF_SEQUENCE');
    const writes = sent.find((text) => text.startsWith('WITH')) ?? '';
    expect(writes).toContain('bnf-1');
    expect(writes).toContain('bnf-3');
    expect(writes).not.toContain('bnf-2');
    expect(sent.at(-1)).toBe('COMMIT');
  });

  it('never puts two doses that share a lock in one batch', async () => {
    const { pool } = fakePool();
    const { batcher, reads, singles } = batcherOn(pool);
    const sameStaff = (n: number): TransactionLocks => ({ ...locksOf(n), quotaOf: 'staff-1' });
    await Promise.all([1, 2, 3].map((n) => batcher.submit(dose(n), sameStaff(n))));
    // Each alone: one after another, in transactions of their own.
    expect(reads).toEqual([]);
    expect(singles).toEqual(['bnf-1', 'bnf-2', 'bnf-3']);
  });

  it('runs each decided dose again alone when the batch fails as a whole', async () => {
    const { pool } = fakePool((text) => text === 'COMMIT');
    const { batcher, singles } = batcherOn(pool);
    await threeWithAViolation(batcher);
    expect(singles.sort()).toEqual(['bnf-1', 'bnf-3']);
  });

  describe('a dose whose caller has gone (issue 18)', () => {
    /** A RecordDose call of its own: its deadline far off, its caller able to leave. */
    function caller() {
      const controller = new AbortController();
      return {
        submit: <T>(batcher: DoseBatcher, work: (uow: RecordUnitOfWork) => Promise<T>, n: number) =>
          runOnBehalfOf(
            { deadline: new Date(Date.now() + 60_000), signal: controller.signal },
            () => batcher.submit(work, locksOf(n)),
          ),
        leave: () =>
          controller.abort(
            new VaxGuardError('ABORTED', 'the caller cancelled the call', {
              reason: 'CALLER_CANCELLED',
            }),
          ),
      };
    }

    it('is dropped from its batch before it is decided, its neighbours written', async () => {
      const { pool, sent } = fakePool();
      const { batcher, reads } = batcherOn(pool);
      const callers = [caller(), caller(), caller()];
      const answers = Promise.allSettled(
        callers.map((call, i) => call.submit(batcher, dose(i + 1), i + 1)),
      );
      callers[1]!.leave();
      const outcomes = await answers;
      expect(outcomes.map((outcome) => outcome.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
      expect(((outcomes[1] as PromiseRejectedResult).reason as VaxGuardError).reason).toBe(
        'CALLER_CANCELLED',
      );
      expect(reads.flat().map((query) => query.beneficiaryRef)).toEqual(['bnf-1', 'bnf-3']);
      expect(sent.join('\n')).not.toContain('bnf-2');
      // The batch's statements end by its callers' deadline.
      expect(sent[0]).toMatch(/SET LOCAL statement_timeout = \d+/);
    });

    it('leaves its writes out when the caller goes while the batch decides, and is not run again alone', async () => {
      const { pool, sent } = fakePool();
      const { batcher, singles } = batcherOn(pool);
      const callers = [caller(), caller(), caller()];
      const leavesMidway = async (uow: RecordUnitOfWork) => {
        const answer = await dose(2)(uow);
        callers[1]!.leave();
        return answer;
      };
      const outcomes = await Promise.allSettled([
        callers[0]!.submit(batcher, dose(1), 1),
        callers[1]!.submit(batcher, leavesMidway, 2),
        callers[2]!.submit(batcher, dose(3), 3),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
      const writes = sent.find((text) => text.startsWith('WITH')) ?? '';
      expect(writes).toContain('bnf-1');
      expect(writes).toContain('bnf-3');
      expect(writes).not.toContain('bnf-2');
      expect(sent.at(-1)).toBe('COMMIT');
      expect(singles).toEqual([]);
    });

    it('writes nothing when every caller of a batch has gone', async () => {
      const { pool, sent } = fakePool();
      const { batcher, singles } = batcherOn(pool);
      const callers = [caller(), caller()];
      const leaveAll = async (uow: RecordUnitOfWork, n: number) => {
        const answer = await dose(n)(uow);
        for (const call of callers) call.leave();
        return answer;
      };
      const outcomes = await Promise.allSettled([
        callers[0]!.submit(batcher, (uow) => leaveAll(uow, 1), 1),
        callers[1]!.submit(batcher, dose(2), 2),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
      expect(sent).not.toContain('COMMIT');
      expect(sent.join('\n')).not.toMatch(/INSERT/);
      expect(singles).toEqual([]);
    });
  });
});
