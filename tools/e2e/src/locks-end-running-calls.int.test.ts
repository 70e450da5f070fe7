// Issue 22, item 1, against the whole platform: a lock lands while an auditor's export
// of the log is running. Every kind of lock (a suspension of the staff member, of the
// client application, a partner lock, an API lock on the method, on the service and on
// everything, a revoked token) ends the running stream within a second of the lock's
// answer, with the lock's own status and reason, and the log records how much the
// export had sent and how it ended. Long unary calls end the same way (grpc-kit's
// call scope, tested in libs/grpc-kit's server tests).
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { parseLogEntry } from '@vaxguard/dev-operator';
import { EVENTS } from '@vaxguard/event-catalogue';
import { identityStaffV1, identityV1 } from '@vaxguard/proto';
import {
  callAs,
  eventually,
  everythingReadable,
  findRawValues,
  outcomeOf,
  randomLetters,
  startWorld,
  type AllPlatformClients,
  type Refusal,
  type World,
} from '@vaxguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The promise: a lock ends what its principal has running within a second. */
const LOCK_ENDS_CALLS_MS = 1_000;
/** The auditor reads one entry at a time, one every this many milliseconds. */
const READ_EVERY_MS = 20;
/** Entries the log holds before the exports start: each export outlives its lock. */
const LOG_ENTRIES = 500;
/** Entries read before the lock is set: the export is well under way. */
const READ_BEFORE_LOCK = 10;

const { PRINCIPAL_KIND_STAFF, PRINCIPAL_KIND_PARTNER_CLIENT } = identityV1.PrincipalKind;

/** An export of the whole log, read slowly: what arrived, and how and when it ended. */
interface SlowExport {
  readonly received: () => number;
  /** Resolves with the refusal that ended it, or undefined when it ran to its end. */
  readonly ended: Promise<{ outcome: Refusal | undefined; at: number }>;
}

function slowExport(clients: AllPlatformClients, session: string): SlowExport {
  let received = 0;
  const stream = clients.audit.stream(
    'exportEntries',
    { actorId: '', subjectRef: '', eventType: '', chunkSize: 1 },
    { ...callAs(session), deadlineMs: 120_000 },
  );
  const reading = (async () => {
    for await (const chunk of stream) {
      received += chunk.entries.length;
      await sleep(READ_EVERY_MS);
    }
  })();
  return {
    received: () => received,
    ended: outcomeOf(reading).then((outcome) => ({ outcome, at: performance.now() })),
  };
}

