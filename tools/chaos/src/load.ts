// A steady mixed load on a World (libs/testing's whole platform as real processes), as
// real clients make it: citizens sign in with an OTP, register a beneficiary, a
// vaccinator takes their consent (the beneficiary's secret code) and records a dose, the
// citizen fetches the certificate, an auditor queries the log about them. Each call has a
// deadline; each attempt goes into the Ledger with what it was told. A call that was not
// acknowledged with a status a client may retry (UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED) is retried as a real client would: with the same idempotency key
// where the call has one (RecordDose's client_request_id; a confirmation's transaction;
// reads), never blindly where it has none (RegisterBeneficiary ends its journey unknown).
//
//   const world = await startChaosWorld();
//   const actors = await prepareActors(world);
//   const load = startLoad(world, actors, { callsPerSecond: 25 });
//   ... inject a fault, note its start and end ...
//   const ledger = await load.stop();
//   const result = await verifyRun({ world, actors, ledger, fault, scenario: '…' });
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { createServiceClient, type ServiceClient } from '@vaxguard/grpc-kit';
import { isVaxGuardError } from '@vaxguard/errors';
import { auditV1, identityStaffV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { callAs, startWorld, type World } from '@vaxguard/testing';
import { CALL_KINDS, Ledger, type AcknowledgedIds, type CallKind, type Outcome } from './ledger';
import { spreadOver } from './spread';

/**
 * What the platform must allow for a steady load by one client application and one
 * vaccinator: the OTP client quota, the staff member's hourly beneficiaries, and the
 * audit service's anomaly thresholds (a vaccinator reading hundreds of beneficiaries an
 * hour at night would rightly be suspended, which is not the fault under test).
 */
export const CHAOS_PLATFORM_ENV = {
  otp: { OTP_CLIENT_QUOTA_PER_MINUTE: '1000000' },
  'vaccination-record': { STAFF_BENEFICIARIES_PER_HOUR: '10000' },
  audit: {
    AUDIT_ANOMALY_STAFF_READS_PER_HOUR: '100000',
    AUDIT_ANOMALY_STAFF_READS_PER_DAY: '1000000',
    AUDIT_ANOMALY_CONSENT_REQUESTS_PER_HOUR: '1000000',
    AUDIT_ANOMALY_OFF_HOURS_READS_PER_HOUR: '1000000',
    AUDIT_ANOMALY_PARTNER_SURGE_MINIMUM: '1000000',
  },
} as const;

/** A World for chaos scenarios: startWorld with CHAOS_PLATFORM_ENV (merged into `env`). */
export async function startChaosWorld(
  options: Parameters<typeof startWorld>[0] = {},
): Promise<World> {
  const env: Record<string, Record<string, string>> = {};
  for (const service of ['otp', 'identity', 'vaccination-record', 'audit'] as const) {
    env[service] = {
      ...(CHAOS_PLATFORM_ENV as Partial<Record<string, Record<string, string>>>)[service],
      ...options.env?.[service],
    };
  }
  return startWorld({ ...options, env });
}

/** The staff a load acts through: one test's own centre, vaccinator and auditor. */
export interface ChaosActors {
  readonly centreId: string;
  readonly vaccinator: { readonly id: string; readonly session: string };
  readonly auditor: { readonly id: string; readonly session: string };
}

/** A fresh centre, vaccinator and auditor, signed in (sessions live 15 minutes). */
export async function prepareActors(world: World): Promise<ChaosActors> {
  const centreId = await world.centre();
  const vaccinator = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR, centreId);
  const auditor = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
  return {
    centreId,
    vaccinator: { id: vaccinator.id, session: vaccinator.session },
    auditor: { id: auditor.id, session: auditor.session },
  };
}

export interface LoadOptions {
  /** Calls started per second, all kinds together (default 25). */
  readonly callsPerSecond?: number;
  /** Citizens' journeys in flight at once (default 6). */
  readonly journeys?: number;
  /** Each attempt's deadline (default 4 s). */
  readonly deadlineMs?: number;
  /**
   * After `stop()`, how long a journey may go on retrying the call it is in before it
   * gives up (default 60 s); no journey starts a new call after stop() otherwise.
   */
  readonly drainMs?: number;
  /**
   * The services' addresses, where they are not the platform's own (a proxy, say); several
   * for a service that runs as several instances: calls are spread over them (spread.ts).
   */
  readonly addresses?: Partial<
    Record<'otp' | 'identity' | 'vaccination-record' | 'audit', string | readonly string[]>
  >;
}

