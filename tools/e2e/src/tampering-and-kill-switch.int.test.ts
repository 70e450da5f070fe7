// Scenarios 7 and 8 against the whole platform: the kill switch (a global API lock and a
// partner lock, how fast every service obeys, and their record in the transparency log),
// then tampering with the audit log's tables in PostgreSQL, caught by VerifyLog and by the
// outside verifier (libs/dev-operator's, what tools/audit/verify-log.ts and `vaxguard
// audit verify` run) holding nothing but the log's public key and its own state. The kill
// switch runs first: the tampering damages the log for good.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import {
  AUDIT_VERIFY_EXIT,
  exitCodeOf,
  grpcAuditLogSource,
  parseLogEntry,
  verifyAuditLog,
  verifyLogPages,
  type AuditLogSource,
  type AuditLogVerdict,
  type ParsedLogEntry,
  type VerifiedState,
} from '@vaxguard/dev-operator';
import { EVENTS, type EventDefinition } from '@vaxguard/event-catalogue';
import { auditV1, identityStaffV1 } from '@vaxguard/proto';
import {
  cutAuditLog,
  eventually,
  outcomeOf,
  randomLetters,
  swapAuditLogEntries,
  type AllPlatformClients,
  type Refusal,
  callAs,
  startWorld,
  type World,
} from '@vaxguard/testing';
import { parseSignerKey, signCheckpoint } from '@vaxguard/tlog';
import {
  addCheckpoint,
  WitnessBadRequestError,
  WitnessConflictError,
  WitnessInconsistentError,
} from '@vaxguard/witness';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SERVICES = ['otp', 'identity', 'vaccination-record', 'audit'] as const;
type Service = (typeof SERVICES)[number];

/** The kill switch's promise: every service obeys a lock within a second. */
const LOCK_PROPAGATION_MS = 1_000;
/** How often a service is asked again while a lock or an unlock propagates. */
const POLL_MS = 10;

/** How many of the newest entries the truncation in scenario 7 removes. */
const CUT_ENTRIES = 5;

/** A VaxGuard token: a compact JWS. */
const A_TOKEN = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** One ordinary call at a service; `undefined` when the service served it. */
type Probe = () => Promise<Refusal | undefined>;

/**
 * An ordinary call at each service as one client application: identity lists the
 * beneficiaries of the citizen whose token it is given (issued to that application).
 */
function ordinaryCalls(clients: AllPlatformClients, citizenToken: string): Record<Service, Probe> {
  return {
    otp: async () => {
      // OTP looks an unknown transaction up and answers NOT_FOUND, sending nothing: served.
      const outcome = await outcomeOf(
        clients.otp.call('resendOtp', { txnId: randomUUID() }, callAs()),
      );
      return outcome?.reason === 'OTP_TXN_NOT_FOUND' ? undefined : outcome;
    },
    identity: () =>
      outcomeOf(clients.identity.call('listMyBeneficiaries', {}, callAs(citizenToken))),
    'vaccination-record': () => outcomeOf(clients.records.call('getIssuerKeys', {}, callAs())),
    audit: () => outcomeOf(clients.audit.call('getCheckpoint', {}, callAs())),
  };
}

function answerOf(outcome: Refusal | undefined): string {
  return outcome ? `${status[outcome.code]} ${outcome.reason ?? ''}`.trim() : 'served';
}

/** What each service answers an ordinary call right now: `served`, or the refusal. */
async function answersOf(calls: Record<Service, Probe>): Promise<Record<Service, string>> {
  const answers = await Promise.all(
    SERVICES.map(async (service) => answerOf(await calls[service]())),
  );
  return Object.fromEntries(SERVICES.map((service, i) => [service, answers[i]])) as Record<
    Service,
    string
  >;
}

const ALL_SERVED = Object.fromEntries(SERVICES.map((service) => [service, 'served']));

/**
 * Called as soon as a lock or an unlock is answered: asks every service at once, every
 * POLL_MS, until each answers `wanted`, prints the time from then to each service's first
 * such answer, and holds each to the kill switch's second.
 */