describe('e2e: a lock ends the calls already running', () => {
  let world: World;
  // Letters only: a reason with a run of digits is refused as a possible phone number.
  const run = randomLetters(6);
  let admin: ReturnType<typeof callAs>;

  beforeAll(async () => {
    world = await startWorld();
    admin = callAs(world.adminSession);
    // Enough entries that an export read one at a time outlives each lock by far: every
    // auditor query is an entry of its own.
    const auditor = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
    const query = () =>
      world.clients.audit.call(
        'queryEntries',
        { actorId: '', subjectRef: '', eventType: '', pageSize: 1, pageToken: '' },
        callAs(auditor.session),
      );
    for (;;) {
      const { treeSize } = await world.clients.audit.call('getCheckpoint', {}, callAs());
      const size = Number(treeSize);
      if (size >= LOG_ENTRIES) break;
      await Promise.all(Array.from({ length: Math.min(50, LOG_ENTRIES - size) }, query));
      await sleep(500);
    }
  });

  afterAll(async () => {
    await world?.stop();
  });

  /** An auditor signed in through these clients (a partner's, or the operator's). */
  async function auditorVia(clients: AllPlatformClients = world.clients) {
    const auditor = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
    if (clients === world.clients) return auditor;
    const { txnId } = await clients.identity.call(
      'startStaffLogin',
      { username: auditor.username, password: auditor.password },
      callAs(),
    );
    return { ...auditor, session: await world.confirm(txnId, clients) };
  }

  /** A partner registered moments ago, known to every service. */
  async function partner(name: string) {
    const clientId = `e2e-${run}-${name}`;
    const { clientSecret } = await world.clients.identity.call(
      'registerPartner',
      {
        clientId,
        displayName: `E2E ${name}`,
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: 30,
      },
      admin,
    );
    const clients = world.connect({ clientId, secret: clientSecret });
    await world.acceptedEverywhere(clients);
    return { clientId, clients };
  }

  /**
   * Starts an export as the auditor, sets the lock once it is under way, and holds the
   * export's end to the lock's status, reason and second; then lifts the lock and finds
   * the export's two records in the log, the second with what it sent and how it ended.
   */
  async function expectLockEndsExport(
    kind: string,
    auditor: { id: string; session: string },
    clients: AllPlatformClients,
    lock: () => Promise<unknown>,
    lift: () => Promise<unknown>,
    expected: { code: number; reason: string },
  ): Promise<void> {
    const exporting = slowExport(clients, auditor.session);
    await eventually(
      async () => {
        if (exporting.received() < READ_BEFORE_LOCK) throw new Error('the export has not begun');
      },
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    await lock();
    const lockedAt = { clock: Date.now(), mark: performance.now() };
    let ended: Awaited<SlowExport['ended']>;
    try {
      ended = await exporting.ended;
    } finally {
      await lift();
    }
    expect(ended.outcome, `${kind}: the export ran to its end`).toBeDefined();
    expect([ended.outcome?.code, ended.outcome?.reason]).toEqual([expected.code, expected.reason]);
    expect(exporting.received()).toBeLessThan(LOG_ENTRIES);

    // The log holds the export's start, and its end with how many entries it had sent.
    // The end's record is made as the server stops the stream: its time says when that
    // was. (The caller hears the status only after reading what was already on its way,
    // so its own clock would time its reading, not the lock.)
    const records = await eventually(
      async () => {
        const { entries } = await world.clients.audit.call(
          'queryEntries',
          {
            actorId: auditor.id,
            subjectRef: '',
            eventType: EVENTS.auditQueried.name,
            pageSize: 100,
            pageToken: '',
          },
          admin,
        );
        const exports = entries
          .map((entry) => {
            const parsed = parseLogEntry(entry);
            return {
              at: Date.parse(parsed.occurredAt),
              ...EVENTS.auditQueried.payload.decode(parsed.payload.value),
            };
          })
          .filter((payload) => payload.query === 'ExportEntries');
        if (exports.length < 2) throw new Error('the export’s end is not in the log yet');
        return exports;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const [start, end] = records;
    const serverEndedMs = (end?.at ?? Infinity) - lockedAt.clock;
    console.log(
      `${kind}: the server ended the running export ${serverEndedMs} ms after the lock was ` +
        `answered, having sent ${end?.entriesReturned} entries; the reader heard ` +
        `${ended.outcome ? `${status[ended.outcome.code]} ${ended.outcome.reason ?? ''}` : 'OK'} ` +
        `${(ended.at - lockedAt.mark).toFixed(0)} ms after the lock, after reading ` +
        `${exporting.received()} entries`,
    );
    expect(serverEndedMs).toBeLessThanOrEqual(LOCK_ENDS_CALLS_MS);
    expect([start?.ended, start?.entriesReturned]).toEqual(['', 0]);
    expect(end?.ended).toBe(expected.reason);
    // Sent counts what left the server; some of it may still have been on the way.
    expect(end?.entriesReturned).toBeGreaterThanOrEqual(exporting.received());
    expect(end?.entriesReturned).toBeLessThan(LOG_ENTRIES);
  }

  const reason = (what: string) => `e2e ${run}: ${what}`;

  it('a suspension of the staff member ends their running export (PRINCIPAL_SUSPENDED)', async () => {
    const auditor = await auditorVia();
    const principal = { kind: PRINCIPAL_KIND_STAFF, id: auditor.id };
    await expectLockEndsExport(
      'suspend the auditor',
      auditor,
      world.clients,
      () =>
        world.clients.identity.call(
          'suspendPrincipal',
          { principal, reason: reason('auditor exporting too much') },
          admin,
        ),
      () =>
        world.clients.identity.call(
          'reinstatePrincipal',
          { principal, reason: reason('reviewed') },
          admin,
        ),
      { code: status.PERMISSION_DENIED, reason: 'PRINCIPAL_SUSPENDED' },
    );
  });

  it('a suspension of the client application ends the exports made through it (PRINCIPAL_SUSPENDED)', async () => {
    const { clientId, clients } = await partner('suspended-app');
    const auditor = await auditorVia(clients);
    const principal = { kind: PRINCIPAL_KIND_PARTNER_CLIENT, id: clientId };
    await expectLockEndsExport(
      'suspend the client application',
      auditor,
      clients,
      () =>
        world.clients.identity.call(
          'suspendPrincipal',
          { principal, reason: reason('client secret leaked') },
          admin,
        ),
      () =>
        world.clients.identity.call(
          'reinstatePrincipal',
          { principal, reason: reason('secret rotated') },
          admin,
        ),
      { code: status.PERMISSION_DENIED, reason: 'PRINCIPAL_SUSPENDED' },
    );
  });

  it('a partner lock ends the exports made through that partner (PARTNER_LOCKED)', async () => {
    const { clientId, clients } = await partner('locked-partner');
    const auditor = await auditorVia(clients);
    await expectLockEndsExport(
      'lock the partner',
      auditor,
      clients,
      () =>
        world.clients.identity.call(
          'lockPartner',
          { clientId, reason: reason('partner breach') },
          admin,
        ),
      () =>
        world.clients.identity.call(
          'unlockPartner',
          { clientId, reason: reason('breach contained') },
          admin,
        ),
      { code: status.PERMISSION_DENIED, reason: 'PARTNER_LOCKED' },
    );
  });

  const apiLocks = [
    [
      'the method',
      { $case: 'method' as const, value: '/vaxguard.audit.v1.AuditService/ExportEntries' },
    ],
    ['the audit service', { $case: 'service' as const, value: 'vaxguard.audit.v1.AuditService' }],
    ['everything', { $case: 'everything' as const, value: true }],
  ] as const;

  it.each(apiLocks)(
    'an API lock on %s ends the running export (API_LOCKED)',
    async (name, lockScope) => {
      const auditor = await auditorVia();
      const scope = { scope: lockScope };
      await expectLockEndsExport(
        `API lock on ${name}`,
        auditor,
        world.clients,
        () =>
          world.clients.identity.call(
            'setApiLock',
            { scope, reason: reason(`drill: ${name} locked`) },
            admin,
          ),
        () =>
          world.clients.identity.call(
            'clearApiLock',
            { scope, reason: reason('drill over') },
            admin,
          ),
        { code: status.PERMISSION_DENIED, reason: 'API_LOCKED' },
      );
    },
  );

  it('revoking the session token ends the export made with it (TOKEN_REVOKED)', async () => {
    const auditor = await auditorVia();
    const payload = JSON.parse(
      Buffer.from(auditor.session.split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as { jti: string };
    await expectLockEndsExport(
      'revoke the session',
      auditor,
      world.clients,
      () => world.clients.otp.call('revokeToken', { tokenId: payload.jti }, callAs()),
      async () => undefined,
      { code: status.UNAUTHENTICATED, reason: 'TOKEN_REVOKED' },
    );
  });

  it('leaves no raw mobile, identity number, code or token in any database, Kafka message or log', async () => {
    expect(findRawValues(await everythingReadable(world), world.raw)).toEqual([]);
  }, 180_000);
});