/** Codes a client retries: the service could not answer now, and said so. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
]);

/** A running load; `stop()` ends it and returns its ledger. */
export interface RunningLoad {
  readonly ledger: Ledger;
  /** Journeys started so far. */
  readonly journeysStarted: number;
  /** Resolves once `count` more calls have been acknowledged (a scenario waits for traffic). */
  acknowledgedMore(count: number, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once a call of every kind started at or after `since` (ms since the epoch)
   * has been acknowledged, or `timeoutMs` passed (then with the kinds still waiting).
   */
  everyKindAcknowledgedSince(since: number, timeoutMs: number): Promise<CallKind[]>;
  /** Stops starting journeys, lets the calls in flight finish (within drainMs), closes. */
  stop(): Promise<Ledger>;
}

const VACCINE = 'COVISHIELD';
const BATCH = 'CS21044';
/** Jittered backoff between a client's attempts: 100 ms doubling to 2 s. */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 2_000;

/** Today in India Standard Time, as RecordDose's administered_on wants it. */
function indianToday(): string {
  return new Date(Date.now() + 5.5 * 3_600_000).toISOString().slice(0, 10);
}

/** A VaxGuard token's id (its `jti`), read without verifying: the audit log names it. */
export function tokenIdOf(token: string): string {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
    jti?: string;
  };
  return claims.jti ?? '';
}

function refusalOutcome(error: unknown): Outcome {
  if (isVaxGuardError(error)) {
    const cause = error.cause as { code?: unknown } | undefined;
    return {
      acknowledged: false,
      code: error.code,
      ...(typeof cause?.code === 'number' ? { grpcStatus: cause.code } : {}),
      ...(error.reason === undefined ? {} : { reason: error.reason }),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      message: error.message,
    };
  }
  return {
    acknowledged: false,
    code: 'CLIENT_ERROR',
    message: error instanceof Error ? error.message : String(error),
  };
}

/**
 * Codes from the dev SMS inbox for many journeys at once: one reader of the file for all
 * of them, tolerant of a line a killed OTP process left half written.
 */
class SmsWatcher {
  private readonly codes = new Map<string, string>();
  private reading: Promise<void> | undefined;

  constructor(private readonly file: string) {}

  async code(txnId: string, timeoutMs: number): Promise<string | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.codes.get(txnId);
      if (found) return found;
      if (Date.now() > until) return undefined;
      this.reading ??= this.read().finally(() => (this.reading = undefined));
      await this.reading;
      if (!this.codes.has(txnId)) await sleep(150);
    }
  }

  private async read(): Promise<void> {
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      try {
        const sms = JSON.parse(line) as { txnId?: string; code?: string };
        if (sms.txnId && sms.code) this.codes.set(sms.txnId, sms.code);
      } catch {
        // an empty or half-written line
      }
    }
  }
}

/** Spaces the starts of calls evenly at a rate, across every journey. */
class Pacer {
  private next = 0;
  constructor(private readonly intervalMs: number) {}

  async turn(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await sleep(at - now);
  }
}

type Clients = {
  otp: ServiceClient<typeof otpV1.OtpServiceService>;
  identity: ServiceClient<typeof identityV1.IdentityServiceService>;
  records: ServiceClient<typeof vaccinationRecordV1.VaccinationRecordServiceService>;
  audit: ServiceClient<typeof auditV1.AuditServiceService>;
};

/**
 * Clients that make one attempt per call (the load retries itself, and records each
 * attempt), as the platform's operator client application.
 */
function singleAttemptClients(world: World, options: LoadOptions): Clients {
  const { platform } = world;
  const base = {
    clientId: platform.operator.clientId,
    secret: platform.operator.secret,
    deadlineMs: options.deadlineMs ?? 4_000,
    retry: { maxAttempts: 1 },
  };
  const clientOf = <D extends ServiceDefinition>(
    definition: D,
    service: 'otp' | 'identity' | 'vaccination-record' | 'audit',
  ): ServiceClient<D> => {
    const where = options.addresses?.[service] ?? platform.address(service);
    const open = (address: string) => createServiceClient(definition, { ...base, address });
    return typeof where === 'string' ? open(where) : spreadOver(where, open);
  };
  return {
    otp: clientOf(otpV1.OtpServiceService, 'otp'),
    identity: clientOf(identityV1.IdentityServiceService, 'identity'),
    records: clientOf(vaccinationRecordV1.VaccinationRecordServiceService, 'vaccination-record'),
    audit: clientOf(auditV1.AuditServiceService, 'audit'),
  };
}