async function expectObeyedWithinASecond(
  change: string,
  calls: Record<Service, Probe>,
  wanted: string,
): Promise<void> {
  const since = performance.now();
  const times = await Promise.all(
    SERVICES.map(async (service) => {
      for (;;) {
        const answer = answerOf(await calls[service]());
        const elapsed = performance.now() - since;
        if (answer === wanted) return elapsed;
        if (elapsed > 30_000) throw new Error(`${service} still answers "${answer}" after 30 s`);
        await sleep(POLL_MS);
      }
    }),
  );
  console.log(
    [
      `${change} answered -> first "${wanted}"`,
      `  ${'service'.padEnd(20)}${'ms'.padStart(6)}`,
      ...SERVICES.map(
        (service, i) => `  ${service.padEnd(20)}${(times[i] ?? 0).toFixed(0).padStart(6)}`,
      ),
    ].join('\n'),
  );
  for (const [i, service] of SERVICES.entries()) {
    expect(times[i], service).toBeLessThanOrEqual(LOCK_PROPAGATION_MS);
  }
}

/** An entry of the log with its payload decoded by its event's codec. */
type DecodedEntry<T> = Omit<ParsedLogEntry, 'payload'> & { readonly payload: T };

/**
 * The outside verifier of the audit log (libs/dev-operator), its state kept between
 * rounds in memory instead of a file: it trusts nothing but the log's published verifier
 * key and what it verified itself, and moves its state forward only on a verified round.
 */
class OutsideVerifier {
  private state: VerifiedState | undefined;
  private size: number | undefined;

  constructor(
    private readonly source: AuditLogSource,
    private readonly verifierKey: string,
  ) {}

  /** One round; `full` downloads every entry again, not only those new since the state. */
  async round(full = false): Promise<AuditLogVerdict> {
    const verdict = await verifyAuditLog({
      source: this.source,
      verifierKey: this.verifierKey,
      ...(this.state ? { previous: this.state } : {}),
      full,
    });
    if (verdict.outcome === 'verified') {
      this.state = verdict.state;
      this.size = verdict.checkpoint.size;
    }
    return verdict;
  }

  /** The size of the last checkpoint this verifier verified. */
  get heldSize(): number | undefined {
    return this.size;
  }
}

