import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otpServiceKeys, startRevocationListener } from '@vaxguard/auth';
import { isVaxGuardError } from '@vaxguard/errors';
import {
  ActorKind,
  EVENTS,
  readPayload,
  SubjectKind,
  type EventEnvelope,
} from '@vaxguard/event-catalogue';
import { createKafka } from '@vaxguard/events';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { identityStaffV1, otpEventsV1, otpV1 } from '@vaxguard/proto';
import {
  EventCollector,
  eventually,
  leaks,
  refusalOf,
  startKafka,
  startPostgres,
  testClient,
  type KafkaFixture,
  type PostgresFixture,
} from '@vaxguard/testing';
import {
  AUDIENCE,
  JwksCache,
  RevocationSet,
  SERVICE_SCOPES,
  TOKEN_ISSUER,
  TokenVerifier,
  type Audience,
} from '@vaxguard/tokens';
import { readAllDevSms, readDevSms } from '@vaxguard/dev-sms';
import { createOtpApp, type OtpApp } from './app';
import { readConfig } from './config';
import { ManualClock } from './domain/fakes';
import { LONGEST_TOKEN_TTL_MS, KEY_RETIREMENT_MARGIN_MS } from './domain/otp-rules';
import { otpTestClient, type OtpTestClient } from './test-support';

const MINUTE = 60_000;
const CITIZEN = otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN;
const LOCKOUT_FAILURES = 6;
// Each test signs its calls with client applications of its own, so no quota use or
// event of one test is seen by another.
const CLIENT_POOL = Array.from({ length: 24 }, (_, i) =>
  testClient(`client-${String(i).padStart(2, '0')}`),
);
// The identity service's credentials: it alone starts CONSENT and STAFF_LOGIN
// transactions, on behalf of the client that confirms them.
const IDENTITY = testClient('svc-identity');
const REF = 'bnf_0123456789abcdefghjkmnpqrs';
const OTHER_REF = 'bnf_1123456789abcdefghjkmnpqrs';

/**
 * The OTP service in-process against real PostgreSQL and Kafka, with a clock the test
 * moves, so expiry, lockout and key rotation are stepped through without waiting. Each
 * test owns its mobiles and its client applications, and reads time from the clock as
 * it finds it, so any test passes alone (`vitest -t`).
 */
