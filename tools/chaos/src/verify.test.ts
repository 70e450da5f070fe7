import { type ParsedLogEntry } from '@vaxguard/dev-operator';
import { EVENTS, type EventDefinition } from '@vaxguard/event-catalogue';
import { describe, expect, it } from 'vitest';
import { Ledger, type CallKind, type Outcome } from './ledger';
import { faultRecovery, logExpectations, recoveryTimes, refusalProblem } from './verify';

const REF = 'bnf_aaaaaaaaaaaaaaaaaaaaaaaaaa';

function attempt(
  ledger: Ledger,
  kind: CallKind,
  key: string,
  outcome: Outcome,
  times: { startedAt?: number; endedAt?: number; attempt?: number } = {},
) {
  const entry = {
    seq: ledger.takeSeq(),
    kind,
    key,
    attempt: times.attempt ?? 1,
    journey: 0,
    startedAt: times.startedAt ?? 0,
    endedAt: times.endedAt ?? 10,
    deadlineMs: 4_000,
    outcome,
  };
  ledger.record(entry);
  return entry;
}

let index = 0;
function logEntry<T>(
  definition: EventDefinition<string, T>,
  payload: T,
  ref = REF,
): ParsedLogEntry {
  const codec = definition.payload as unknown as {
    encode(message: T): { finish(): Uint8Array };
  };
  return {
    index: index++,
    eventId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    type: definition.name,
    producer: definition.producer,
    occurredAt: new Date(0).toISOString(),
    actor: { kind: 'ACTOR_KIND_STAFF', principalId: 'stf_x', clientId: 'c' },
    subject: { kind: 'SUBJECT_KIND_BENEFICIARY', ref },
    payload: { typeUrl: definition.typeUrl, value: Buffer.from(codec.encode(payload).finish()) },
  };
}

const refused = (code: string, extra: Partial<Extract<Outcome, { acknowledged: false }>> = {}) =>
  ({ acknowledged: false, code, message: 'no', ...extra }) as const;

describe('refusalProblem', () => {
  const ledger = new Ledger();
  it('accepts UNAVAILABLE, DEADLINE_EXCEEDED within the deadline, RESOURCE_EXHAUSTED with a hint', () => {
    expect(
      refusalProblem(attempt(ledger, 'register', 'a', refused('UNAVAILABLE'))),
    ).toBeUndefined();
    expect(
      refusalProblem(
        attempt(ledger, 'register', 'b', refused('DEADLINE_EXCEEDED'), { endedAt: 4_500 }),
      ),
    ).toBeUndefined();
    expect(
      refusalProblem(
        attempt(ledger, 'register', 'c', refused('RESOURCE_EXHAUSTED', { retryAfterMs: 100 })),
      ),
    ).toBeUndefined();
  });

  it('names DEADLINE_EXCEEDED past the deadline, RESOURCE_EXHAUSTED without a hint, INTERNAL and UNKNOWN', () => {
    expect(
      refusalProblem(
        attempt(ledger, 'register', 'd', refused('DEADLINE_EXCEEDED'), { endedAt: 9_000 }),
      ),
    ).toMatch(/past its 4000 ms deadline/);
    expect(refusalProblem(attempt(ledger, 'register', 'e', refused('RESOURCE_EXHAUSTED')))).toMatch(
      /without a retry hint/,
    );
    expect(
      refusalProblem(attempt(ledger, 'register', 'f', refused('INTERNAL', { grpcStatus: 2 }))),
    ).toMatch(/^INTERNAL \(gRPC UNKNOWN\)/);
    expect(
      refusalProblem(
        attempt(ledger, 'register', 'g', refused('FAILED_PRECONDITION', { reason: 'X' })),
      ),
    ).toMatch(/^FAILED_PRECONDITION X/);
  });
});

describe('recoveryTimes', () => {
  it('counts from the fault end to the end of the first success of each kind started after it', () => {
    const ledger = new Ledger();
    const ok = { acknowledged: true, ids: {} } as const;
    attempt(ledger, 'register', 'a', ok, { startedAt: 500, endedAt: 1_500 });
    attempt(ledger, 'register', 'b', refused('UNAVAILABLE'), { startedAt: 1_100, endedAt: 1_200 });
    attempt(ledger, 'register', 'c', ok, { startedAt: 1_300, endedAt: 1_700 });
    attempt(ledger, 'consent', 'd', ok, { startedAt: 1_050, endedAt: 1_090 });
    expect(recoveryTimes(ledger, { start: 0, end: 1_000 })).toEqual({ register: 700, consent: 90 });
  });
});

