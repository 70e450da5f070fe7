import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDevSms } from '@vaxguard/dev-sms';
import { ActorKind, EVENTS, readPayload, SubjectKind } from '@vaxguard/event-catalogue';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { MemoryLogSink } from '@vaxguard/logging';
import { identityV1, otpV1 } from '@vaxguard/proto';
import {
  EventCollector,
  eventually,
  leaks,
  refusalOf,
  spawnService,
  startKafka,
  startPostgres,
  testClient,
  type KafkaFixture,
  type PostgresFixture,
  type ServiceProcess,
} from '@vaxguard/testing';
import { SERVICE_SCOPES, TOKEN_HEADER } from '@vaxguard/tokens';
import { createIdentityApp, type IdentityApp } from './app';
import { readConfig } from './config';

const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const MOBILE_INDEX_KEY = key(31);
const AADHAAR = { kind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR };
// Valid Aadhaar numbers (Verhoeff check digit), each used by one test only.
const AADHAARS = [
  '234123412346',
  '499118665246',
  '987654321096',
  '379012345672',
  '502312345675',
  '614141414147',
  '723456789011',
  '845678901231',
  '258369147024',
  '369258147035',
  '471829305641',
  '582930416758',
  '693041527860',
  '714152638977',
  '825263749085',
  '936374850194',
];

/**
 * The identity service in-process against real PostgreSQL and Kafka, with the built OTP
 * service as its own process issuing real tokens (services never import each other). Each test owns its mobiles, its
 * documents and its client application.
 */
