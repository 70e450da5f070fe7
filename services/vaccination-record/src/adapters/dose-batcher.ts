import {
  combineWrites,
  withTransaction,
  type Pool,
  type PoolClient,
  type Statement,
} from '@vaxguard/db';
import { toVaxGuardError } from '@vaxguard/errors';
import {
  currentCallBudget,
  outsideAnyCall,
  runOnBehalfOf,
  type CallBudget,
} from '@vaxguard/grpc-kit';
import type { Logger } from '@vaxguard/logging';
import type { DoseReads, RecordUnitOfWork, TransactionLocks } from '../domain/model';

/**
 * How long the first dose of a batch waits for others to join it. At the national peak
 * doses arrive every millisecond or two; waiting one costs a lone dose about that.
 */
export const DOSE_BATCH_WINDOW_MS = 1;
/** The most doses one transaction commits together (about 45 parameters each). */
export const DOSE_BATCH_MAX = 64;

/** What RecordDose's reads ask, for one dose. */
export interface DoseReadsQuery {
  readonly clientRequestId: string;
  readonly staffId: string;
  readonly windowStart: Date;
  readonly beneficiaryRef: string;
}

/** Everything the doses of a batch read, in one statement: one answer per query, in order. */
export type BatchReads = (
  client: PoolClient,
  queries: readonly DoseReadsQuery[],
) => Promise<DoseReads[]>;

/** Where a unit of work holds its writes until they go to the database. */
export interface HeldWrites {
  add(statement: Statement): void;
}

/**
 * A unit of work for one dose of a batch: its reads shared with the batch, its writes
 * held for it alone.
 */
export type BatchUnitOfWork = (
  client: PoolClient,
  writes: HeldWrites,
  reads: (query: DoseReadsQuery) => Promise<DoseReads>,
) => RecordUnitOfWork;

type Work = (uow: RecordUnitOfWork) => Promise<unknown>;

