// The checker: after a fault and the platform's recovery, the platform is held to the
// load generator's ledger (ledger.ts).
//
//   - Every acknowledged call is there exactly once: registrations (ListMyBeneficiaries
//     as the citizen), doses (by client_request_id and per beneficiary, in
//     vaccination-record's database: no RPC lists doses without a fresh consent grant),
//     certificates (GetCertificate again as the citizen, and the database), and the audit
//     log's entries (read as an auditor). A call that was never acknowledged may have
//     been applied or not, but at most once.
//   - No event applied twice: no event id twice in the log, and per business id
//     (transaction, token, beneficiary, dose, certificate, query) no more entries than
//     calls that could have made them.
//   - The audit log verifies (libs/dev-operator's outside verifier, every entry
//     downloaded and hashed) and its entries match the acknowledged actions one for one.
//   - Every refusal carried a status a client may retry: UNAVAILABLE; DEADLINE_EXCEEDED
//     within the call's deadline; RESOURCE_EXHAUSTED with a retry hint (a service
//     shedding load says when to come back). Never INTERNAL, UNKNOWN or another code,
//     except the answer to a retry whose earlier attempt may have been applied (a
//     confirmation's code then reads as used): that answer is right, and counted apart.
//   - Recovery: from the fault's end to the first success of each kind of call.
import { status } from '@grpc/grpc-js';
import {
  grpcAuditLogSource,
  parseLogEntry,
  verifyAuditLog,
  verifyLogPages,
  type AuditLogSource,
  type ParsedLogEntry,
  type ServedEntry,
} from '@vaxguard/dev-operator';
import { EVENTS } from '@vaxguard/event-catalogue';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { auditV1, identityV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { callAs, type World } from '@vaxguard/testing';
import pg from 'pg';
import { CALL_KINDS, type CallKind, type Ledger, type LedgerEntry } from './ledger';
import type { ChaosActors } from './load';

/** When the fault was in force, ms since the epoch. */
export interface FaultWindow {
  readonly start: number;
  readonly end: number;
}

export interface VerifyOptions {
  readonly world: World;
  readonly actors: ChaosActors;
  readonly ledger: Ledger;
  readonly fault: FaultWindow;
  /** The faults within `fault` one by one, when there were several (each one's recovery is noted). */
  readonly faults?: readonly (FaultWindow & { readonly label: string })[];
  /** The scenario's name in the table. */
  readonly scenario: string;
  /** How long the audit log may take to take in the last events (default 180 s). */
  readonly settleMs?: number;
  /** vaccination-record's and identity's database URLs, if not the platform's. */
  readonly databases?: { readonly records?: string };
}

/** What a scenario's run came to: a row of the table, and every problem found. */
export interface RunResult {
  readonly scenario: string;
  /** Attempts made (a retry counts again). */
  readonly calls: number;
  /** Attempts acknowledged. */
  readonly acknowledged: number;
  /** Attempts refused, or failed at the client. */
  readonly refused: number;
  /** Refusals by status and reason, `UNAVAILABLE` or `DEADLINE_EXCEEDED` or `…/REASON`. */
  readonly refusals: Readonly<Record<string, number>>;
  /** Acknowledged things not found afterwards (must be 0). */
  readonly lost: number;
  /** Things found more often than they were done (must be 0). */
  readonly duplicated: number;
  /** Fault end to the first success of each kind of call, ms (undefined: none after it). */
  readonly recoveryMs: Readonly<Partial<Record<CallKind, number>>>;
  /**
   * The slowest kind's recovery, ms: after the one fault, or the slowest of the faults
   * when there were several.
   */
  readonly recoveryMaxMs: number | undefined;
  /**
   * From the fault's end until the audit log was seen holding every acknowledged action
   * (an upper bound: the log is first read once the load has stopped, then every 2 s);
   * undefined when it never did.
   */
  readonly logCompleteMs: number | undefined;
  /** Each fault's recovery (its slowest kind), when there were several. */
  readonly faultRecoveries?: readonly {
    readonly label: string;
    readonly ms: number | undefined;
    /** The kind of call that succeeded again last. */
    readonly slowestKind?: CallKind;
  }[];
  /** Everything that broke a rule, one sentence each (must be empty). */
  readonly problems: readonly string[];
  /** Things worth reading that break no rule. */
  readonly notes: readonly string[];
}

/** Slack over a call's deadline for the client to report DEADLINE_EXCEEDED. */
const DEADLINE_SLACK_MS = 1_000;

type Entry = ParsedLogEntry;

/** The audit source, recording every entry it serves the verifier. */
function recordingSource(source: AuditLogSource, served: Map<number, ServedEntry>): AuditLogSource {
  return {
    signedCheckpoint: () => source.signedCheckpoint(),
    consistencyProof: (a, b) => source.consistencyProof(a, b),
    inclusionProof: (a, b) => source.inclusionProof(a, b),
    async entries(start, end) {
      const entries = await source.entries(start, end);
      for (const entry of entries) served.set(entry.index, entry);
      return entries;
    },
  };
}

function decodeField<T>(entry: Entry, codec: { decode(bytes: Uint8Array): T }): T {
  return codec.decode(entry.payload.value);
}

/** Counts of a business id's entries. */
function countBy(entries: readonly Entry[], keyOf: (entry: Entry) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    const key = keyOf(entry);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Whether an attempt's refusal is one a client may retry, and why not when it is not. */
export function refusalProblem(entry: LedgerEntry): string | undefined {
  const outcome = entry.outcome;
  if (outcome.acknowledged) return undefined;
  const took = entry.endedAt - entry.startedAt;
  switch (outcome.code) {
    case 'UNAVAILABLE':
      return undefined;
    case 'DEADLINE_EXCEEDED':
      return took <= entry.deadlineMs + DEADLINE_SLACK_MS
        ? undefined
        : `DEADLINE_EXCEEDED after ${took} ms, past its ${entry.deadlineMs} ms deadline`;
    case 'RESOURCE_EXHAUSTED':
      return outcome.retryAfterMs !== undefined
        ? undefined
        : 'RESOURCE_EXHAUSTED without a retry hint';
    default: {
      const raw = outcome.grpcStatus !== undefined ? ` (gRPC ${status[outcome.grpcStatus]})` : '';
      return `${outcome.code}${raw}${outcome.reason ? ` ${outcome.reason}` : ''}: ${outcome.message}`;
    }
  }
}

/** Whether an earlier attempt with the same key may have been applied (no clear answer). */
function afterAmbiguous(entry: LedgerEntry, byKey: Map<string, LedgerEntry[]>): boolean {
  const earlier = (byKey.get(`${entry.kind}|${entry.key}`) ?? []).filter(
    (other) => other.attempt < entry.attempt,
  );
  return earlier.some(
    (other) =>
      !other.outcome.acknowledged &&
      (other.outcome.code === 'UNAVAILABLE' || other.outcome.code === 'DEADLINE_EXCEEDED'),
  );
}

/** Fault end to the first acknowledged call of each kind that started after it. */
export function recoveryTimes(
  ledger: Ledger,
  fault: FaultWindow,
): Partial<Record<CallKind, number>> {
  const times: Partial<Record<CallKind, number>> = {};
  for (const entry of ledger.acknowledged()) {
    if (entry.startedAt < fault.end) continue;
    const took = entry.endedAt - fault.end;
    const known = times[entry.kind];
    if (known === undefined || took < known) times[entry.kind] = took;
  }
  return times;
}

/**
 * One fault of several is recovered from when every kind of call it made fail (refused
 * while it lasted) has succeeded again, counted from its end; a kind it never touched
 * may simply not come round before the next fault (a journey's calls follow one
 * another). `ms` is undefined while a kind it made fail has not succeeded again
 * (`slowestKind` names it), and 0 when it made nothing fail.
 */
export function faultRecovery(
  ledger: Ledger,
  window: FaultWindow,
): { ms: number | undefined; slowestKind?: CallKind } {
  const touched = new Set(
    ledger
      .refused()
      .filter((entry) => entry.endedAt >= window.start && entry.startedAt <= window.end)
      .map((entry) => entry.kind),
  );
  const times = recoveryTimes(ledger, window);
  const kinds = CALL_KINDS.filter((kind) => touched.has(kind));
  const last = [...kinds].sort((a, b) => (times[b] ?? Infinity) - (times[a] ?? Infinity))[0];
  const recovered = kinds.every((kind) => times[kind] !== undefined);
  return {
    ms: recovered ? Math.max(0, ...kinds.map((kind) => times[kind] ?? 0)) : undefined,
    ...(last ? { slowestKind: last } : {}),
  };
}

/** Runs every check; never throws for a broken rule (it is a problem in the result). */
export async function verifyRun(options: VerifyOptions): Promise<RunResult> {
  const { world, actors, ledger, fault } = options;
  const problems: string[] = [];
  const notes: string[] = [];
  let lost = 0;
  let duplicated = 0;
  let logCompleteMs: number | undefined;
  const entries = ledger.entries;
  const acked = (kind: CallKind) => ledger.acknowledged(kind);

  // ---- Refusals ------------------------------------------------------------------------
  const byKey = new Map<string, LedgerEntry[]>();
  for (const entry of entries) {
    const key = `${entry.kind}|${entry.key}`;
    byKey.set(key, [...(byKey.get(key) ?? []), entry]);
  }
  const refusals: Record<string, number> = {};
  let answersToRetries = 0;
  for (const entry of ledger.refused()) {
    const { outcome } = entry;
    if (outcome.acknowledged) continue;
    const name = outcome.reason ? `${outcome.code}/${outcome.reason}` : outcome.code;
    refusals[name] = (refusals[name] ?? 0) + 1;
    const problem = refusalProblem(entry);
    if (!problem) continue;
    const internal = outcome.code === 'INTERNAL' || outcome.code === 'UNKNOWN';
    if (!internal && afterAmbiguous(entry, byKey)) {
      answersToRetries++;
      continue;
    }
    problems.push(`${entry.kind} ${entry.key} attempt ${entry.attempt}: ${problem}`);
  }
  if (answersToRetries > 0) {
    notes.push(
      `${answersToRetries} retries answered that an earlier attempt (no answer) had been applied`,
    );
  }
  for (const note of ledger.journeyNotes) {
    problems.push(`journey ${note.journey}: ${note.note}`);
    if (note.note.startsWith('no SMS')) lost++;
  }

  // ---- Registrations, through the citizen's own list --------------------------------
  const records = createServiceClient(vaccinationRecordV1.VaccinationRecordServiceService, {
    address: world.platform.address('vaccination-record'),
    clientId: world.platform.operator.clientId,
    secret: world.platform.operator.secret,
    deadlineMs: 15_000,
  });
  const identity = createServiceClient(identityV1.IdentityServiceService, {
    address: world.platform.address('identity'),
    clientId: world.platform.operator.clientId,
    secret: world.platform.operator.secret,
    deadlineMs: 15_000,
  });
  const audit = createServiceClient(auditV1.AuditServiceService, {
    address: world.platform.address('audit'),
    clientId: world.platform.operator.clientId,
    secret: world.platform.operator.secret,
    deadlineMs: 30_000,
  });
  const recordsDb = new pg.Client({
    connectionString: options.databases?.records ?? world.platform.databases['vaccination-record'],
  });
  await recordsDb.connect();
  try {
    const registeredRefs = new Map<number, string>();
    for (const entry of acked('register')) {
      registeredRefs.set(entry.journey, entry.outcome.ids.beneficiaryRef ?? '');
    }
    for (const [journey, ref] of registeredRefs) {
      const citizen = ledger.citizenOf(journey);
      if (!citizen?.token) continue;
      try {
        const { beneficiaries } = await identity.call(
          'listMyBeneficiaries',
          {},
          callAs(citizen.token, true),
        );
        const refs = beneficiaries.map((b) => b.beneficiaryRef);
        const found = refs.filter((r) => r === ref).length;
        if (found === 0) {
          lost++;
          problems.push(`registration of journey ${journey} acknowledged (${ref}) but not listed`);
        }
        // Each journey registers at most once on its own mobile.
        if (refs.length > 1 || found > 1) {
          duplicated++;
          problems.push(`journey ${journey}'s mobile lists ${refs.length} beneficiaries, not 1`);
        }
      } catch (error) {
        notes.push(`journey ${journey}'s registration not listed: ${String(error)}`);
      }
    }

    // ---- Doses, by client_request_id and per beneficiary ------------------------------
    const doseKeys = [
      ...new Set(entries.filter((e) => e.kind === 'record-dose').map((e) => e.key)),
    ];
    const { rows: doseRows } = await recordsDb.query<{
      client_request_id: string;
      dose_id: string;
      beneficiary_ref: string;
    }>(
      'SELECT client_request_id, dose_id, beneficiary_ref FROM doses WHERE client_request_id = ANY($1)',
      [doseKeys],
    );
    const dosesByKey = new Map<string, string[]>();
    for (const row of doseRows) {
      dosesByKey.set(row.client_request_id, [
        ...(dosesByKey.get(row.client_request_id) ?? []),
        row.dose_id,
      ]);
    }
    const ackedDoses = new Map<string, string>();
    for (const entry of acked('record-dose')) {
      const doseId = entry.outcome.ids.doseId ?? '';
      const earlier = ackedDoses.get(entry.key);
      if (earlier !== undefined && earlier !== doseId) {
        duplicated++;
        problems.push(
          `RecordDose ${entry.key} acknowledged twice with doses ${earlier} and ${doseId}`,
        );
      }
      ackedDoses.set(entry.key, doseId);
    }
    for (const [key, doseId] of ackedDoses) {
      const found = dosesByKey.get(key) ?? [];
      if (!found.includes(doseId)) {
        lost++;
        problems.push(`dose ${doseId} (${key}) acknowledged but not in the register`);
      }
    }
    for (const [key, found] of dosesByKey) {
      if (found.length > 1) {
        duplicated++;
        problems.push(`RecordDose ${key} recorded ${found.length} doses`);
      }
    }
    const doseRefs = [...new Set(acked('consent').map((e) => e.outcome.ids.beneficiaryRef ?? ''))];
    const { rows: perBeneficiary } = await recordsDb.query<{ beneficiary_ref: string; n: string }>(
      'SELECT beneficiary_ref, count(*) AS n FROM doses WHERE beneficiary_ref = ANY($1) GROUP BY beneficiary_ref',
      [doseRefs],
    );
    for (const row of perBeneficiary) {
      if (Number(row.n) > 1) {
        duplicated++;
        problems.push(
          `beneficiary ${row.beneficiary_ref} has ${row.n} doses; the load recorded one`,
        );
      }
    }

    // ---- Certificates -----------------------------------------------------------------
    const certificateIds = new Map<string, { ref: string; journey: number }>();
    for (const entry of acked('certificate')) {
      certificateIds.set(entry.outcome.ids.certificateId ?? '', {
        ref: entry.outcome.ids.beneficiaryRef ?? '',
        journey: entry.journey,
      });
    }
    const { rows: certificateRows } = await recordsDb.query<{
      certificate_id: string;
      revoked_at: Date | null;
    }>('SELECT certificate_id, revoked_at FROM certificates WHERE certificate_id = ANY($1)', [
      [...certificateIds.keys()],
    ]);
    const liveCertificates = new Set(
      certificateRows.filter((row) => row.revoked_at === null).map((row) => row.certificate_id),
    );
    for (const [certificateId, { ref, journey }] of certificateIds) {
      if (!liveCertificates.has(certificateId)) {
        lost++;
        problems.push(`certificate ${certificateId} acknowledged but not live in the register`);
        continue;
      }
      const citizen = ledger.citizenOf(journey);
      if (!citizen?.token) continue;
      try {
        const again = await records.call(
          'getCertificate',
          { beneficiaryRef: ref },
          callAs(citizen.token, true),
        );
        if (again.certificateId !== certificateId) {
          problems.push(
            `GetCertificate for ${ref} now answers ${again.certificateId}, not the acknowledged ${certificateId}`,
          );
        }
      } catch (error) {
        notes.push(`certificate ${certificateId} not read again: ${String(error)}`);
      }
    }

    // ---- The audit log: it verifies, and its entries match the calls one for one ------
    const asAuditor = async <T>(use: (token: string) => Promise<T>) => use(actors.auditor.session);
    const served = new Map<number, ServedEntry>();
    const source = recordingSource(grpcAuditLogSource(audit, asAuditor), served);
    const verifierKey = world.platform.description.auditLog.verifierKey;
    const expectations = logExpectations(ledger);
    const settleFrom = Date.now();
    const settleUntil = settleFrom + (options.settleMs ?? 180_000);
    let logEntries: Entry[] = [];
    let missing: string[] = [];
    let lastMissing: string[] = [];
    for (;;) {
      const reading = Date.now();
      served.clear();
      const verdict = await verifyAuditLog({ source, verifierKey, full: true });
      if (verdict.outcome !== 'verified') {
        problems.push(
          `the audit log does not verify: ${verdict.tampering.kind} ${verdict.tampering.description}`,
        );
        break;
      }
      logEntries = [...served.values()]
        .filter((entry) => entry.index < verdict.checkpoint.size)
        .map((entry) =>
          parseLogEntry({
            index: String(entry.index),
            entry: Buffer.from(entry.entry),
            eventId: '',
          }),
        );
      missing = expectations.missingFrom(logEntries);
      if (missing.length === 0 || Date.now() > settleUntil) {
        const waited = Date.now() - settleFrom;
        if (missing.length === 0) logCompleteMs = reading - fault.end;
        if (missing.length === 0 && waited > 5_000) {
          notes.push(
            `the audit log held every acknowledged action ${(waited / 1_000).toFixed(1)} s after the checks began (last missing: ${lastMissing.slice(0, 3).join('; ')})`,
          );
        }
        break;
      }
      lastMissing = missing;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    const report = await verifyLogPages((request) =>
      audit.call('verifyLog', request, callAs(actors.auditor.session, true)),
    );
    if (!report.ok) problems.push('VerifyLog does not verify the log');
    lost += missing.length;
    problems.push(...missing.map((m) => `not in the audit log: ${m}`));
    const extra = expectations.extraIn(logEntries);
    duplicated += extra.length;
    problems.push(...extra.map((m) => `in the audit log more often than done: ${m}`));
    const eventIds = countBy(logEntries, (entry) => entry.eventId);
    for (const [eventId, count] of eventIds) {
      if (count > 1) {
        duplicated++;
        problems.push(`event ${eventId} is in the audit log ${count} times`);
      }
    }
  } finally {
    await recordsDb.end();
    records.close();
    identity.close();
    audit.close();
  }

  // ---- Recovery -----------------------------------------------------------------------
  const recoveryMs = recoveryTimes(ledger, fault);
  const ranAfter = new Set(entries.filter((e) => e.startedAt >= fault.end).map((e) => e.kind));
  for (const kind of CALL_KINDS) {
    if (ranAfter.has(kind) && recoveryMs[kind] === undefined) {
      problems.push(`no ${kind} call succeeded after the fault ended`);
    }
  }
  const slowest = (times: Partial<Record<CallKind, number>>) => {
    const values = Object.values(times);
    return values.length > 0 ? Math.max(...values) : undefined;
  };
  const faultRecoveries = options.faults?.map((window) => ({
    label: window.label,
    ...faultRecovery(ledger, window),
  }));
  for (const recovery of faultRecoveries ?? []) {
    if (recovery.ms === undefined) {
      problems.push(`after ${recovery.label}: ${recovery.slowestKind} never succeeded again`);
    }
  }
  const perFault = (faultRecoveries ?? [])
    .map((recovery) => recovery.ms)
    .filter((ms): ms is number => ms !== undefined);
  const recoveryMaxMs = faultRecoveries
    ? perFault.length > 0
      ? Math.max(...perFault)
      : undefined
    : slowest(recoveryMs);
  for (const recovery of faultRecoveries ?? []) {
    notes.push(
      recovery.slowestKind
        ? `after ${recovery.label}: every kind of call it made fail succeeded again in ${recovery.ms ?? '-'} ms (${recovery.slowestKind} last)`
        : `after ${recovery.label}: no call was refused`,
    );
  }
  return {
    scenario: options.scenario,
    calls: entries.length,
    acknowledged: ledger.acknowledged().length,
    refused: ledger.refused().length,
    refusals,
    lost,
    duplicated,
    recoveryMs,
    recoveryMaxMs,
    logCompleteMs,
    ...(faultRecoveries ? { faultRecoveries } : {}),
    problems,
    notes,
  };
}

/**
 * What the log must hold for the ledger: per business id, at least the acknowledged
 * calls' entries (exactly one each) and at most one per call that may have happened.
 */
export function logExpectations(ledger: Ledger) {
  interface Expectation {
    readonly label: string;
    readonly type: string;
    readonly keyOf: (entry: Entry) => string | undefined;
    /** Keys that must be there once. */
    readonly must: Set<string>;
    /** Keys that may be there at most once (acknowledged or not). */
    readonly may: Set<string>;
  }
  const expectations: Expectation[] = [];
  const add = (
    label: string,
    type: string,
    keyOf: Expectation['keyOf'],
    must: Iterable<string>,
    may: Iterable<string> = [],
  ) => {
    const mustSet = new Set(must);
    expectations.push({ label, type, keyOf, must: mustSet, may: new Set([...mustSet, ...may]) });
  };
  const ids = (
    kind: CallKind,
    pick: (e: LedgerEntry & { outcome: { acknowledged: true } }) => string | undefined,
  ) =>
    ledger
      .acknowledged(kind)
      .map(pick)
      .filter((id): id is string => Boolean(id));
  // A code sent: its transaction's first otp.requested.
  add(
    'GenerateOtp',
    EVENTS.otpRequested.name,
    (entry) => {
      const payload = decodeField(entry, EVENTS.otpRequested.payload);
      return payload.sendNumber === 1 ? payload.txnId : undefined;
    },
    ids('otp.generate', (e) => e.outcome.ids.txnId),
  );
  // A sign-in: otp.confirmed naming the token issued.
  add(
    'ConfirmOtp',
    EVENTS.otpConfirmed.name,
    (entry) => decodeField(entry, EVENTS.otpConfirmed.payload).tokenId,
    ids('otp.confirm', (e) => e.outcome.ids.tokenId),
  );
  // A registration: beneficiary.registered about the beneficiary.
  add(
    'RegisterBeneficiary',
    EVENTS.beneficiaryRegistered.name,
    (entry) => entry.subject.ref,
    ids('register', (e) => e.outcome.ids.beneficiaryRef),
  );
  // A dose: dose.recorded naming it; one per beneficiary the load reached (each journey
  // records one dose), acknowledged or not.
  add(
    'RecordDose',
    EVENTS.doseRecorded.name,
    (entry) => entry.subject.ref,
    ids('record-dose', (e) => e.outcome.ids.beneficiaryRef),
    ids('consent', (e) => e.outcome.ids.beneficiaryRef),
  );
  // A certificate: certificate.issued naming it; at most one per beneficiary reached.
  add(
    'GetCertificate',
    EVENTS.certificateIssued.name,
    (entry) => entry.subject.ref,
    ids('certificate', (e) => e.outcome.ids.beneficiaryRef),
    ids('record-dose', (e) => e.outcome.ids.beneficiaryRef),
  );
  // An auditor's query: audit.queried with its unique `from`, each attempt its own.
  add(
    'QueryEntries',
    EVENTS.auditQueried.name,
    (entry) => decodeField(entry, EVENTS.auditQueried.payload).from?.toISOString(),
    ids('audit-query', (e) => e.key),
    ledger.entries.filter((e) => e.kind === 'audit-query').map((e) => e.key),
  );
  const acknowledgedDoseIds = new Set(ids('record-dose', (e) => e.outcome.ids.doseId));

  /** How many of the log's entries of the expectation's type name each key. */
  const countsOf = (expectation: Expectation, entries: readonly Entry[]) =>
    countBy(
      entries.filter((entry) => entry.type === expectation.type),
      (entry) => expectation.keyOf(entry) ?? '',
    );

  return {
    missingFrom(entries: readonly Entry[]): string[] {
      const missing: string[] = [];
      for (const expectation of expectations) {
        const counts = countsOf(expectation, entries);
        for (const key of expectation.must) {
          if (!counts.get(key)) missing.push(`${expectation.label} ${key} (${expectation.type})`);
        }
      }
      // The dose recorded is the one acknowledged, not another for the same beneficiary.
      const recorded = new Set(
        entries
          .filter((entry) => entry.type === EVENTS.doseRecorded.name)
          .map((entry) => decodeField(entry, EVENTS.doseRecorded.payload).doseId),
      );
      for (const doseId of acknowledgedDoseIds) {
        if (!recorded.has(doseId))
          missing.push(`RecordDose ${doseId} (${EVENTS.doseRecorded.name})`);
      }
      return [...new Set(missing)];
    },
    extraIn(entries: readonly Entry[]): string[] {
      const extra: string[] = [];
      for (const expectation of expectations) {
        const counts = countsOf(expectation, entries);
        for (const key of expectation.may) {
          const count = counts.get(key) ?? 0;
          if (count > 1)
            extra.push(`${expectation.label} ${key}: ${count} ${expectation.type} entries`);
        }
      }
      return extra;
    },
  };
}