describe('OTP service (real PostgreSQL and Kafka, controllable clock)', () => {
  const clock = new ManualClock(new Date());
  const logs = new MemoryLogSink();
  const openClients: { close(): void }[] = [];
  let postgres: PostgresFixture;
  let kafka: KafkaFixture;
  let dir: string;
  let smsFile: string;
  let app: OtpApp;
  let identity: OtpTestClient;
  let collector: EventCollector;
  let verifier: TokenVerifier;
  let revocationListener: { stop(): Promise<void> };

  let mobileCounter = 0;
  /** A mobile no other test uses, so per-mobile quotas never mix scenarios. */
  function freshMobile(): string {
    return `98${String(1_000_000 + mobileCounter++).padStart(8, '0')}`;
  }

  let clientCounter = 0;
  /** A client application no other test uses. */
  function newClient(): OtpTestClient & { readonly clientId: string } {
    const credential = CLIENT_POOL[clientCounter++];
    if (!credential) throw new Error('the client pool is used up; make it larger');
    const client = otpTestClient(
      `127.0.0.1:${app.runtime.port}`,
      credential.clientId,
      credential.secret,
    );
    openClients.push(client);
    return { ...client, clientId: credential.clientId };
  }

  async function codeFor(txnId: string): Promise<string> {
    const sms = await readDevSms(smsFile, txnId);
    if (!sms) throw new Error(`no SMS for ${txnId}`);
    return sms.code;
  }

  async function login(
    client: OtpTestClient & { readonly clientId: string },
    purpose = CITIZEN,
    extra: Partial<otpV1.GenerateOtpRequest> = {},
  ) {
    const mobile = freshMobile();
    // CONSENT and STAFF_LOGIN go through identity, for the client that confirms them.
    const starter = purpose === CITIZEN ? client : identity;
    const onBehalf = purpose === CITIZEN ? {} : { onBehalfOfClientId: client.clientId };
    const { txnId } = await starter.generate({ mobile, purpose, ...onBehalf, ...extra });
    const confirmed = await client.confirm(txnId, await codeFor(txnId));
    return { mobile, txnId, ...confirmed };
  }

  async function verifyRefusal(token: string, audience: Audience): Promise<string | undefined> {
    try {
      await verifier.verify(token, audience);
    } catch (error) {
      if (isVaxGuardError(error) && error.code === 'UNAUTHENTICATED') return error.reason;
      throw error;
    }
    return undefined;
  }

  /** The events a client's calls caused, once all of them have been relayed. */
  async function eventsOf(clientId: string, count: number): Promise<EventEnvelope[]> {
    return collector.waitFor((event) => event.actor?.clientId === clientId, count);
  }

  beforeAll(async () => {
    [postgres, kafka] = await Promise.all([startPostgres(), startKafka()]);
    dir = await mkdtemp(join(tmpdir(), 'otp-int-'));
    smsFile = join(dir, 'sms.jsonl');
    const config = readConfig({
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: postgres.url,
      KAFKA_BROKERS: kafka.brokers.join(','),
      CLIENT_CREDENTIALS: [
        ...CLIENT_POOL.map((client) => client.credential),
        `${IDENTITY.credential}:${SERVICE_SCOPES.onBehalf}`,
      ].join(','),
      LOG_LEVEL: 'debug',
      OTP_HASH_KEY: Buffer.alloc(32, 11).toString('base64'),
      MOBILE_INDEX_KEY: Buffer.alloc(32, 12).toString('base64'),
      OTP_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 13).toString('base64'),
      OTP_SMS_DELIVERY: 'dev-sink',
      OTP_DEV_SMS_SINK: smsFile,
      // Lowered so the lockout is reachable here; the default of 100 is unit-tested.
      OTP_MOBILE_LOCKOUT_FAILURES: String(LOCKOUT_FAILURES),
    });
    app = await createOtpApp(config, { clock: clock.now, logSink: logs });
    await app.runtime.start();
    identity = otpTestClient(`127.0.0.1:${app.runtime.port}`, IDENTITY.clientId, IDENTITY.secret);
    openClients.push(identity);
    collector = await EventCollector.start(kafka.brokers, [EVENTS.otpRequested.topic]);

    // A verifier as any other service runs it: keys over gRPC, revocations from Kafka.
    const keysCredential = CLIENT_POOL[clientCounter++]!;
    const keysClient = createServiceClient(otpV1.OtpServiceService, {
      address: `127.0.0.1:${app.runtime.port}`,
      clientId: keysCredential.clientId,
      secret: keysCredential.secret,
    });
    openClients.push(keysClient);
    const otherServiceLogger = createLogger({ service: 'verifier', sink: logs, level: 'debug' });
    const revocations = new RevocationSet(clock.now);
    revocationListener = await startRevocationListener({
      kafka: createKafka({
        clientId: 'verifier',
        brokers: kafka.brokers,
        logger: otherServiceLogger,
      }),
      service: 'otp-int-verifier',
      revocations,
      logger: otherServiceLogger,
      clock: clock.now,
    });
    verifier = new TokenVerifier({
      issuers: {
        [TOKEN_ISSUER]: new JwksCache(otpServiceKeys(keysClient), {
          clock: clock.now,
          minRefreshIntervalMs: 0,
        }),
      },
      revocations,
      clock: clock.now,
    });
  });

  afterAll(async () => {
    await revocationListener?.stop().catch(() => undefined);
    await collector?.stop().catch(() => undefined);
    for (const client of openClients) client.close();
    await app?.runtime.stop().catch(() => undefined);
    await kafka?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('happy path: generate, read the code from the dev sink, confirm, verify the token with the published keys', async () => {
    const portal = newClient();
    const mobile = freshMobile();
    const generated = await portal.generate({ mobile: `+91${mobile}`, purpose: CITIZEN });
    expect(generated.attemptsAllowed).toBe(3);
    expect(generated.expiresAt).toEqual(new Date(clock.now().getTime() + 3 * MINUTE));
    const sms = await readDevSms(smsFile, generated.txnId);
    expect(sms).toMatchObject({ to: `XXXXXX${mobile.slice(-4)}`, purpose: 'CITIZEN_LOGIN' });

    const { token, claims } = await portal.confirm(generated.txnId, sms?.code ?? '');
    const { keys } = await portal.signingKeys();
    expect(keys.map((k) => k.kid)).toContain(app.keys.activeKeyId);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', kid: app.keys.activeKeyId });

    const verified = await verifier.verify(token, AUDIENCE.citizen);
    expect(verified).toMatchObject({
      tokenId: claims?.tokenId,
      subject: claims?.subject,
      scopes: ['beneficiary:read', 'certificate:read'],
      purpose: 'CITIZEN_LOGIN',
      clientId: portal.clientId,
      keyId: app.keys.activeKeyId,
      expiresAt: new Date(Math.floor((clock.now().getTime() + 15 * MINUTE) / 1000) * 1000),
    });
    expect(claims?.subject).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(claims)).not.toContain(mobile);
    expect(JSON.stringify(decodeJwt(token))).not.toContain(mobile);
  });

  it('consent: started by identity for a partner, confirmed by the partner; the grant names the beneficiaries and the grantee, for 5 minutes', async () => {
    const umang = newClient();
    const portal = newClient();
    const consent = {
      beneficiaryRef: '',
      beneficiaryRefs: [REF, OTHER_REF],
      grantee: { kind: otpV1.GranteeKind.GRANTEE_KIND_PARTNER_CLIENT, id: umang.clientId },
    };
    const { token, claims } = await login(umang, otpV1.OtpPurpose.OTP_PURPOSE_CONSENT, { consent });
    expect(claims?.consent).toEqual(consent);
    expect(claims?.clientId).toBe(umang.clientId);
    const verified = await verifier.verify(token, AUDIENCE.consent);
    expect(verified.consent).toEqual({
      beneficiaryRefs: [REF, OTHER_REF],
      grantee: { kind: 'PARTNER_CLIENT', id: umang.clientId },
    });
    expect(verified.expiresAt.getTime() - verified.issuedAt.getTime()).toBe(5 * MINUTE);

    const consentFor = (owner: string) =>
      identity.generate({
        mobile: freshMobile(),
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
        consent,
        onBehalfOfClientId: owner,
      });
    const forOther = await refusalOf(consentFor(portal.clientId));
    expect([forOther.code, forOther.reason]).toEqual([status.PERMISSION_DENIED, 'CONSENT_GRANTEE']);
    const missing = await refusalOf(
      identity.generate({
        mobile: freshMobile(),
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
        onBehalfOfClientId: portal.clientId,
      }),
    );
    expect([missing.code, missing.reason]).toEqual([status.INVALID_ARGUMENT, 'CONSENT_REQUIRED']);
    // Not through identity: references nobody resolved never reach a grant.
    const direct = await refusalOf(
      umang.generate({
        mobile: freshMobile(),
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
        consent,
      }),
    );
    expect([direct.code, direct.reason]).toEqual([status.PERMISSION_DENIED, 'VIA_IDENTITY_ONLY']);
    const posing = await refusalOf(
      portal.generate({
        mobile: freshMobile(),
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
        consent,
        onBehalfOfClientId: umang.clientId,
      }),
    );
    expect([posing.code, posing.reason]).toEqual([
      status.PERMISSION_DENIED,
      'ON_BEHALF_NOT_ALLOWED',
    ]);
  });

  it('staff sign-in: a session token naming the staff member, for the staff audience only', async () => {
    const staff = {
      staffId: 'stf-int-1',
      role: identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      centreId: 'ctr-int-1',
    };
    const { token } = await login(newClient(), otpV1.OtpPurpose.OTP_PURPOSE_STAFF_LOGIN, {
      staff,
    });
    await expect(verifier.verify(token, AUDIENCE.staff)).resolves.toMatchObject({
      subject: 'stf-int-1',
      scopes: ['staff'],
      staff: { role: 'VACCINATOR', centreId: 'ctr-int-1' },
    });
    expect(await verifyRefusal(token, AUDIENCE.citizen)).toBe('TOKEN_AUDIENCE');
  });

  it('refuses bad input precisely: invalid mobile (not echoed), missing purpose, unknown caller', async () => {
    const portal = newClient();
    for (const mobile of ['5123456789', '+1 2025550123', '98765']) {
      const refusal = await refusalOf(portal.generate({ mobile, purpose: CITIZEN }));
      expect([refusal.code, refusal.reason]).toEqual([status.INVALID_ARGUMENT, 'INVALID_MOBILE']);
      expect(refusal.message).not.toContain(mobile);
      expect(refusal.message).not.toContain(mobile.replace(/\D/g, ''));
    }
    const noPurpose = await refusalOf(portal.generate({ mobile: freshMobile() }));
    expect([noPurpose.code, noPurpose.reason]).toEqual([
      status.INVALID_ARGUMENT,
      'INVALID_PURPOSE',
    ]);
    const stranger = otpTestClient(
      `127.0.0.1:${app.runtime.port}`,
      portal.clientId,
      'wrong-secret',
    );
    try {
      expect(
        (await refusalOf(stranger.generate({ mobile: freshMobile(), purpose: CITIZEN }))).code,
      ).toBe(status.UNAUTHENTICATED);
    } finally {
      stranger.close();
    }
  });

  it('3 wrong codes kill the transaction: the right code is refused on the 4th try', async () => {
    const portal = newClient();
    const { txnId } = await portal.generate({ mobile: freshMobile(), purpose: CITIZEN });
    const code = await codeFor(txnId);
    const wrong = code === '000000' ? '000001' : '000000';
    const malformed = await refusalOf(portal.confirm(txnId, '12345'));
    expect([malformed.code, malformed.reason]).toEqual([status.INVALID_ARGUMENT, 'OTP_MALFORMED']);
    const messages: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const refusal = await refusalOf(portal.confirm(txnId, wrong));
      expect([refusal.code, refusal.reason]).toEqual([status.UNAUTHENTICATED, 'OTP_WRONG_CODE']);
      messages.push(refusal.message);
    }
    expect(messages).toEqual([
      'wrong code; 2 attempts left',
      'wrong code; 1 attempt left',
      'wrong code; no attempts left, this transaction is closed',
    ]);
    const fourth = await refusalOf(portal.confirm(txnId, code));
    expect([fourth.code, fourth.reason]).toEqual([
      status.FAILED_PRECONDITION,
      'OTP_ATTEMPTS_EXHAUSTED',
    ]);
    // The failures were committed although each call failed: 3 wrong codes, then the dead transaction.
    const failed = await collector.waitFor(
      (event) =>
        event.type === EVENTS.otpFailed.name &&
        readPayload(event, EVENTS.otpFailed).txnId === txnId,
      4,
    );
    expect(failed.map((event) => readPayload(event, EVENTS.otpFailed).reason)).toEqual([
      otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_WRONG_CODE,
      otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_WRONG_CODE,
      otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_WRONG_CODE,
      otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_ATTEMPTS_EXHAUSTED,
    ]);
  });

  it('resend waits for the 30-second cooldown, then sends a new code that replaces the old one', async () => {
    const portal = newClient();
    const generated = await portal.generate({ mobile: freshMobile(), purpose: CITIZEN });
    const early = await refusalOf(portal.resend(generated.txnId));
    expect([early.code, early.reason, early.retryAfterMs]).toEqual([
      status.RESOURCE_EXHAUSTED,
      'OTP_RESEND_COOLDOWN',
      30_000,
    ]);
    clock.advance(30_000);
    const resent = await portal.resend(generated.txnId);
    expect(resent.resendAvailableAt).toEqual(new Date(clock.now().getTime() + 30_000));
    const newCode = await codeFor(generated.txnId);
    await expect(portal.confirm(generated.txnId, newCode)).resolves.toMatchObject({
      claims: { purpose: CITIZEN },
    });
  });

  it(`locks a mobile after ${LOCKOUT_FAILURES} consecutive wrong codes (lowered from 100 by configuration)`, async () => {
    const portal = newClient();
    const umang = newClient();
    const mobile = freshMobile();
    for (let txn = 0; txn < LOCKOUT_FAILURES / 3; txn++) {
      const { txnId } = await portal.generate({ mobile, purpose: CITIZEN });
      const wrong = (await codeFor(txnId)) === '000000' ? '000001' : '000000';
      for (let attempt = 0; attempt < 3; attempt++) await refusalOf(portal.confirm(txnId, wrong));
    }
    const locked = await refusalOf(umang.generate({ mobile, purpose: CITIZEN }));
    expect([locked.code, locked.reason, locked.retryAfterMs]).toEqual([
      status.RESOURCE_EXHAUSTED,
      'MOBILE_LOCKED',
      3_600_000,
    ]);
    const [lockedEvent] = await collector.waitFor(
      (event) => event.type === EVENTS.otpLocked.name && event.actor?.clientId === portal.clientId,
    );
    expect(lockedEvent?.subject?.kind).toBe(SubjectKind.SUBJECT_KIND_MOBILE);
    expect(readPayload(lockedEvent!, EVENTS.otpLocked)).toEqual({
      consecutiveFailures: LOCKOUT_FAILURES,
      lockedUntil: new Date(clock.now().getTime() + 3_600_000),
    });
    clock.advance(3_600_000);
    await expect(portal.generate({ mobile, purpose: CITIZEN })).resolves.toBeDefined();
  });

  it("BOLA: another client's transaction is NOT_FOUND, its token cannot be revoked by others", async () => {
    const portal = newClient();
    const umang = newClient();
    const { txnId } = await portal.generate({ mobile: freshMobile(), purpose: CITIZEN });
    const code = await codeFor(txnId);
    const stolenConfirm = await refusalOf(umang.confirm(txnId, code));
    const unknown = await refusalOf(umang.confirm(randomUUID(), code));
    // Refused alike, with the reason in google.rpc.ErrorInfo like every other refusal.
    expect(stolenConfirm).toEqual(unknown);
    expect([unknown.code, unknown.reason]).toEqual([status.NOT_FOUND, 'OTP_TXN_NOT_FOUND']);
    const resent = await refusalOf(umang.resend(txnId));
    expect([resent.code, resent.reason]).toEqual([status.NOT_FOUND, 'OTP_TXN_NOT_FOUND']);
    // The owner is unaffected: no attempt was spent by the intruder.
    const { claims } = await portal.confirm(txnId, code);
    const stolenRevoke = await refusalOf(umang.revoke(claims?.tokenId ?? ''));
    expect([stolenRevoke.code, stolenRevoke.reason]).toEqual([
      status.PERMISSION_DENIED,
      'NOT_TOKEN_OWNER',
    ]);
    const unknownRevoke = await refusalOf(portal.revoke(randomUUID()));
    expect([unknownRevoke.code, unknownRevoke.reason]).toEqual([
      status.NOT_FOUND,
      'TOKEN_NOT_FOUND',
    ]);
  });

  it('refuses a revoked token once the token.revoked event arrives through Kafka; revoking twice emits once', async () => {
    const portal = newClient();
    const { token, claims } = await login(portal);
    const tokenId = claims?.tokenId ?? '';
    await expect(verifier.verify(token, AUDIENCE.citizen)).resolves.toBeDefined();
    await portal.revoke(tokenId);
    await portal.revoke(tokenId);
    await eventually(async () =>
      expect(await verifyRefusal(token, AUDIENCE.citizen)).toBe('TOKEN_REVOKED'),
    );
    const revoked = await collector.waitFor(
      (event) => event.type === EVENTS.tokenRevoked.name && event.subject?.ref === tokenId,
    );
    expect(revoked).toHaveLength(1);
    expect(revoked[0]?.subject?.kind).toBe(SubjectKind.SUBJECT_KIND_TOKEN);
    // A second event would have been relayed right after the first; make sure it was not.
    await collector.waitFor(() => true, await outboxCount());
    expect(collector.events.filter((event) => event.subject?.ref === tokenId)).toHaveLength(1);
  });

  it("a citizen lists the consent grants naming their mobile and withdraws one: refused at once wherever tokens are verified; another citizen's grant is NOT_FOUND", async () => {
    const vaccinatorApp = newClient();
    const web = newClient();
    const staffConsent = {
      beneficiaryRef: '',
      beneficiaryRefs: [REF],
      grantee: { kind: otpV1.GranteeKind.GRANTEE_KIND_STAFF, id: 'stf-withdraw-1' },
    };
    const grant = await login(vaccinatorApp, otpV1.OtpPurpose.OTP_PURPOSE_CONSENT, {
      consent: staffConsent,
    });
    const citizen = await login(web, CITIZEN, { mobile: grant.mobile });
    const stranger = await login(web);

    const listed = await web.listMyConsents(citizen.token);
    expect(listed.grants).toEqual([
      {
        grantId: grant.claims?.tokenId,
        consent: staffConsent,
        clientId: vaccinatorApp.clientId,
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
        issuedAt: grant.claims?.issuedAt,
        expiresAt: grant.claims?.expiresAt,
      },
    ]);
    expect((await web.listMyConsents(stranger.token)).grants).toEqual([]);

    const grantId = grant.claims?.tokenId ?? '';
    const theirs = await refusalOf(web.withdrawConsent(grantId, stranger.token));
    expect([theirs.code, theirs.reason]).toEqual([status.NOT_FOUND, 'CONSENT_NOT_FOUND']);
    const noToken = await refusalOf(web.withdrawConsent(grantId));
    expect([noToken.code, noToken.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_REQUIRED']);
    // The grant itself is no citizen's token, nor is a citizen token another client's.
    const byGrant = await refusalOf(vaccinatorApp.withdrawConsent(grantId, grant.token));
    expect(byGrant.code).toBe(status.UNAUTHENTICATED);
    const relayed = await refusalOf(vaccinatorApp.withdrawConsent(grantId, citizen.token));
    expect([relayed.code, relayed.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_CLIENT']);
    await expect(verifier.verify(grant.token, AUDIENCE.consent)).resolves.toBeDefined();

    await web.withdrawConsent(grantId, citizen.token);
    await eventually(async () =>
      expect(await verifyRefusal(grant.token, AUDIENCE.consent)).toBe('TOKEN_REVOKED'),
    );
    expect((await web.listMyConsents(citizen.token)).grants).toEqual([]);
    const [withdrawn] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.consentWithdrawn.name && event.actor?.clientId === web.clientId,
    );
    expect(withdrawn?.actor?.kind).toBe(ActorKind.ACTOR_KIND_CITIZEN);
    expect(withdrawn?.subject).toEqual({
      kind: SubjectKind.SUBJECT_KIND_MOBILE,
      ref: grant.claims?.subject,
    });
    expect(readPayload(withdrawn!, EVENTS.consentWithdrawn)).toMatchObject({
      tokenId: grantId,
      consent: staffConsent,
    });
  });

  it('rotates signing keys with overlap: the old key verifies until its last token expires', async () => {
    const portal = newClient();
    // Step to just before the active key is due, and take a token signed by it.
    const oldKid = app.keys.activeKeyId;
    const createdAt = app.keys.activeKeyCreatedAt?.getTime() ?? clock.now().getTime();
    clock.advance(Math.max(0, createdAt + 24 * 3_600_000 - MINUTE - clock.now().getTime()));
    const before = await login(portal);
    expect(before.claims?.keyId).toBe(oldKid);

    clock.advance(2 * MINUTE);
    await app.keys.maintain();
    const newKid = app.keys.activeKeyId;
    expect(newKid).not.toBe(oldKid);
    expect((await portal.signingKeys()).keys.map((k) => k.kid).slice(0, 2)).toEqual([
      newKid,
      oldKid,
    ]);

    const after = await login(portal);
    expect(after.claims?.keyId).toBe(newKid);
    await expect(verifier.verify(before.token, AUDIENCE.citizen)).resolves.toMatchObject({
      keyId: oldKid,
    });
    await expect(verifier.verify(after.token, AUDIENCE.citizen)).resolves.toMatchObject({
      keyId: newKid,
    });

    // Once every token of the old key has expired (and the margin passed), it is withdrawn.
    clock.advance(LONGEST_TOKEN_TTL_MS + KEY_RETIREMENT_MARGIN_MS);
    expect((await portal.signingKeys()).keys.map((k) => k.kid)).toEqual([newKid]);
  });

  it('every event names the client as actor and a blind index or token id as subject', async () => {
    const portal = newClient();
    const { txnId } = await portal.generate({ mobile: freshMobile(), purpose: CITIZEN });
    const code = await codeFor(txnId);
    await refusalOf(portal.confirm(txnId, code === '000000' ? '000001' : '000000'));
    const { claims } = await portal.confirm(txnId, code);
    await portal.revoke(claims?.tokenId ?? '');
    const events = await eventsOf(portal.clientId, 4);
    // The revocation is keyed by the token, the others by the mobile: partitions differ,
    // so only the order of one subject's events is guaranteed.
    expect(events.map((event) => event.type).sort()).toEqual(
      [
        EVENTS.otpRequested.name,
        EVENTS.otpFailed.name,
        EVENTS.otpConfirmed.name,
        EVENTS.tokenRevoked.name,
      ].sort(),
    );
    for (const event of events) {
      expect(event.producer).toBe('otp');
      expect(event.actor).toEqual({
        kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT,
        principalId: portal.clientId,
        clientId: portal.clientId,
      });
      if (event.type === EVENTS.tokenRevoked.name) {
        expect(event.subject).toEqual({
          kind: SubjectKind.SUBJECT_KIND_TOKEN,
          ref: claims?.tokenId,
        });
      } else {
        expect(event.subject?.kind).toBe(SubjectKind.SUBJECT_KIND_MOBILE);
        expect(event.subject?.ref).toBe(claims?.subject);
      }
    }
  });

  it('leaks no mobile number and no code: not in any event, log line, or database row of the run', async () => {
    // Activity of this test's own: sign-ins, a consent, a wrong code, a resend, a revocation.
    const portal = newClient();
    const linesBefore = logs.lines.length;
    const mobiles: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { mobile, claims } = await login(portal);
      mobiles.push(mobile);
      if (i === 0) await portal.revoke(claims?.tokenId ?? '');
    }
    const consent = await login(portal, otpV1.OtpPurpose.OTP_PURPOSE_CONSENT, {
      consent: {
        beneficiaryRef: '',
        beneficiaryRefs: [REF],
        grantee: { kind: otpV1.GranteeKind.GRANTEE_KIND_PARTNER_CLIENT, id: portal.clientId },
      },
    });
    mobiles.push(consent.mobile);
    const failing = freshMobile();
    mobiles.push(failing);
    const { txnId } = await portal.generate({ mobile: `+91 ${failing}`, purpose: CITIZEN });
    const code = await codeFor(txnId);
    await refusalOf(portal.confirm(txnId, code === '000000' ? '000001' : '000000'));
    clock.advance(30_000);
    await portal.resend(txnId);

    const codes = new Set((await readAllDevSms(smsFile)).map((sms) => sms.code));
    expect(codes.size).toBeGreaterThanOrEqual(6);
    await eventsOf(portal.clientId, 14);
    await collector.waitFor(() => true, await outboxCount());

    const eventText = collector.rawMessages.map((bytes) => bytes.toString('latin1')).join('\n');
    expect(leaks(eventText, mobiles, codes)).toEqual([]);
    const logText = logs.text();
    expect(logs.lines.length - linesBefore).toBeGreaterThan(10);
    expect(leaks(logText, mobiles, codes)).toEqual([]);
    // Nothing even had to be redacted: no sensitive value was handed to the logger.
    expect(logText).not.toContain('[REDACTED');

    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const { rows: tables } = await db.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
      );
      let dump = '';
      for (const { table_name } of tables) {
        const { rows } = await db.query<{ row: string }>(
          `SELECT t::text AS row FROM ${table_name} t`,
        );
        dump += rows.map((r) => r.row).join('\n');
      }
      expect(dump).toContain(txnId);
      expect(leaks(dump, mobiles, codes)).toEqual([]);
    } finally {
      await db.end();
    }
  });

  async function outboxCount(): Promise<number> {
    const { rows } = await app.runtime.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox',
    );
    return rows[0]?.n ?? 0;
  }
});