interface Waiting {
  readonly work: Work;
  readonly locks: TransactionLocks;
  /** The RecordDose call the dose is for, if it came from one. */
  readonly caller: CallBudget | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Settled =
  | { readonly ok: true; readonly value: unknown; readonly writes: readonly Statement[] }
  | { readonly ok: false; readonly error: unknown };

// Lock keys by kind, in the order every transaction takes them (request, quota,
// beneficiary), as PgRecordStore names them.
function lockKeysOf(locks: TransactionLocks): string[] {
  return [
    ...(locks.request === undefined ? [] : [`request:${locks.request}`]),
    ...(locks.quotaOf === undefined ? [] : [`quota:${locks.quotaOf}`]),
    ...(locks.beneficiary === undefined ? [] : [`beneficiary:${locks.beneficiary}`]),
  ];
}

/** Whether the caller of a dose has gone (cancelled, past its deadline, refused). */
function callerGone(dose: Waiting): boolean {
  return dose.caller?.signal.aborted ?? false;
}

/** Runs `work` for the dose's own call (its deadline, its cancellation), or for none. */
function asCaller<T>(dose: Waiting, work: () => T): T {
  return dose.caller ? runOnBehalfOf(dose.caller, work) : outsideAnyCall(work);
}

/**
 * What a batch's transaction is bounded by: the latest deadline of its doses' calls, and
 * a signal that aborts when every one of their callers has gone; undefined when a dose
 * came from no call. One caller leaving does not end its neighbours' work.
 */
function batchBudget(batch: readonly Waiting[]): CallBudget | undefined {
  const callers = batch.map((dose) => dose.caller);
  if (!callers.every((caller): caller is CallBudget => caller !== undefined)) return undefined;
  const deadlines = callers.map((caller) => caller.deadline?.getTime());
  const latest = deadlines.every((ms): ms is number => ms !== undefined)
    ? new Date(Math.max(...deadlines))
    : undefined;
  const everyoneGone = new AbortController();
  let remaining = callers.length;
  for (const caller of callers) {
    const gone = () => {
      remaining--;
      if (remaining === 0) everyoneGone.abort(caller.signal.reason);
    };
    if (caller.signal.aborted) gone();
    else caller.signal.addEventListener('abort', gone, { once: true });
  }
  return { deadline: latest, signal: everyoneGone.signal };
}

/**
 * Group commit for RecordDose (issue 17): the doses that arrive within
 * DOSE_BATCH_WINDOW_MS (or DOSE_BATCH_MAX of them) share one PostgreSQL transaction:
 * their locks taken with BEGIN, their reads in one statement, their writes in one, then
 * one COMMIT; four round trips for the batch instead of four per dose.
 *
 * Each dose is still decided alone, on its own reads, and answered with its own result
 * or error: a dose whose work throws (a schedule violation, another payload under its
 * request id) has its writes dropped and its neighbours' kept. Doses in a batch never
 * share a lock (request id, staff quota, beneficiary): one that would waits for the next
 * batch, so no dose's reads miss a neighbour's writes, and the quota and idempotency hold
 * exactly as in a transaction of its own. Every transaction takes its advisory locks in
 * one global order (all request locks, then quota, then beneficiary, each kind sorted),
 * so batches and single transactions, on any instance, never wait on each other in a
 * ring. When a batch fails as a whole (a connection lost, a write refused), each dose
 * that had been decided runs again in a transaction of its own.
 *
 * A dose whose caller has gone (cancelled, past its deadline, refused) is abandoned
 * (issue 18): not put in a batch, its writes left out if it goes before they are sent
 * (just before COMMIT), not run again alone; its call ends with the signal's reason.
 * Once its writes are sent it stays: the dose is committed with its batch although its
 * caller may have seen DEADLINE_EXCEEDED. A caller that gave up does not know either
 * way and asks again under the same request id, and the idempotent RecordDose answers
 * it with the dose recorded, or records it then. A dose's own work (its decision, a call
 * to identity) runs for its own call; the batch's transaction for the latest deadline of
 * its doses, and it is cancelled only when all of their callers have gone.
 */
export class DoseBatcher {
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      readonly pool: Pool;
      /** The advisory-lock name of each lock key. */
      readonly lockName: (key: string) => string;
      readonly reads: BatchReads;
      readonly unitOfWork: BatchUnitOfWork;
      /** A dose alone, in a transaction of its own. */
      readonly single: (work: Work, locks: TransactionLocks) => Promise<unknown>;
      readonly logger?: Logger;
    },
  ) {}

  /** Runs `work` (which reads once, through doseReads, before it writes) in some batch. */
  submit<T>(work: (uow: RecordUnitOfWork) => Promise<T>, locks: TransactionLocks): Promise<T> {
    const caller = currentCallBudget();
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        work,
        locks,
        caller,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (this.waiting.length >= DOSE_BATCH_MAX) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), DOSE_BATCH_WINDOW_MS);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    const taken = new Set<string>();
    for (const dose of this.waiting) {
      if (callerGone(dose)) {
        this.abandon(dose);
        continue;
      }
      const keys = lockKeysOf(dose.locks);
      if (batch.length < DOSE_BATCH_MAX && keys.every((key) => !taken.has(key))) {
        batch.push(dose);
        for (const key of keys) taken.add(key);
      } else {
        later.push(dose);
      }
    }
    this.waiting = later;
    // The batch serves several calls: none of them is the one it runs for.
    outsideAnyCall(() => {
      if (later.length > 0) this.timer = setTimeout(() => this.flush(), 0);
      if (batch.length > 0) void this.run(batch);
    });
  }

  /** Ends a dose whose caller has gone with the reason it went, writing nothing. */
  private abandon(dose: Waiting): void {
    dose.reject(toVaxGuardError(dose.caller?.signal.reason));
  }

  /** A dose in a transaction of its own, for its own call, unless its caller has gone. */
  private alone(dose: Waiting): void {
    if (callerGone(dose)) {
      this.abandon(dose);
      return;
    }
    asCaller(dose, () => this.options.single(dose.work, dose.locks)).then(
      dose.resolve,
      dose.reject,
    );
  }

  private async run(batch: readonly Waiting[]): Promise<void> {
    if (batch.length === 1) {
      this.alone(batch[0] as Waiting);
      return;
    }
    let settled: Settled[] = [];
    try {
      await withTransaction(
        this.options.pool,
        async (client) => {
          settled = await this.decide(client, batch);
        },
        {
          advisoryLocks: this.lockOrder(batch),
          // The decided doses' writes as one statement, not prepared: its text differs
          // with every batch's mix, and a connection keeps each prepared text for good.
          beforeCommit: async (client) => {
            // A dose whose caller went while it was decided is left out, unwritten.
            settled = settled.map((outcome, i) => {
              const dose = batch[i] as Waiting;
              return outcome.ok && callerGone(dose)
                ? { ok: false, error: toVaxGuardError(dose.caller?.signal.reason) }
                : outcome;
            });
            const writes = settled.flatMap((outcome) => (outcome.ok ? outcome.writes : []));
            if (writes.length === 0) return;
            const { text, values } = combineWrites(writes);
            await client.query(text, values as unknown[]);
          },
          callBudget: batchBudget(batch) ?? null,
        },
      );
    } catch (error) {
      this.options.logger?.warn('a batch of doses failed; each runs again alone', {
        doses: batch.length,
        err: error,
      });
      batch.forEach((dose, i) => {
        const outcome = settled[i];
        if (outcome && !outcome.ok) dose.reject(outcome.error);
        else this.alone(dose);
      });
      return;
    }
    this.options.logger?.debug('doses committed together', { doses: batch.length });
    batch.forEach((dose, i) => {
      const outcome = settled[i] as Settled;
      if (outcome.ok) dose.resolve(outcome.value);
      else dose.reject(outcome.error);
    });
  }

  /** Every lock of the batch, each kind sorted, kinds in the one order. */
  private lockOrder(batch: readonly Waiting[]): string[] {
    const of = (pick: (locks: TransactionLocks) => string | undefined, kind: string) =>
      batch
        .map((dose) => pick(dose.locks))
        .filter((key): key is string => key !== undefined)
        .sort()
        .map((key) => this.options.lockName(`${kind}:${key}`));
    return [
      ...of((locks) => locks.request, 'request'),
      ...of((locks) => locks.quotaOf, 'quota'),
      ...of((locks) => locks.beneficiary, 'beneficiary'),
    ];
  }

  /**
   * Runs every dose's work: each asks for its reads, which go to the database together
   * once every dose has asked (or ended without asking); each then decides alone.
   */
  private async decide(client: PoolClient, batch: readonly Waiting[]): Promise<Settled[]> {
    const asked: {
      query: DoseReadsQuery;
      answer: (reads: DoseReads) => void;
      fail: (error: unknown) => void;
    }[] = [];
    let pending = batch.length;
    let readFailure: { error: unknown } | undefined;
    const readAll = async () => {
      try {
        const answers = await this.options.reads(
          client,
          asked.map((ask) => ask.query),
        );
        asked.forEach((ask, i) => ask.answer(answers[i] as DoseReads));
      } catch (error) {
        readFailure = { error };
        for (const ask of asked) ask.fail(error);
      }
    };
    const arrived = () => {
      pending--;
      if (pending === 0 && asked.length > 0) void readAll();
    };
    const settled = await Promise.all(
      batch.map(async (dose): Promise<Settled> => {
        const writes: Statement[] = [];
        let read = false;
        const held = { add: (statement: Statement) => void writes.push(statement) };
        const uow = this.options.unitOfWork(client, held, (query) => {
          if (read) throw new Error('a dose in a batch reads once, through doseReads');
          read = true;
          return new Promise<DoseReads>((answer, fail) => {
            asked.push({ query, answer, fail });
            arrived();
          });
        });
        try {
          const value = await asCaller(dose, () => dose.work(uow));
          return { ok: true, value, writes };
        } catch (error) {
          return { ok: false, error };
        } finally {
          if (!read) arrived();
        }
      }),
    );
    // The batch's reads failed: the batch fails, and each dose runs again alone.
    if (readFailure) throw readFailure.error;
    return settled;
  }
}