/** Starts the load at once; see the file's header. */
export function startLoad(
  world: World,
  actors: ChaosActors,
  options: LoadOptions = {},
): RunningLoad {
  const ledger = new Ledger();
  const clients = singleAttemptClients(world, options);
  const deadlineMs = options.deadlineMs ?? 4_000;
  const drainMs = options.drainMs ?? 60_000;
  const pacer = new Pacer(1_000 / (options.callsPerSecond ?? 25));
  const sms = new SmsWatcher(world.platform.smsInbox);
  const run = randomBytes(4).toString('hex');
  let stopping = false;
  let giveUpAt = Number.POSITIVE_INFINITY;
  let journeysStarted = 0;
  let acknowledgedCount = 0;

  /**
   * One call, attempted until acknowledged, refused for good, or (when `retry`) given up
   * at the drain's end. Resolves with the answer, or undefined.
   */
  async function call<T>(
    journey: number,
    kind: CallKind,
    key: string,
    retry: boolean,
    send: (deadline: number) => Promise<T>,
    idsOf: (answer: T) => AcknowledgedIds,
  ): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      await pacer.turn();
      const seq = ledger.takeSeq();
      const startedAt = Date.now();
      const record = (outcome: Outcome) =>
        ledger.record({
          seq,
          kind,
          key,
          attempt,
          journey,
          startedAt,
          endedAt: Date.now(),
          deadlineMs,
          outcome,
        });
      try {
        const answer = await send(deadlineMs);
        record({ acknowledged: true, ids: idsOf(answer) });
        acknowledgedCount++;
        return answer;
      } catch (error) {
        const outcome = refusalOutcome(error);
        record(outcome);
        if (!retry || outcome.acknowledged || !RETRYABLE_CODES.has(outcome.code)) return undefined;
        if (Date.now() >= giveUpAt) return undefined;
        const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1));
        const hinted = outcome.retryAfterMs ?? 0;
        await sleep(Math.max(hinted, Math.floor(Math.random() * ceiling)));
      }
    }
  }

  /** A citizen's whole journey; ends early at the first call that was not acknowledged. */
  async function journey(n: number): Promise<void> {
    const mobile = world.freshMobile();
    ledger.citizen(n, mobile);
    // 1. OTP sign-in. GenerateOtp has no key: a lost send is made again as a new call.
    let token: string | undefined;
    for (let round = 1; round <= 3 && !token && !stopping; round++) {
      const generated = await call(
        n,
        'otp.generate',
        `${run}-${n}-${round}`,
        false,
        (deadline) =>
          clients.otp.call(
            'generateOtp',
            {
              mobile,
              purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
              onBehalfOfClientId: '',
            },
            { ...callAs(), deadlineMs: deadline },
          ),
        (answer) => ({ txnId: answer.txnId }),
      );
      if (!generated) continue;
      const code = await sms.code(generated.txnId, 30_000);
      if (!code) {
        ledger.note(n, `no SMS for acknowledged transaction ${generated.txnId}`);
        return;
      }
      world.raw.codes.add(code);
      const confirmed = await call(
        n,
        'otp.confirm',
        generated.txnId,
        true,
        (deadline) =>
          clients.otp.call(
            'confirmOtp',
            { txnId: generated.txnId, otp: code },
            { ...callAs(), deadlineMs: deadline },
          ),
        (answer) => ({ tokenId: tokenIdOf(answer.token) }),
      );
      if (confirmed) {
        token = confirmed.token;
        world.raw.tokens.add(token);
        ledger.citizen(n, mobile, token);
      }
    }
    if (!token || stopping) return;
    const citizen = token;

    // 2. Registration. No idempotency key: not retried (a retry could register twice).
    const registered = await call(
      n,
      'register',
      `${run}-${n}`,
      false,
      (deadline) =>
        clients.identity.call(
          'registerBeneficiary',
          {
            mobile,
            name: 'Chaos Person',
            gender: identityV1.Gender.GENDER_FEMALE,
            yearOfBirth: 1980,
            photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
            photoIdNumber: world.freshAadhaar(),
          },
          { ...callAs(citizen), deadlineMs: deadline },
        ),
      (answer) => ({ beneficiaryRef: answer.beneficiary?.beneficiaryRef ?? '' }),
    );
    const beneficiaryRef = registered?.beneficiary?.beneficiaryRef;
    if (!registered || !beneficiaryRef || stopping) return;

    // 3. Consent: the vaccinator gives the beneficiary's secret code.
    const consent = await call(
      n,
      'consent',
      beneficiaryRef,
      true,
      (deadline) =>
        clients.identity.call(
          'verifySecretCode',
          { beneficiaryRef, secretCode: registered.secretCode },
          { ...callAs(actors.vaccinator.session), deadlineMs: deadline },
        ),
      (answer) => ({ beneficiaryRef, tokenId: tokenIdOf(answer.token) }),
    );
    if (!consent || stopping) return;
    world.raw.tokens.add(consent.token);

    // 4. The dose, idempotent on its client_request_id.
    const clientRequestId = `chaos-${run}-${n}`;
    const dose = await call(
      n,
      'record-dose',
      clientRequestId,
      true,
      (deadline) =>
        clients.records.call(
          'recordDose',
          {
            beneficiaryRef,
            vaccineCode: VACCINE,
            doseNumber: 1,
            batchNumber: BATCH,
            administeredOn: indianToday(),
            clientRequestId,
            consentGrant: consent.token,
          },
          { ...callAs(actors.vaccinator.session), deadlineMs: deadline },
        ),
      (answer) => ({
        beneficiaryRef,
        doseId: answer.dose?.doseId ?? '',
        replayed: answer.replayed,
      }),
    );
    if (!dose || stopping) return;

    // 5. The citizen's certificate.
    const certificate = await call(
      n,
      'certificate',
      beneficiaryRef,
      true,
      (deadline) =>
        clients.records.call(
          'getCertificate',
          { beneficiaryRef },
          { ...callAs(citizen), deadlineMs: deadline },
        ),
      (answer) => ({ beneficiaryRef, certificateId: answer.certificateId }),
    );
    if (!certificate || stopping) return;

    // 6. An auditor asks the log about the beneficiary. Each attempt is its own query
    // (each is recorded in the log), told apart by its `from`, unique in the run.
    for (let attempt = 1; attempt <= 30 && !stopping; attempt++) {
      const from = uniqueQueryTime();
      const answered = await call(
        n,
        'audit-query',
        from.toISOString(),
        false,
        (deadline) =>
          clients.audit.call(
            'queryEntries',
            {
              actorId: '',
              subjectRef: beneficiaryRef,
              eventType: '',
              from,
              pageSize: 10,
              pageToken: '',
            },
            { ...callAs(actors.auditor.session), deadlineMs: deadline },
          ),
        () => ({ beneficiaryRef }),
      );
      if (answered) return;
      const last = ledger.entries.at(-1)?.outcome;
      if (last && !last.acknowledged && !RETRYABLE_CODES.has(last.code)) return;
      await sleep(Math.floor(Math.random() * BACKOFF_MAX_MS));
    }
  }

  // A `from` in 2020 (before any entry), one millisecond apart per query: the query's key.
  let queries = 0;
  const queryEpoch = Date.UTC(2020, 0, 1) + (randomBytes(3).readUIntBE(0, 3) % 1_000) * 1_000_000;
  const uniqueQueryTime = () => new Date(queryEpoch + queries++);

  const workers = Array.from({ length: options.journeys ?? 6 }, async () => {
    while (!stopping) {
      const n = journeysStarted++;
      try {
        await journey(n);
      } catch (error) {
        ledger.note(n, `journey failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  });

  return {
    ledger,
    get journeysStarted() {
      return journeysStarted;
    },
    async acknowledgedMore(count, timeoutMs = 120_000) {
      const target = acknowledgedCount + count;
      const until = Date.now() + timeoutMs;
      while (acknowledgedCount < target) {
        if (Date.now() > until) {
          throw new Error(
            `the load had ${target - acknowledgedCount} acknowledgements to go after ${timeoutMs} ms`,
          );
        }
        await sleep(100);
      }
    },
    async everyKindAcknowledgedSince(since, timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const seen = new Set(
          ledger
            .acknowledged()
            .filter((entry) => entry.startedAt >= since)
            .map((entry) => entry.kind),
        );
        const waiting = CALL_KINDS.filter((kind) => !seen.has(kind));
        if (waiting.length === 0 || Date.now() > until) return waiting;
        await sleep(250);
      }
    },
    async stop() {
      stopping = true;
      giveUpAt = Date.now() + drainMs;
      await Promise.all(workers);
      for (const client of Object.values(clients)) client.close();
      return ledger;
    },
  };
}