describe('identity service (real OTP tokens, PostgreSQL and Kafka)', () => {
  const logs = new MemoryLogSink();
  const clients = Array.from({ length: 24 }, (_, i) => testClient(`partner-${i}`));
  const service = testClient('svc-identity');
  let postgres: PostgresFixture;
  let kafka: KafkaFixture;
  let dir: string;
  let identityDb: string;
  let otp: ServiceProcess;
  let identity: IdentityApp;
  let collector: EventCollector;
  const opened: { close(): void }[] = [];
  const rawValues = new Set<string>();

  let mobileCounter = 0;
  function freshMobile(): string {
    const mobile = `97${String(2_000_000 + mobileCounter++).padStart(8, '0')}`;
    rawValues.add(mobile);
    return mobile;
  }
  let documentCounter = 0;
  function freshAadhaar(): string {
    const aadhaar = AADHAARS[documentCounter++];
    if (!aadhaar) throw new Error('no Aadhaar numbers left for this test');
    rawValues.add(aadhaar);
    return aadhaar;
  }
  let clientCounter = 0;

  /** A client application of the test's own, talking to both services. */
  function newClient() {
    const credential = clients[clientCounter++];
    if (!credential) throw new Error('the client pool is used up');
    const otpClient = new otpV1.OtpServiceClient(otp.address, credentials.createInsecure());
    const identityClient = new identityV1.IdentityServiceClient(
      `127.0.0.1:${identity.runtime.port}`,
      credentials.createInsecure(),
    );
    opened.push(otpClient, identityClient);
    const metadata = (token?: string): Metadata => {
      const md = clientMetadata(credential.clientId, credential.secret);
      if (token) md.set(TOKEN_HEADER, token);
      return md;
    };
    const deadline = () => ({ deadline: new Date(Date.now() + 10_000) });
    return {
      clientId: credential.clientId,
      /** A citizen's OTP sign-in, the code read from the dev SMS inbox. */
      async signIn(mobile: string) {
        const { txnId } = await unaryCall<otpV1.GenerateOtpResponse>((done) =>
          otpClient.generateOtp(
            {
              mobile,
              purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
              consent: undefined,
              onBehalfOfClientId: '',
            },
            metadata(),
            deadline(),
            done,
          ),
        );
        return this.confirm(txnId);
      },
      /** Confirms a transaction with the code the person received. */
      async confirm(txnId: string) {
        const sms = await eventually(async () => {
          const found = await readDevSms(join(dir, 'sms.jsonl'), txnId);
          if (!found) throw new Error('no SMS yet');
          return found;
        });
        return unaryCall<otpV1.ConfirmOtpResponse>((done) =>
          otpClient.confirmOtp({ txnId, otp: sms.code }, metadata(), deadline(), done),
        );
      },
      requestConsent: (target: identityV1.RequestConsentRequest['target']) =>
        unaryCall<identityV1.RequestConsentResponse>((done) =>
          identityClient.requestConsent({ target }, metadata(), deadline(), done),
        ),
      revoke: (tokenId: string) =>
        unaryCall<otpV1.RevokeTokenResponse>((done) =>
          otpClient.revokeToken({ tokenId }, metadata(), deadline(), done),
        ),
      register: (token: string, request: Partial<identityV1.RegisterBeneficiaryRequest>) =>
        unaryCall<identityV1.RegisterBeneficiaryResponse>((done) =>
          identityClient.registerBeneficiary(
            {
              mobile: '',
              name: 'Asha Devi',
              gender: identityV1.Gender.GENDER_FEMALE,
              yearOfBirth: 1961,
              photoIdKind: AADHAAR.kind,
              photoIdNumber: '',
              ...request,
            },
            metadata(token),
            deadline(),
            done,
          ),
        ),
      listMine: (token: string) =>
        unaryCall<identityV1.ListMyBeneficiariesResponse>((done) =>
          identityClient.listMyBeneficiaries({}, metadata(token), deadline(), done),
        ),
      get: (token: string, beneficiaryRef: string) =>
        unaryCall<identityV1.GetBeneficiaryResponse>((done) =>
          identityClient.getBeneficiary({ beneficiaryRef }, metadata(token), deadline(), done),
        ),
    };
  }
  type TestClient = ReturnType<typeof newClient>;

  /** A citizen signed in on a fresh mobile, with a beneficiary registered on it. */
  async function citizenWithBeneficiary(client: TestClient) {
    const mobile = freshMobile();
    const { token, claims } = await client.signIn(mobile);
    const aadhaar = freshAadhaar();
    const registered = await client.register(token, { mobile, photoIdNumber: aadhaar });
    return {
      mobile,
      token,
      tokenId: claims?.tokenId ?? '',
      mobileIndex: claims?.subject ?? '',
      aadhaar,
      ...registered,
    };
  }

  beforeAll(async () => {
    [postgres, kafka] = await Promise.all([startPostgres(), startKafka()]);
    dir = await mkdtemp(join(tmpdir(), 'identity-int-'));
    identityDb = await postgres.createDatabase();
    const allClients = [...clients, service].map((client) => client.credential).join(',');
    otp = await spawnService({
      entry: 'services/otp/dist/main.js',
      env: {
        DATABASE_URL: postgres.url,
        KAFKA_BROKERS: kafka.brokers.join(','),
        // Identity starts consent transactions for the partners that confirm them.
        CLIENT_CREDENTIALS: `${allClients}:${SERVICE_SCOPES.onBehalf}`,
        LOG_LEVEL: 'warn',
        OTP_HASH_KEY: key(32),
        MOBILE_INDEX_KEY,
        OTP_KEY_ENCRYPTION_KEY: key(33),
        OTP_SMS_DELIVERY: 'dev-sink',
        OTP_DEV_SMS_SINK: join(dir, 'sms.jsonl'),
      },
    });
    const config = readConfig({
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: identityDb,
      KAFKA_BROKERS: kafka.brokers.join(','),
      CLIENT_CREDENTIALS: allClients,
      LOG_LEVEL: 'debug',
      OTP_GRPC_ADDRESS: otp.address,
      SERVICE_CLIENT_ID: service.clientId,
      SERVICE_CLIENT_SECRET: service.secret,
      MOBILE_INDEX_KEY,
      DOCUMENT_INDEX_KEY: key(34),
      SECRET_CODE_KEY: key(35),
      IDENTITY_KEY_ENCRYPTION_KEYS: `kek-1:${key(36)}`,
    });
    identity = await createIdentityApp(config, { logSink: logs });
    await identity.runtime.start();
    collector = await EventCollector.start(kafka.brokers, [EVENTS.accessGranted.topic]);
  });

  afterAll(async () => {
    for (const client of opened) client.close();
    await collector?.stop().catch(() => undefined);
    await identity?.runtime.stop().catch(() => undefined);
    await otp?.stop().catch(() => undefined);
    await kafka?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('registers a beneficiary for the signed-in citizen: a ref, a 4-digit secret code, masked data only', async () => {
    const client = newClient();
    const { mobile, token, aadhaar, beneficiary, secretCode } =
      await citizenWithBeneficiary(client);
    expect(beneficiary?.beneficiaryRef).toMatch(/^bnf_[0-9a-z]{26}$/);
    expect(secretCode).toMatch(/^\d{4}$/);
    expect(beneficiary).toMatchObject({
      name: 'Asha Devi',
      gender: identityV1.Gender.GENDER_FEMALE,
      yearOfBirth: 1961,
      photoIdKind: AADHAAR.kind,
      maskedPhotoId: `XXXX XXXX ${aadhaar.slice(-4)}`,
      maskedMobile: `******${mobile.slice(-4)}`,
    });
    const { beneficiaries } = await client.listMine(token);
    expect(beneficiaries).toEqual([beneficiary]);
    const [registered] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.beneficiaryRegistered.name &&
        event.subject?.ref === beneficiary?.beneficiaryRef,
    );
    expect(readPayload(registered!, EVENTS.beneficiaryRegistered).mobileIndex).toMatch(
      /^[0-9a-f]{64}$/,
    );
  });

  it('refuses a registration on another mobile than the token proves', async () => {
    const client = newClient();
    const { token } = await client.signIn(freshMobile());
    const other = freshMobile();
    const refusal = await refusalOf(
      client.register(token, { mobile: other, photoIdNumber: freshAadhaar() }),
    );
    expect([refusal.code, refusal.reason]).toEqual([status.PERMISSION_DENIED, 'MOBILE_MISMATCH']);
    expect(refusal.message).not.toContain(other);
  });

  it('allows at most 4 beneficiaries on a mobile: the 5th is FAILED_PRECONDITION', async () => {
    const client = newClient();
    const mobile = freshMobile();
    const { token } = await client.signIn(mobile);
    for (let i = 0; i < 4; i++) {
      await client.register(token, {
        mobile,
        name: `Member ${'abcd'[i]}`,
        photoIdNumber: freshAadhaar(),
      });
    }
    const fifth = await refusalOf(
      client.register(token, { mobile, photoIdNumber: freshAadhaar() }),
    );
    expect([fifth.code, fifth.reason]).toEqual([status.FAILED_PRECONDITION, 'BENEFICIARY_LIMIT']);
    expect((await client.listMine(token)).beneficiaries).toHaveLength(4);
  });

  it('registers one identity document once: a duplicate is ALREADY_EXISTS and learns nothing', async () => {
    const first = await citizenWithBeneficiary(newClient());
    const client = newClient();
    const mobile = freshMobile();
    const { token } = await client.signIn(mobile);
    const duplicate = await refusalOf(
      client.register(token, { mobile, photoIdNumber: first.aadhaar.replace(/(\d{4})/g, '$1 ') }),
    );
    expect(duplicate).toEqual({
      code: status.ALREADY_EXISTS,
      message: 'this identity document is already registered',
      reason: 'DOCUMENT_REGISTERED',
    });
  });

  it("citizen A cannot read B's beneficiary, and gets the same answer as for a ref that does not exist", async () => {
    const aClient = newClient();
    const a = await citizenWithBeneficiary(aClient);
    const bClient = newClient();
    const b = await citizenWithBeneficiary(bClient);
    const theirs = await refusalOf(bClient.get(b.token, a.beneficiary?.beneficiaryRef ?? ''));
    const missing = await refusalOf(bClient.get(b.token, 'bnf_00000000000000000000000000'));
    expect(theirs).toEqual(missing);
    expect([theirs.code, theirs.reason]).toEqual([
      status.PERMISSION_DENIED,
      'BENEFICIARY_ACCESS_DENIED',
    ]);
    const [denied] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.accessDenied.name &&
        event.subject?.ref === a.beneficiary?.beneficiaryRef,
    );
    expect(denied?.actor).toEqual({
      kind: ActorKind.ACTOR_KIND_CITIZEN,
      principalId: b.mobileIndex,
      clientId: bClient.clientId,
    });
    expect(readPayload(denied!, EVENTS.accessDenied)).toEqual({
      method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
      reason: 'NOT_OWNER',
    });
    // Its owner reads it.
    const own = await aClient.get(a.token, a.beneficiary?.beneficiaryRef ?? '');
    expect(own.beneficiary).toEqual(a.beneficiary);
  });

  it('a partner reads one record with a consent grant for it, and nothing without one', async () => {
    const citizen = newClient();
    const owner = await citizenWithBeneficiary(citizen);
    const ref = owner.beneficiary?.beneficiaryRef ?? '';
    const partner = newClient();
    const { txnId } = await partner.requestConsent({ $case: 'mobile', value: owner.mobile });
    const grant = await partner.confirm(txnId);
    expect(grant.claims?.consent).toEqual({
      beneficiaryRef: '',
      beneficiaryRefs: [ref],
      grantee: { kind: otpV1.GranteeKind.GRANTEE_KIND_PARTNER_CLIENT, id: partner.clientId },
    });
    const { beneficiary } = await partner.get(grant.token, ref);
    expect(beneficiary?.beneficiaryRef).toBe(ref);
    expect(beneficiary?.maskedMobile).toBe('');

    const other = await citizenWithBeneficiary(newClient());
    const refused = await refusalOf(
      partner.get(grant.token, other.beneficiary?.beneficiaryRef ?? ''),
    );
    expect(refused.code).toBe(status.PERMISSION_DENIED);
    // A grant is bound to the client it was issued to.
    const thief = newClient();
    const stolen = await refusalOf(thief.get(grant.token, ref));
    expect([stolen.code, stolen.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_CLIENT']);
    const [granted] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.accessGranted.name &&
        event.subject?.ref === ref &&
        event.actor?.principalId === partner.clientId,
    );
    expect(readPayload(granted!, EVENTS.accessGranted)).toMatchObject({
      basis: 'CONSENT',
      grantId: grant.claims?.tokenId,
    });
    expect(granted?.subject?.kind).toBe(SubjectKind.SUBJECT_KIND_BENEFICIARY);
  });

  it('consent through a beneficiary ref reaches its mobile; the answer is the same for a mobile without beneficiaries', async () => {
    const owner = await citizenWithBeneficiary(newClient());
    const ref = owner.beneficiary?.beneficiaryRef ?? '';
    const partner = newClient();
    const viaRef = await partner.requestConsent({ $case: 'beneficiaryRef', value: ref });
    const grant = await partner.confirm(viaRef.txnId);
    expect(grant.claims?.consent?.beneficiaryRefs).toEqual([ref]);

    const empty = freshMobile();
    const nobody = await partner.requestConsent({ $case: 'mobile', value: empty });
    expect(Object.keys(nobody).sort()).toEqual(Object.keys(viaRef).sort());
    expect(nobody.txnId).toMatch(/^[0-9a-f-]{36}$/);
    expect(nobody.expiresAt!.getTime() - Date.now()).toBeGreaterThan(2 * 60_000);
    // A code went to that mobile too; its grant opens nothing.
    const opensNothing = await partner.confirm(nobody.txnId);
    expect(opensNothing.claims?.consent?.beneficiaryRefs).toEqual([]);
    const [requested] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.consentRequested.name &&
        readPayload(event, EVENTS.consentRequested).txnId === nobody.txnId,
    );
    expect(requested?.subject?.kind).toBe(SubjectKind.SUBJECT_KIND_MOBILE);
    expect(readPayload(requested!, EVENTS.consentRequested).beneficiaryCount).toBe(0);

    const bad = await refusalOf(partner.requestConsent({ $case: 'mobile', value: '12345' }));
    expect([bad.code, bad.reason]).toEqual([status.INVALID_ARGUMENT, 'INVALID_MOBILE']);
  });

  it('a token revoked through the OTP service is refused by identity (propagation measured)', async () => {
    const client = newClient();
    const { token, tokenId } = await citizenWithBeneficiary(client);
    await client.listMine(token);
    const revokedAt = performance.now();
    await client.revoke(tokenId);
    const refusal = await eventually(
      async () => {
        const outcome = await refusalOf(client.listMine(token));
        return outcome;
      },
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    const propagationMs = performance.now() - revokedAt;
    process.stdout.write(
      `[measure] revocation propagation OTP -> identity: ${propagationMs.toFixed(0)} ms\n`,
    );
    expect([refusal.code, refusal.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_REVOKED']);
    expect(propagationMs).toBeLessThan(30_000);
  });

  it('a pg_dump of the identity database holds none of the mobile or identity numbers used', async () => {
    await citizenWithBeneficiary(newClient());
    const dump = await postgres.dump(identityDb);
    expect(dump).toContain('beneficiaries');
    expect(leaks(dump, rawValues)).toEqual([]);
    expect(leaks(logs.text(), rawValues)).toEqual([]);
  });
});