describe('faultRecovery', () => {
  const ok = { acknowledged: true, ids: {} } as const;
  it('waits for the kinds the fault made fail, not for those it never touched', () => {
    const ledger = new Ledger();
    attempt(ledger, 'record-dose', 'a', refused('DEADLINE_EXCEEDED'), {
      startedAt: 100,
      endedAt: 4_100,
    });
    attempt(ledger, 'record-dose', 'a', ok, { startedAt: 5_000, endedAt: 5_300, attempt: 2 });
    // consent comes round only later (the next fault's business): not waited for.
    attempt(ledger, 'consent', 'b', ok, { startedAt: 15_000, endedAt: 15_100 });
    expect(faultRecovery(ledger, { start: 0, end: 4_500 })).toEqual({
      ms: 800,
      slowestKind: 'record-dose',
    });
  });

  it('names a kind that never succeeded again, and is 0 for a fault that made nothing fail', () => {
    const ledger = new Ledger();
    attempt(ledger, 'certificate', 'c', refused('UNAVAILABLE'), { startedAt: 100, endedAt: 200 });
    expect(faultRecovery(ledger, { start: 0, end: 1_000 })).toEqual({
      ms: undefined,
      slowestKind: 'certificate',
    });
    expect(faultRecovery(new Ledger(), { start: 0, end: 1_000 })).toEqual({ ms: 0 });
  });
});

describe('logExpectations', () => {
  const doseId = 'dose_aaaaaaaaaaaaaaaaaaaaaaaaaa';
  function ledgerWithDose() {
    const ledger = new Ledger();
    attempt(ledger, 'consent', REF, { acknowledged: true, ids: { beneficiaryRef: REF } });
    attempt(ledger, 'record-dose', 'req-1', refused('UNAVAILABLE'));
    attempt(
      ledger,
      'record-dose',
      'req-1',
      { acknowledged: true, ids: { beneficiaryRef: REF, doseId } },
      { attempt: 2 },
    );
    return ledger;
  }
  const recorded = (id: string) =>
    logEntry(EVENTS.doseRecorded, {
      doseId: id,
      vaccineCode: 'COVISHIELD',
      doseNumber: 1,
      centreId: 'ctr',
      grantId: 'g',
    });

  it('an acknowledged dose is missing from a log without it, and found once in a log with it', () => {
    const expectations = logExpectations(ledgerWithDose());
    expect(expectations.missingFrom([])).toEqual([
      `RecordDose ${REF} (dose.recorded)`,
      `RecordDose ${doseId} (dose.recorded)`,
    ]);
    const log = [recorded(doseId)];
    expect(expectations.missingFrom(log)).toEqual([]);
    expect(expectations.extraIn(log)).toEqual([]);
  });

  it('a second dose.recorded for the beneficiary (a retry applied twice) is named', () => {
    const expectations = logExpectations(ledgerWithDose());
    const log = [recorded(doseId), recorded('dose_bbbbbbbbbbbbbbbbbbbbbbbbbb')];
    expect(expectations.extraIn(log)).toEqual([`RecordDose ${REF}: 2 dose.recorded entries`]);
  });

  it('each audit query attempt may be in the log once; an acknowledged one must be', () => {
    const ledger = new Ledger();
    const first = new Date(Date.UTC(2020, 0, 1, 0, 0, 0, 1));
    const second = new Date(Date.UTC(2020, 0, 1, 0, 0, 0, 2));
    attempt(ledger, 'audit-query', first.toISOString(), refused('DEADLINE_EXCEEDED'));
    attempt(ledger, 'audit-query', second.toISOString(), {
      acknowledged: true,
      ids: { beneficiaryRef: REF },
    });
    const queried = (from: Date) =>
      logEntry(EVENTS.auditQueried, {
        actorId: '',
        subjectRef: REF,
        eventType: '',
        from,
        entriesReturned: 0,
        query: 'QueryEntries',
        unacknowledgedOnly: false,
        ended: '',
      });
    const expectations = logExpectations(ledger);
    expect(expectations.missingFrom([queried(first)])).toEqual([
      `QueryEntries ${second.toISOString()} (audit.queried)`,
    ]);
    expect(expectations.extraIn([queried(first), queried(second)])).toEqual([]);
    expect(expectations.extraIn([queried(second), queried(second)])).toEqual([
      `QueryEntries ${second.toISOString()}: 2 audit.queried entries`,
    ]);
  });
});