describe('e2e: the kill switch, and tampering with the audit log', () => {
  let world: World;
  // Reasons name this run, so each test finds its own entries in the log.
  // Letters only: a reason with a run of digits is refused as a possible phone number.
  const run = randomLetters(6);

  beforeAll(async () => {
    world = await startWorld();
  });

  afterAll(async () => {
    await world?.stop();
  });

  /** The log's entries of one event type whose payload names `reason`, in log order. */
  async function entriesOf<T extends { reason: string }>(
    auditorSession: string,
    definition: EventDefinition<string, T>,
    reason: string,
  ): Promise<DecodedEntry<T>[]> {
    return eventually(
      async () => {
        const { entries } = await world.clients.audit.call(
          'queryEntries',
          {
            actorId: '',
            subjectRef: '',
            eventType: definition.name,
            pageSize: 1_000,
            pageToken: '',
          },
          callAs(auditorSession),
        );
        const decoded = entries.map((entry): DecodedEntry<T> => {
          const parsed = parseLogEntry(entry);
          expect(parsed.payload.typeUrl).toBe(definition.typeUrl);
          return { ...parsed, payload: definition.payload.decode(parsed.payload.value) };
        });
        const mine = decoded.filter((entry) => entry.payload.reason === reason);
        if (mine.length === 0) throw new Error(`no ${definition.name} entry for "${reason}" yet`);
        return mine;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  }

  it('8. kill switch: a global lock stops every service within a second and clearing it restores them; a partner lock stops that partner only; each is in the log', async () => {
    const admin = callAs(world.adminSession);
    const mobile = world.freshMobile();
    const citizen = await world.citizen(mobile);
    const beneficiaryRef = await world.register(citizen, mobile);
    const operator = ordinaryCalls(world.clients, citizen);
    expect(await answersOf(operator)).toEqual(ALL_SERVED);

    // The global lock.
    const everything = { scope: { $case: 'everything' as const, value: true } };
    const lockReason = `e2e ${run}: drill, everything locked`;
    const clearReason = `e2e ${run}: drill over`;
    await world.clients.identity.call(
      'setApiLock',
      { scope: everything, reason: lockReason },
      admin,
    );
    try {
      await expectObeyedWithinASecond(
        'SetApiLock(everything)',
        operator,
        'PERMISSION_DENIED API_LOCKED',
      );
      expect(await answersOf(operator)).toEqual(
        Object.fromEntries(SERVICES.map((service) => [service, 'PERMISSION_DENIED API_LOCKED'])),
      );
    } finally {
      await world.clients.identity.call(
        'clearApiLock',
        { scope: everything, reason: clearReason },
        admin,
      );
    }
    await expectObeyedWithinASecond('ClearApiLock(everything)', operator, 'served');
    // Restored everywhere: a citizen signs in through OTP and the other three serve.
    const again = await world.citizen(mobile);
    const { beneficiaries } = await world.clients.identity.call(
      'listMyBeneficiaries',
      {},
      callAs(again),
    );
    expect(beneficiaries.map((b) => b.beneficiaryRef)).toEqual([beneficiaryRef]);
    expect(await answersOf(ordinaryCalls(world.clients, again))).toEqual(ALL_SERVED);

    // Two partners, registered by the admin; every service learns of them from the registry.
    const partners = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const clientId = `e2e-${run}-partner-${name}`;
        const { clientSecret } = await world.clients.identity.call(
          'registerPartner',
          {
            clientId,
            displayName: `E2E partner ${name.toUpperCase()}`,
            scopes: ['beneficiary:demographics'],
            quotaPerMinute: 30,
          },
          admin,
        );
        const clients = world.connect({ clientId, secret: clientSecret });
        const token = await eventually(() => world.citizen(world.freshMobile(), clients), {
          timeoutMs: 30_000,
          intervalMs: 50,
        });
        return { clientId, clients, calls: ordinaryCalls(clients, token) };
      }),
    );
    const [locked, other] = partners as [(typeof partners)[number], (typeof partners)[number]];
    await eventually(async () => expect(await answersOf(locked.calls)).toEqual(ALL_SERVED));
    await eventually(async () => expect(await answersOf(other.calls)).toEqual(ALL_SERVED));

    const partnerLockReason = `e2e ${run}: partner credential leaked`;
    const partnerUnlockReason = `e2e ${run}: partner secret rotated`;
    await world.clients.identity.call(
      'lockPartner',
      { clientId: locked.clientId, reason: partnerLockReason },
      admin,
    );
    try {
      await expectObeyedWithinASecond(
        'LockPartner',
        locked.calls,
        'PERMISSION_DENIED PARTNER_LOCKED',
      );
      // The other partner and the operator go on as before, OTP sign-ins included.
      expect(await answersOf(other.calls)).toEqual(ALL_SERVED);
      expect(await answersOf(operator)).toEqual(ALL_SERVED);
      expect(await world.citizen(world.freshMobile(), other.clients)).toMatch(A_TOKEN);
      expect(await world.citizen(world.freshMobile())).toMatch(A_TOKEN);
    } finally {
      await world.clients.identity.call(
        'unlockPartner',
        { clientId: locked.clientId, reason: partnerUnlockReason },
        admin,
      );
    }
    await expectObeyedWithinASecond('UnlockPartner', locked.calls, 'served');
    expect(await world.citizen(world.freshMobile(), locked.clients)).toMatch(A_TOKEN);

    // Each lock and unlock is an entry in the transparency log, as an auditor reads it.
    const { session: auditor } = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
    const [apiLocked] = await entriesOf(auditor, EVENTS.apiLocked, lockReason);
    const [apiUnlocked] = await entriesOf(auditor, EVENTS.apiUnlocked, clearReason);
    const [partnerLockedEntry] = await entriesOf(auditor, EVENTS.partnerLocked, partnerLockReason);
    const [partnerUnlocked] = await entriesOf(auditor, EVENTS.partnerUnlocked, partnerUnlockReason);
    for (const entry of [apiLocked, apiUnlocked]) {
      expect(entry).toMatchObject({
        actor: { kind: 'ACTOR_KIND_STAFF', clientId: world.platform.operator.clientId },
        payload: { scope: everything },
      });
    }
    for (const entry of [partnerLockedEntry, partnerUnlocked]) {
      expect(entry).toMatchObject({
        actor: { kind: 'ACTOR_KIND_STAFF', clientId: world.platform.operator.clientId },
        subject: { ref: locked.clientId },
      });
    }
    expect(apiLocked?.index).toBeLessThan(apiUnlocked?.index ?? -1);
    expect(partnerLockedEntry?.index).toBeLessThan(partnerUnlocked?.index ?? -1);
  });

  it('7. tampering: an entry rewritten, two entries swapped and the newest entries cut off are each named by VerifyLog and by the outside verifier (exit code 4); after the cut it never accepts the log again, whatever the log signs', async () => {
    const auditor = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
    const asAuditor = callAs(auditor.session);
    const verifyLog = () =>
      verifyLogPages((request) => world.clients.audit.call('verifyLog', request, asAuditor));
    // The verifier reads entries as an auditor; checkpoints and proofs as the client.
    const witness = new OutsideVerifier(
      grpcAuditLogSource(world.clients.audit, (use) => use(auditor.session)),
      world.platform.description.auditLog.verifierKey,
    );
    const db = new pg.Client({ connectionString: world.platform.databases.audit });
    await db.connect();
    try {
      // Some ordinary activity: a citizen signs in and registers two beneficiaries.
      const activity = async () => {
        const mobile = world.freshMobile();
        const token = await world.citizen(mobile);
        return [await world.register(token, mobile), await world.register(token, mobile)];
      };
      expect(await witness.round()).toMatchObject({ outcome: 'verified' });
      const refs = await activity();
      const registrations = await Promise.all(
        refs.map(async (ref) =>
          eventually(async () => {
            const { entries } = await world.clients.audit.call(
              'queryEntries',
              {
                actorId: '',
                subjectRef: ref,
                eventType: EVENTS.beneficiaryRegistered.name,
                pageSize: 10,
                pageToken: '',
              },
              asAuditor,
            );
            const [entry] = entries;
            if (!entry) throw new Error(`no registration of ${ref} in the log yet`);
            return { ref, index: Number(entry.index), bytes: Buffer.from(entry.entry) };
          }),
        ),
      );
      const [first, second] = registrations.sort((a, b) => a.index - b.index) as [
        (typeof registrations)[number],
        (typeof registrations)[number],
      ];
      // The verifier's next checkpoint covers both, and extends the one it held.
      await eventually(async () => {
        const verdict = await witness.round();
        expect(verdict).toMatchObject({ outcome: 'verified' });
        expect(witness.heldSize).toBeGreaterThan(second.index);
      });
      expect(await verifyLog()).toMatchObject({ ok: true });

      // (a) One entry's bytes rewritten: the registration made to name another beneficiary.
      const forged = Buffer.from(first.bytes.toString('utf8').replaceAll(first.ref, second.ref));
      expect(forged.equals(first.bytes)).toBe(false);
      await db.query('UPDATE audit_log_entries SET entry = $2 WHERE entry_index = $1', [
        first.index,
        forged,
      ]);
      try {
        const report = await verifyLog();
        expect(report).toMatchObject({
          ok: false,
          firstMismatch: {
            kind: auditV1.MismatchKind.MISMATCH_KIND_LEAF_HASH,
            index: String(first.index),
          },
        });
        // What an auditor reads now is not what the verifier verified: it names the entry.
        const { entries } = await world.clients.audit.call(
          'getEntries',
          { start: String(first.index), end: String(first.index + 1), pageSize: 1, pageToken: '' },
          asAuditor,
        );
        expect(Buffer.from(entries[0]?.entry ?? []).equals(forged)).toBe(true);
        const found = await witness.round(true);
        expect(found).toMatchObject({
          outcome: 'tampered',
          tampering: {
            kind: 'BAD_ENTRY',
            entry: { index: first.index, problem: 'changed', namedBy: 'saved state' },
          },
        });
        expect(exitCodeOf(found)).toBe(AUDIT_VERIFY_EXIT.tampered);
      } finally {
        await db.query('UPDATE audit_log_entries SET entry = $2 WHERE entry_index = $1', [
          first.index,
          first.bytes,
        ]);
      }
      expect(await verifyLog()).toMatchObject({ ok: true });

      // (b) Two entries reordered: their contents swapped, every column but the index.
      await swapAuditLogEntries(db, first.index, second.index);
      try {
        expect(await verifyLog()).toMatchObject({
          ok: false,
          firstMismatch: {
            kind: auditV1.MismatchKind.MISMATCH_KIND_LEAF_HASH,
            index: String(first.index),
          },
        });
        const found = await witness.round(true);
        expect(found).toMatchObject({
          outcome: 'tampered',
          tampering: {
            kind: 'BAD_ENTRY',
            entry: { index: first.index, problem: 'out-of-place', belongsAt: second.index },
          },
        });
        expect(exitCodeOf(found)).toBe(AUDIT_VERIFY_EXIT.tampered);
      } finally {
        await swapAuditLogEntries(db, first.index, second.index);
      }
      expect(await verifyLog()).toMatchObject({ ok: true });
      expect(await witness.round(true)).toMatchObject({ outcome: 'verified' });

      // (c) The newest entries cut off. More activity, then the verifier verifies a
      // checkpoint of the whole log once it is quiet: it holds every entry the cut removes.
      await activity();
      await eventually(
        async () => {
          const { rows } = await db.query<{ tree_size: string }>(
            'SELECT tree_size FROM audit_log_head',
          );
          const verdict = await witness.round();
          expect(verdict).toMatchObject({ outcome: 'verified' });
          expect(witness.heldSize).toBe(Number(rows[0]?.tree_size));
        },
        { timeoutMs: 30_000, intervalMs: 1_000 },
      );
      const witnessed = witness.heldSize ?? 0;
      const cut = witnessed - CUT_ENTRIES;
      // The entries from `cut` on are deleted, and with them what the tree stored of
      // them (their leaf and interior nodes) and the head rolled back to the first `cut`
      // entries, as a restore of an older backup would leave it; the signed checkpoints
      // stay. It runs with the head locked, so no append comes between, and the head
      // stays locked (appends wait) while the log is checked.
      await db.query('BEGIN');
      try {
        await cutAuditLog(db, cut, { dropCheckpoints: false });
        await db.query('COMMIT; BEGIN; SELECT tree_size FROM audit_log_head FOR UPDATE');

        const served = await world.clients.audit.call('getCheckpoint', {}, callAs());
        const report = await verifyLog();
        console.log(
          `log cut at ${cut} (witness holds ${witnessed}, log serves the checkpoint of ${served.treeSize}): VerifyLog ${JSON.stringify(report.firstMismatch)}`,
        );
        // The kind is VerifyLog's (ENTRY_MISSING, or what the audit service's own rollback
        // check reports once C2's work lands); the entry named is the first one cut.
        expect(report).toMatchObject({ ok: false, firstMismatch: { index: String(cut) } });
        // The log still serves the checkpoint the verifier holds: a round that downloads
        // every entry again finds them gone and names the first (a log serving a smaller
        // checkpoint is a shrink, reported before any proof is asked).
        const verdict = await witness.round(true);
        console.log(`verifier after the cut: ${JSON.stringify(findingOf(verdict))}`);
        expectCutNamed(verdict, witnessed, cut);
        if (Number(served.treeSize) === witnessed) {
          expect(verdict).toMatchObject({
            tampering: { kind: 'BAD_ENTRY', entry: { index: cut, problem: 'missing' } },
          });
        }
      } finally {
        await db.query('ROLLBACK');
      }

      // The log goes on from the cut. Whether or not it signs a checkpoint of its new
      // tree past the one it served (a log signing its own rollback: issue 22 #3), the
      // verifier holding the earlier checkpoint must not accept what it serves.
      const servedAtCut = Number(
        (await world.clients.audit.call('getCheckpoint', {}, callAs())).treeSize,
      );
      const deadline = performance.now() + 20_000;
      let latest = servedAtCut;
      while (latest <= servedAtCut && performance.now() < deadline) {
        await activity();
        await sleep(1_500);
        latest = Number((await world.clients.audit.call('getCheckpoint', {}, callAs())).treeSize);
      }
      console.log(
        latest > servedAtCut
          ? `after the cut at ${cut}, the log signed a checkpoint of ${latest} entries over its new tree (it had signed ${servedAtCut} before): it signs its own rollback`
          : `after the cut at ${cut}, the log signed no checkpoint past ${servedAtCut}`,
      );
      const verdict = await witness.round(true);
      console.log(`verifier after the log went on: ${JSON.stringify(findingOf(verdict))}`);
      expectCutNamed(verdict, witnessed, cut);
      expect(witness.heldSize).toBe(witnessed);
      if (latest > witnessed) {
        // The log signed its own rollback: a tree past the one held that does not extend
        // it. A fork, and the first entry that is not the one verified there is named.
        expect(verdict).toMatchObject({
          tampering: {
            kind: 'FORK',
            previousSize: witnessed,
            entry: { index: cut, problem: 'changed', namedBy: 'saved state' },
          },
        });
      }
      // The log refused to sign its own rollback: it signed nothing past what it had
      // served, it says it is halted and why, and a CRITICAL LOG_ROLLBACK alert is raised.
      expect(latest).toBe(servedAtCut);
      const halted = await world.clients.audit.call('getCheckpoint', {}, callAs());
      console.log(`the log after the cut: halted=${halted.halted} (${halted.haltReason})`);
      expect(halted.halted).toBe(true);
      expect(halted.haltReason).not.toBe('');
      const rollbackAlert = await eventually(
        async () => {
          const { alerts } = await world.clients.audit.call(
            'listAlerts',
            { pageSize: 100, pageToken: '', unacknowledgedOnly: false },
            asAuditor,
          );
          const found = alerts.find((record) => record.alert?.rule === 'LOG_ROLLBACK');
          if (!found) throw new Error('no LOG_ROLLBACK alert yet');
          return found;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(rollbackAlert.alert?.severity).toBe(auditV1.Severity.SEVERITY_CRITICAL);

      // An audit service whose key was stolen signs the forked tree anyway: the witness,
      // which cosigned the tree of `servedAtCut` entries, refuses to cosign it.
      const { rows: heads } = await db.query<{ tree_size: string; root_hash: Buffer }>(
        'SELECT tree_size, root_hash FROM audit_log_head',
      );
      const fork = {
        origin: world.platform.description.auditLog?.origin ?? '',
        size: Number(heads[0]?.tree_size),
        rootHash: new Uint8Array(heads[0]?.root_hash ?? []),
      };
      const forkNote = signCheckpoint(fork, [parseSignerKey(world.platform.auditLogSignerKey)]);
      const witnessUrl = world.platform.witness?.url ?? '';
      // The proof is the forked tree's own, from its stored nodes: all the thief has.
      const proofFrom = async (oldSize: number) =>
        fork.size > oldSize
          ? (
              await world.clients.audit.call(
                'getConsistencyProof',
                { oldSize: String(oldSize), newSize: String(fork.size) },
                callAs(),
              )
            ).hashes
          : [];
      const submit = async (oldSize: number) =>
        addCheckpoint(witnessUrl, {
          oldSize,
          consistencyProof: await proofFrom(oldSize),
          checkpoint: forkNote,
        }).then(
          () => undefined,
          (error: unknown) => error,
        );
      let refusal = await submit(servedAtCut);
      // The size the witness holds, if it is not the one served: asked again from there.
      if (refusal instanceof WitnessConflictError) refusal = await submit(refusal.knownSize);
      console.log(
        `the witness asked to cosign the forked tree of ${fork.size} entries over the ${servedAtCut} it cosigned: ${String(refusal)}`,
      );
      // A fork is refused: 422 when the proof does not verify, 400 when the forked tree
      // is smaller than the one the witness holds.
      expect(
        refusal instanceof WitnessInconsistentError || refusal instanceof WitnessBadRequestError,
      ).toBe(true);

      const report = await verifyLog();
      console.log(`VerifyLog after the log went on: ${JSON.stringify(report.firstMismatch)}`);
      expect(report.ok).toBe(false);
    } finally {
      await db.end();
    }
  });
});

/** A verdict's finding, for the test's log. */
function findingOf(verdict: AuditLogVerdict): unknown {
  return verdict.outcome === 'tampered' ? verdict.tampering : { verified: verdict.checkpoint.size };
}

/**
 * What any verifier round after the cut must say, whatever the log serves: tampered
 * (exit 4), and either the shrink from the size it held or the entry at the cut named.
 */
function expectCutNamed(verdict: AuditLogVerdict, held: number, cut: number): void {
  expect(exitCodeOf(verdict)).toBe(AUDIT_VERIFY_EXIT.tampered);
  if (verdict.outcome !== 'tampered') return;
  if (verdict.tampering.kind === 'SHRANK') {
    expect(verdict.tampering.description).toMatch(new RegExp(`^the log shrank from ${held} to `));
  } else {
    expect(verdict.tampering.entry?.index).toBe(cut);
  }
}
