import { credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessRegistry, startAccessRegistryListener } from '@vaxguard/auth';
import { readAllDevSms } from '@vaxguard/dev-sms';
import { ActorKind, EVENTS, readPayload, SubjectKind } from '@vaxguard/event-catalogue';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { MemoryLogSink } from '@vaxguard/logging';
import { identityStaffV1, identityV1, otpV1 } from '@vaxguard/proto';
import {
  EventCollector,
  eventually,
  leaks,
  madeUpAadhaar,
  outcomeOf,
  refusalOf,
  startPlatform,
  testClient,
  type Platform,
} from '@vaxguard/testing';
import { SERVICE_SCOPES, TOKEN_HEADER } from '@vaxguard/tokens';
import { createIdentityApp, type IdentityApp } from './app';
import { readConfig } from './config';
import { hashStaffPassword } from './domain/staff-passwords';

const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const AADHAAR = { kind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR };

/**
 * The identity service in-process against real PostgreSQL and Kafka, with the built OTP
 * service as its own process issuing real tokens (services never import each other). Each test owns its mobiles, its
 * documents and its client application.
 */
describe('identity service (real OTP tokens, PostgreSQL and Kafka)', () => {
  const logs = new MemoryLogSink();
  const clients = Array.from({ length: 48 }, (_, i) => testClient(`partner-${i}`));
  // The audit service's own principal: it may suspend (nothing else of the kill switch).
  const audit = testClient('svc-audit');
  // Identity's own principal at OTP (this identity runs in-process, not in the platform):
  // it starts consent and staff sign-in transactions and has secret-code grants signed.
  const identityService = testClient('svc-identity');
  const ADMIN = { username: 'root.admin', password: 'bootstrap admin passphrase', mobile: '' };
  let platform: Platform;
  let identityDb: string;
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
  let aadhaarCounter = 0;
  function freshAadhaar(): string {
    const aadhaar = madeUpAadhaar(aadhaarCounter++);
    rawValues.add(aadhaar);
    return aadhaar;
  }
  let clientCounter = 0;

  /** A client application of the test's own (or the one given), talking to both services. */
  function newClient(given?: { clientId: string; secret: string }) {
    const credential = given ?? clients[clientCounter++];
    if (!credential) throw new Error('the client pool is used up');
    const kit = platform.connect(credential, {
      identityAddress: `127.0.0.1:${identity.runtime.port}`,
    });
    // Closed before the in-process identity stops (the platform closes them again).
    opened.push(kit.identity, kit.otp);
    const otpClient = new otpV1.OtpServiceClient(
      platform.address('otp'),
      credentials.createInsecure(),
    );
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
    /** A call's options: never retried, with the user's token when there is one. */
    const as = (token?: string) => {
      if (!token) return { idempotent: false };
      const md = new Metadata();
      md.set(TOKEN_HEADER, token);
      return { idempotent: false, metadata: md };
    };
    return {
      clientId: credential.clientId,
      ...kit,
      as,
      /** A staff sign-in: the password, then the STAFF_LOGIN code sent to the staff mobile. */
      async staffSession(username: string, password: string) {
        const { txnId } = await kit.identity.call('startStaffLogin', { username, password }, as());
        const { token } = await this.confirm(txnId);
        return token;
      },
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
        const code = await platform.smsCode(txnId);
        return unaryCall<otpV1.ConfirmOtpResponse>((done) =>
          otpClient.confirmOtp({ txnId, otp: code }, metadata(), deadline(), done),
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
    ADMIN.mobile = freshMobile();
    platform = await startPlatform({
      services: ['otp'],
      otpClients: [
        ...clients.map((client) => client.credential),
        `${identityService.credential}:${SERVICE_SCOPES.onBehalf}+${SERVICE_SCOPES.issueConsent}`,
      ],
    });
    const { kafka } = platform;
    identityDb = await platform.postgres.createDatabase();
    const allClients = [...clients, identityService].map((client) => client.credential);
    const config = readConfig({
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: identityDb,
      KAFKA_BROKERS: kafka.brokers.join(','),
      CLIENT_CREDENTIALS: `${allClients.join(',')},${audit.credential}:${SERVICE_SCOPES.suspendPrincipals}`,
      LOG_LEVEL: 'debug',
      PLATFORM_ADMIN_BOOTSTRAP: `${ADMIN.username}:${ADMIN.mobile}:${await hashStaffPassword(ADMIN.password)}`,
      OTP_GRPC_ADDRESS: platform.address('otp'),
      SERVICE_CLIENT_ID: identityService.clientId,
      SERVICE_CLIENT_SECRET: identityService.secret,
      MOBILE_INDEX_KEY: platform.mobileIndexKey,
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
    await platform?.stop();
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

  it("a partner's burst of consent requests for 300 fresh mobiles sends at most its per-minute consent SMS quota; the rest are RESOURCE_EXHAUSTED CONSENT_SMS_QUOTA with a retry hint", async () => {
    const partner = newClient();
    const mobiles = Array.from({ length: 300 }, () => freshMobile());
    // The quota is per minute of the clock: a burst that started late in a minute could
    // take two minutes' quotas, so it starts early in one.
    if (Date.now() % 60_000 > 40_000) {
      await new Promise((resolve) => setTimeout(resolve, 60_000 - (Date.now() % 60_000) + 50));
    }
    const inboxBefore = (await readAllDevSms(platform.smsInbox)).length;
    const minuteBefore = Math.floor(Date.now() / 60_000);
    const answered: identityV1.RequestConsentResponse[] = [];
    const outcomes = await Promise.all(
      mobiles.map((mobile) =>
        outcomeOf(
          partner.requestConsent({ $case: 'mobile', value: mobile }).then((answer) => {
            answered.push(answer);
          }),
        ),
      ),
    );
    const minutesSpanned = Math.floor(Date.now() / 60_000) - minuteBefore + 1;
    const refusals = outcomes.flatMap((outcome) => (outcome ? [outcome] : []));
    const inbox = (await readAllDevSms(platform.smsInbox)).slice(inboxBefore);
    process.stdout.write(
      `[measure] 300 consent requests by one partner: ${answered.length} answered, ${inbox.length} SMS sent, ${refusals.length} refused (${minutesSpanned} minute(s))\n`,
    );
    expect(minutesSpanned).toBe(1);
    // The default quota, 20 a minute: every answer one SMS, nothing more went out.
    expect(answered).toHaveLength(20);
    expect(inbox.map((sms) => sms.txnId).sort()).toEqual(answered.map((a) => a.txnId).sort());
    expect(new Set(refusals.map((r) => `${status[r.code]} ${r.reason}`))).toEqual(
      new Set(['RESOURCE_EXHAUSTED CONSENT_SMS_QUOTA']),
    );
    for (const refusal of refusals) {
      // Until the minute ends: within it, and not at once.
      expect(refusal.retryAfterMs).toBeGreaterThan(0);
      expect(refusal.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(leaks(refusal.message, rawValues)).toEqual([]);
    }
    // Every request is an event naming the partner, the refused ones with their reason.
    const events = await collector.waitFor(
      (event) =>
        event.type === EVENTS.consentRequested.name &&
        event.actor?.principalId === partner.clientId,
      300,
    );
    const refused = events.filter(
      (event) => readPayload(event, EVENTS.consentRequested).refusal === 'CONSENT_SMS_QUOTA',
    );
    expect(refused).toHaveLength(280);
    expect(leaks(JSON.stringify(events), rawValues)).toEqual([]);
  });

  it("a partner's day quota from its registry entry holds: past it, refused until midnight in India", async () => {
    const admin = await adminSession();
    const registered = await admin.console.identity.call(
      'registerPartner',
      {
        clientId: 'cowin-day-quota',
        displayName: 'Day Quota',
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: 100,
        consentSmsPerDay: 3,
      },
      admin.console.as(admin.token),
    );
    rawValues.add(registered.clientSecret);
    const partner = newClient({ clientId: registered.clientId, secret: registered.clientSecret });
    const ask = () => partner.requestConsent({ $case: 'mobile', value: freshMobile() });
    // Accepted once identity's registry has the partner (a refused sign-in counts nothing).
    await eventually(ask, { timeoutMs: 30_000, intervalMs: 50 });
    await ask();
    await ask();
    const refused = await refusalOf(ask());
    const retryAt = Date.now() + (refused.retryAfterMs ?? 0);
    expect([refused.code, refused.reason]).toEqual([
      status.RESOURCE_EXHAUSTED,
      'CONSENT_SMS_QUOTA',
    ]);
    // The hint is the next midnight IST (18:30 UTC), within the time the call took.
    const IST_MS = 5.5 * 3_600_000;
    const intoDayIst = (retryAt + IST_MS) % 86_400_000;
    expect(Math.min(intoDayIst, 86_400_000 - intoDayIst)).toBeLessThan(5_000);
    expect(refused.message).toMatch(/3 people for consent a day/);
    // The registration announced the quota in force: its own for the day, the default minute.
    const [announced] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.partnerRegistered.name && event.subject?.ref === registered.clientId,
    );
    expect(readPayload(announced!, EVENTS.partnerRegistered)).toMatchObject({
      consentSmsPerMinute: 20,
      consentSmsPerDay: 3,
    });
  });

  it('a partner asking for a mobile with no beneficiaries is answered as for a registered one, and the request is published as naming nobody registered', async () => {
    const owner = await citizenWithBeneficiary(newClient());
    const partner = newClient();
    const stranger = freshMobile();
    const registered = await partner.requestConsent({ $case: 'mobile', value: owner.mobile });
    const unregistered = await partner.requestConsent({ $case: 'mobile', value: stranger });
    expect(Object.keys(unregistered).sort()).toEqual(Object.keys(registered).sort());
    for (const answer of [registered, unregistered]) {
      expect(answer.txnId).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.expiresAt!.getTime() - Date.now()).toBeGreaterThan(2 * 60_000);
    }
    // Both are real transactions: a wrong code is refused alike for each.
    const wrongCode = (txnId: string) =>
      refusalOf(partner.otp.call('confirmOtp', { txnId, otp: '000000' }, partner.as()));
    const [onRegistered, onUnregistered] = [
      await wrongCode(registered.txnId),
      await wrongCode(unregistered.txnId),
    ];
    expect([onUnregistered.code, onUnregistered.reason]).toEqual([
      onRegistered.code,
      onRegistered.reason,
    ]);
    // The events tell the audit service which one named nobody registered.
    const payloadOf = async (txnId: string) => {
      const [event] = await collector.waitFor(
        (e) =>
          e.type === EVENTS.consentRequested.name &&
          readPayload(e, EVENTS.consentRequested).txnId === txnId,
      );
      expect(event?.actor?.principalId).toBe(partner.clientId);
      expect(leaks(JSON.stringify(event), rawValues)).toEqual([]);
      return readPayload(event!, EVENTS.consentRequested);
    };
    expect(await payloadOf(registered.txnId)).toMatchObject({ beneficiaryCount: 1, refusal: '' });
    expect(await payloadOf(unregistered.txnId)).toMatchObject({
      beneficiaryCount: 0,
      refusal: '',
    });
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

  /**
   * A platform admin's session, from the admin bootstrapped by configuration: signed in
   * once and shared, as one admin's mobile gets at most 5 codes in 15 minutes.
   */
  let admin: Promise<{ console: TestClient; token: string }> | undefined;
  function adminSession() {
    admin ??= (async () => {
      const console_ = newClient();
      return {
        console: console_,
        token: await console_.staffSession(ADMIN.username, ADMIN.password),
      };
    })();
    return admin;
  }

  let staffCounter = 0;
  /** A centre, a vaccinator at it and the vaccinator's session on their own app. */
  async function vaccinatorOnDuty() {
    const admin = await adminSession();
    const { centre } = await admin.console.identity.call(
      'createCentre',
      { name: `PHC ${staffCounter}`, district: 'Pune', state: 'Maharashtra' },
      admin.console.as(admin.token),
    );
    const username = `vaccinator.${staffCounter++}`;
    const password = `a long passphrase number ${staffCounter}`;
    const { staff } = await admin.console.identity.call(
      'createStaff',
      {
        username,
        displayName: 'Vaccinator',
        role: identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
        centreId: centre?.centreId ?? '',
        mobile: freshMobile(),
        password,
      },
      admin.console.as(admin.token),
    );
    const app = newClient();
    return {
      admin,
      app,
      staffId: staff?.staffId ?? '',
      username,
      password,
      token: await app.staffSession(username, password),
    };
  }

  /** The staff sign-in failures published for a client, once `count` have arrived. */
  const signInFailuresOf = (clientId: string, count: number) =>
    collector.waitFor(
      (event) =>
        event.type === EVENTS.staffLoginFailed.name && event.actor?.principalId === clientId,
      count,
    );

  /** Bytes of everything published and logged, where no username or password may be. */
  function leakedSecrets(secrets: readonly string[]): string[] {
    const published = Buffer.concat(collector.rawMessages);
    const logged = logs.text();
    return secrets.filter((secret) => published.includes(secret) || logged.includes(secret));
  }

  it('a failed staff sign-in is an event naming the account, or an unknown username by a keyed index only; the locking one also a staff_login.locked', async () => {
    const vaccinator = await vaccinatorOnDuty();
    const guesser = newClient();
    const unknown = `nobody.${guesser.clientId}`;
    const guess = (username: string, password: string) =>
      refusalOf(guesser.identity.call('startStaffLogin', { username, password }, guesser.as()));
    const refusals = [await guess(unknown, 'a guessed passphrase 0')];
    for (let i = 1; i <= 10; i++) {
      refusals.push(await guess(vaccinator.username, `a guessed passphrase ${i}`));
    }
    expect(new Set(refusals.map((r) => `${r.code}/${r.reason}/${r.message}`)).size).toBe(1);
    expect(refusals[0]?.reason).toBe('BAD_LOGIN');
    // Each subject's events are in order (one partition key); subjects may interleave.
    const failures = await signInFailuresOf(guesser.clientId, 11);
    const [byIndex, ...others] = failures.filter(
      (event) => event.subject?.kind === SubjectKind.SUBJECT_KIND_STAFF_USERNAME,
    );
    expect(others).toEqual([]);
    expect(byIndex?.subject?.ref).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const byAccount = failures.filter(
      (event) => event.subject?.kind === SubjectKind.SUBJECT_KIND_STAFF,
    );
    expect(byAccount.map((event) => event.subject?.ref)).toEqual(
      Array.from({ length: 10 }, () => vaccinator.staffId),
    );
    expect(byAccount.map((event) => readPayload(event, EVENTS.staffLoginFailed).failures)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    expect(byIndex?.actor).toEqual({
      kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT,
      principalId: guesser.clientId,
      clientId: guesser.clientId,
    });
    const [locked, ...more] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.staffLoginLocked.name && event.subject?.ref === vaccinator.staffId,
    );
    expect(more).toEqual([]);
    expect(locked?.actor?.principalId).toBe(guesser.clientId);
    // Locked now: the right password is refused alike, and is a failure with the lock on it.
    expect((await guess(vaccinator.username, vaccinator.password)).reason).toBe('BAD_LOGIN');
    const afterLock = (await signInFailuresOf(guesser.clientId, 12))
      .filter((event) => event.subject?.ref === vaccinator.staffId)
      .at(-1);
    expect(afterLock && readPayload(afterLock, EVENTS.staffLoginFailed).accountLocked).toBe(true);
    expect(
      leakedSecrets([unknown, vaccinator.username, vaccinator.password, 'a guessed passphrase']),
    ).toEqual([]);
  });

  it('one client failing at many usernames is throttled, alike for a real and an unknown username, while other clients sign in', async () => {
    const vaccinator = await vaccinatorOnDuty();
    const sprayer = newClient();
    // The limit counts per minute: start with time for the spray to land in one minute.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 40_000)
      await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute));
    const spray = (username: string, password = 'Spring2026 common passphrase') =>
      refusalOf(sprayer.identity.call('startStaffLogin', { username, password }, sprayer.as()));
    const sprayed = Array.from({ length: 10 }, (_, i) => `sprayed.${i}.${sprayer.clientId}`);
    const first = await Promise.all(sprayed.map((username) => spray(username)));
    expect(new Set(first.map((r) => r.reason))).toEqual(new Set(['BAD_LOGIN']));
    const real = await spray(vaccinator.username, vaccinator.password);
    const nobody = await spray(`one.more.${sprayer.clientId}`);
    expect([real.code, real.reason]).toEqual([status.RESOURCE_EXHAUSTED, 'STAFF_LOGIN_RATE']);
    expect(nobody).toMatchObject({ code: real.code, reason: real.reason, message: real.message });
    expect(real.retryAfterMs).toBeGreaterThan(0);
    expect(real.retryAfterMs).toBeLessThanOrEqual(60_000);
    // The vaccinator's own app is another client: not held back.
    await expect(
      vaccinator.app.staffSession(vaccinator.username, vaccinator.password),
    ).resolves.toBeTruthy();
    const events = await signInFailuresOf(sprayer.clientId, 12);
    const throttled = events.filter(
      (event) => readPayload(event, EVENTS.staffLoginFailed).clientThrottled,
    );
    expect(throttled.map((event) => event.subject?.kind).sort()).toEqual(
      [SubjectKind.SUBJECT_KIND_STAFF, SubjectKind.SUBJECT_KIND_STAFF_USERNAME].sort(),
    );
    expect(leakedSecrets([...sprayed, 'Spring2026 common passphrase'])).toEqual([]);
  });

  it('staff sign in with a password and an OTP; a vaccinator reads a record only with consent, seeing the staff view', async () => {
    const vaccinator = await vaccinatorOnDuty();
    const owner = await citizenWithBeneficiary(newClient());
    const ref = owner.beneficiary?.beneficiaryRef ?? '';
    const wrong = await refusalOf(
      vaccinator.app.identity.call(
        'startStaffLogin',
        { username: ADMIN.username, password: 'not it at all' },
        vaccinator.app.as(),
      ),
    );
    expect([wrong.code, wrong.reason]).toEqual([status.UNAUTHENTICATED, 'BAD_LOGIN']);
    // A staff session alone opens no record.
    const noConsent = await refusalOf(
      vaccinator.app.identity.call(
        'getBeneficiary',
        { beneficiaryRef: ref },
        vaccinator.app.as(vaccinator.token),
      ),
    );
    expect([noConsent.code, noConsent.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_AUDIENCE']);
    // Consent by OTP, asked in the vaccinator's own name.
    const { txnId } = await vaccinator.app.identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: owner.mobile } },
      vaccinator.app.as(vaccinator.token),
    );
    const grant = await vaccinator.app.confirm(txnId);
    expect(grant.claims?.consent?.grantee).toEqual({
      kind: otpV1.GranteeKind.GRANTEE_KIND_STAFF,
      id: vaccinator.staffId,
    });
    const { beneficiary } = await vaccinator.app.identity.call(
      'getBeneficiary',
      { beneficiaryRef: ref },
      vaccinator.app.as(grant.token),
    );
    expect(beneficiary).toEqual({ ...owner.beneficiary, maskedMobile: '' });
    // Consent by the secret code the citizen was shown at registration.
    const bySecret = await vaccinator.app.identity.call(
      'verifySecretCode',
      { beneficiaryRef: ref, secretCode: owner.secretCode },
      vaccinator.app.as(vaccinator.token),
    );
    const again = await vaccinator.app.identity.call(
      'getBeneficiary',
      { beneficiaryRef: ref },
      vaccinator.app.as(bySecret.token),
    );
    expect(again.beneficiary?.beneficiaryRef).toBe(ref);
  });

  it('locks a secret code after 5 wrong tries, the right one refused after, and says so in an event', async () => {
    const vaccinator = await vaccinatorOnDuty();
    const owner = await citizenWithBeneficiary(newClient());
    const ref = owner.beneficiary?.beneficiaryRef ?? '';
    const wrongCode = owner.secretCode === '0000' ? '0001' : '0000';
    const tries: string[] = [...Array.from({ length: 5 }, () => wrongCode), owner.secretCode];
    const refusals = [];
    for (const secretCode of tries) {
      refusals.push(
        await outcomeOf(
          vaccinator.app.identity.call(
            'verifySecretCode',
            { beneficiaryRef: ref, secretCode },
            vaccinator.app.as(vaccinator.token),
          ),
        ),
      );
    }
    expect(new Set(refusals.map((refusal) => `${refusal?.code}/${refusal?.reason}`))).toEqual(
      new Set([`${status.PERMISSION_DENIED}/SECRET_CODE_REFUSED`]),
    );
    const [locked] = await collector.waitFor(
      (event) => event.type === EVENTS.secretCodeLocked.name && event.subject?.ref === ref,
    );
    expect(locked?.actor?.principalId).toBe(vaccinator.staffId);
  });

  it('a partner registered by a platform admin is authenticated by every service, with its own OTP quota; locked or suspended, another service refuses it (measured)', async () => {
    const admin = await adminSession();
    const registered = await admin.console.identity.call(
      'registerPartner',
      {
        clientId: 'umang-int',
        displayName: 'UMANG',
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: 2,
      },
      admin.console.as(admin.token),
    );
    const partner = newClient({ clientId: registered.clientId, secret: registered.clientSecret });
    const registeredAt = performance.now();
    await eventually(() => partner.otp.call('getSigningKeys', {}, partner.as()), {
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    const registrationMs = performance.now() - registeredAt;
    // The OTP quota is the partner's entry: 2 a minute.
    const citizenLogin = () =>
      partner.otp.call(
        'generateOtp',
        {
          mobile: freshMobile(),
          purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
          onBehalfOfClientId: '',
        },
        partner.as(),
      );
    await citizenLogin();
    await citizenLogin();
    const third = await refusalOf(citizenLogin());
    expect([third.code, third.reason]).toEqual([status.RESOURCE_EXHAUSTED, 'CLIENT_QUOTA']);

    const measure = async (label: string, change: () => Promise<unknown>, expected: string) => {
      const started = performance.now();
      await change();
      const refusal = await eventually(
        () => refusalOf(partner.otp.call('getSigningKeys', {}, partner.as())),
        {
          timeoutMs: 30_000,
          intervalMs: 10,
        },
      );
      const ms = performance.now() - started;
      process.stdout.write(`[measure] ${label} -> refused by OTP: ${ms.toFixed(0)} ms\n`);
      expect([refusal.code, refusal.reason]).toEqual([status.PERMISSION_DENIED, expected]);
      expect(ms).toBeLessThan(30_000);
    };
    process.stdout.write(
      `[measure] partner registered -> accepted by OTP: ${registrationMs.toFixed(0)} ms\n`,
    );
    await measure(
      'partner locked',
      () =>
        admin.console.identity.call(
          'lockPartner',
          { clientId: registered.clientId, reason: 'credential leaked' },
          admin.console.as(admin.token),
        ),
      'PARTNER_LOCKED',
    );
    await admin.console.identity.call(
      'unlockPartner',
      { clientId: registered.clientId, reason: 'secret rotated' },
      admin.console.as(admin.token),
    );
    await eventually(() => partner.otp.call('getSigningKeys', {}, partner.as()), {
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    // The audit service suspends with its own credentials, no staff session.
    const auditApp = newClient({ clientId: audit.clientId, secret: audit.secret });
    await measure(
      'partner suspended by the audit service',
      () =>
        auditApp.identity.call(
          'suspendPrincipal',
          {
            principal: {
              kind: identityV1.PrincipalKind.PRINCIPAL_KIND_PARTNER_CLIENT,
              id: registered.clientId,
            },
            reason: 'rule PARTNER_RATE',
          },
          auditApp.as(),
        ),
      'PRINCIPAL_SUSPENDED',
    );
    const reinstate = await refusalOf(
      auditApp.identity.call(
        'reinstatePrincipal',
        {
          principal: {
            kind: identityV1.PrincipalKind.PRINCIPAL_KIND_PARTNER_CLIENT,
            id: registered.clientId,
          },
          reason: 'auto',
        },
        auditApp.as(),
      ),
    );
    // Reinstating takes a platform admin's session: the audit service has none.
    expect([reinstate.code, reinstate.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_REQUIRED']);
  });

  it('a partner granted a larger OTP quota than configured clients get has it at the OTP service', async () => {
    const admin = await adminSession();
    const granted = 40;
    const registered = await admin.console.identity.call(
      'registerPartner',
      {
        clientId: 'aarogya-int',
        displayName: 'Aarogya Setu',
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: granted,
      },
      admin.console.as(admin.token),
    );
    const partner = newClient({ clientId: registered.clientId, secret: registered.clientSecret });
    const configured = newClient();
    await eventually(() => partner.otp.call('getSigningKeys', {}, partner.as()), {
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    /** How many of `calls` concurrent citizen sign-ins for fresh mobiles get a code. */
    const burst = async (client: TestClient, calls: number) => {
      const outcomes = await Promise.all(
        Array.from({ length: calls }, () =>
          outcomeOf(
            client.otp.call(
              'generateOtp',
              {
                mobile: freshMobile(),
                purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
                onBehalfOfClientId: '',
              },
              client.as(),
            ),
          ),
        ),
      );
      const refused = outcomes.flatMap((outcome) => (outcome ? [outcome] : []));
      expect(new Set(refused.map((r) => `${r.code}/${r.reason}`))).toEqual(
        new Set([`${status.RESOURCE_EXHAUSTED}/CLIENT_QUOTA`]),
      );
      return calls - refused.length;
    };
    const byPartner = await burst(partner, granted + 10);
    const byConfigured = await burst(configured, granted + 10);
    process.stdout.write(
      `[measure] codes a minute: partner granted ${granted} got ${byPartner}, a configured client got ${byConfigured}\n`,
    );
    expect(byPartner).toBe(granted);
    expect(byConfigured).toBeGreaterThan(0);
    expect(byConfigured).toBeLessThan(byPartner);
  });

  it('a client configured at the services, unknown to identity, is suspended by hand and refused by OTP and identity until reinstated; the kill switch spares platform services unless told', async () => {
    const admin = await adminSession();
    const as = admin.console.as(admin.token);
    const configured = newClient();
    const principal = {
      kind: identityV1.PrincipalKind.PRINCIPAL_KIND_PARTNER_CLIENT,
      id: configured.clientId,
    };
    const otpCall = () => configured.otp.call('getSigningKeys', {}, configured.as());
    const identityCall = () =>
      configured.identity.call(
        'startStaffLogin',
        { username: 'nobody', password: 'nothing' },
        configured.as(),
      );
    await otpCall();
    // LockPartner is for registered partners; the refusal says what stops this one.
    const notPartner = await refusalOf(
      admin.console.identity.call(
        'lockPartner',
        { clientId: configured.clientId, reason: 'credential leaked' },
        as,
      ),
    );
    expect([notPartner.code, notPartner.reason]).toEqual([status.NOT_FOUND, 'NO_SUCH_PARTNER']);
    expect(notPartner.message).toContain('SuspendPrincipal');

    const started = performance.now();
    await admin.console.identity.call(
      'suspendPrincipal',
      { principal, reason: 'credential leaked' },
      as,
    );
    const atOtp = await eventually(() => refusalOf(otpCall()), {
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    process.stdout.write(
      `[measure] configured client suspended -> refused by OTP: ${(performance.now() - started).toFixed(0)} ms\n`,
    );
    const atIdentity = await refusalOf(identityCall());
    expect([atOtp, atIdentity].map((refusal) => [refusal.code, refusal.reason])).toEqual([
      [status.PERMISSION_DENIED, 'PRINCIPAL_SUSPENDED'],
      [status.PERMISSION_DENIED, 'PRINCIPAL_SUSPENDED'],
    ]);
    const [event] = await collector.waitFor(
      (e) => e.type === EVENTS.principalSuspended.name && e.subject?.ref === configured.clientId,
    );
    expect(event?.subject?.kind).toBe(SubjectKind.SUBJECT_KIND_PARTNER_CLIENT);

    // A platform service's own client: only a platform admin who confirms it.
    const identityClient = {
      kind: identityV1.PrincipalKind.PRINCIPAL_KIND_PARTNER_CLIENT,
      id: identityService.clientId,
    };
    const auditApp = newClient({ clientId: audit.clientId, secret: audit.secret });
    const refusals = await Promise.all([
      refusalOf(
        admin.console.identity.call(
          'suspendPrincipal',
          { principal: identityClient, reason: 'a mistaken click' },
          as,
        ),
      ),
      refusalOf(
        auditApp.identity.call(
          'suspendPrincipal',
          { principal: identityClient, reason: 'OTP_REQUEST_FLOOD', confirmPlatformService: true },
          auditApp.as(),
        ),
      ),
      refusalOf(
        admin.console.identity.call(
          'setApiLock',
          {
            scope: { scope: { $case: 'partnerClientId', value: identityClient.id } },
            reason: 'a mistaken click',
          },
          as,
        ),
      ),
    ]);
    expect(refusals.map((refusal) => [refusal.code, refusal.reason])).toEqual([
      [status.FAILED_PRECONDITION, 'PLATFORM_SERVICE_CLIENT'],
      [status.FAILED_PRECONDITION, 'PLATFORM_SERVICE_CLIENT'],
      [status.FAILED_PRECONDITION, 'PLATFORM_SERVICE_CLIENT'],
    ]);
    // Nor the client the admin calls through; and a staff member must exist.
    const own = await refusalOf(
      admin.console.identity.call(
        'suspendPrincipal',
        {
          principal: { ...principal, id: admin.console.clientId },
          reason: 'a mistaken click',
        },
        as,
      ),
    );
    expect([own.code, own.reason]).toEqual([status.FAILED_PRECONDITION, 'SELF_SUSPENSION']);
    const unknownStaff = await refusalOf(
      admin.console.identity.call(
        'suspendPrincipal',
        {
          principal: { kind: identityV1.PrincipalKind.PRINCIPAL_KIND_STAFF, id: 'stf-nobody' },
          reason: 'a typo',
        },
        as,
      ),
    );
    expect([unknownStaff.code, unknownStaff.reason]).toEqual([
      status.NOT_FOUND,
      'NO_SUCH_PRINCIPAL',
    ]);
    // Other clients go on as before.
    const bystander = newClient();
    expect(await outcomeOf(bystander.otp.call('getSigningKeys', {}, bystander.as()))).toBe(
      undefined,
    );

    await admin.console.identity.call(
      'reinstatePrincipal',
      { principal, reason: 'secret rotated' },
      as,
    );
    await eventually(() => otpCall(), { timeoutMs: 30_000, intervalMs: 10 });
    // Back in at identity too: refused now for the wrong password, not as suspended.
    const back = await eventually(
      async () => {
        const refusal = await refusalOf(identityCall());
        if (refusal.reason === 'PRINCIPAL_SUSPENDED') throw new Error('still suspended');
        return refusal;
      },
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    expect(back.reason).toBe('BAD_LOGIN');
  });

  it("a suspended staff member's live session is refused at once, and works again once reinstated", async () => {
    const vaccinator = await vaccinatorOnDuty();
    const owner = await citizenWithBeneficiary(newClient());
    const ask = () =>
      vaccinator.app.identity.call(
        'requestConsent',
        { target: { $case: 'beneficiaryRef', value: owner.beneficiary?.beneficiaryRef ?? '' } },
        vaccinator.app.as(vaccinator.token),
      );
    await ask();
    const principal = {
      kind: identityV1.PrincipalKind.PRINCIPAL_KIND_STAFF,
      id: vaccinator.staffId,
    };
    const started = performance.now();
    await vaccinator.admin.console.identity.call(
      'suspendPrincipal',
      { principal, reason: 'reads at night' },
      vaccinator.admin.console.as(vaccinator.admin.token),
    );
    const refused = await eventually(() => refusalOf(ask()), { timeoutMs: 30_000, intervalMs: 10 });
    process.stdout.write(
      `[measure] staff suspended -> live session refused: ${(performance.now() - started).toFixed(0)} ms\n`,
    );
    expect([refused.code, refused.reason]).toEqual([
      status.PERMISSION_DENIED,
      'PRINCIPAL_SUSPENDED',
    ]);
    await vaccinator.admin.console.identity.call(
      'reinstatePrincipal',
      { principal, reason: 'reviewed' },
      vaccinator.admin.console.as(vaccinator.admin.token),
    );
    await eventually(() => ask(), { timeoutMs: 30_000, intervalMs: 10 });
  });

  it('API locks close one method, one service, one partner, or everything, until cleared', async () => {
    const admin = await adminSession();
    const as = admin.console.as(admin.token);
    const citizen = newClient();
    const owner = await citizenWithBeneficiary(citizen);
    const bystander = newClient();
    const listMine = () => citizen.listMine(owner.token);
    const otpCall = (client: TestClient) =>
      client.otp.call('resendOtp', { txnId: '00000000-0000-4000-8000-000000000000' }, client.as());
    const scopes: identityV1.ApiLockScope['scope'][] = [];
    const lock = async (scope: identityV1.ApiLockScope['scope']) => {
      scopes.push(scope);
      await admin.console.identity.call('setApiLock', { scope: { scope }, reason: 'drill' }, as);
    };
    const clear = async (scope: identityV1.ApiLockScope['scope']) => {
      await admin.console.identity.call(
        'clearApiLock',
        { scope: { scope }, reason: 'drill over' },
        as,
      );
    };
    const locked = async (call: () => Promise<unknown>) => {
      const refusal = await eventually(
        async () => {
          const outcome = await outcomeOf(call());
          if (outcome?.reason !== 'API_LOCKED') throw new Error('not locked yet');
          return outcome;
        },
        { timeoutMs: 30_000, intervalMs: 10 },
      );
      expect(refusal.code).toBe(status.PERMISSION_DENIED);
    };
    const open = (call: () => Promise<unknown>) =>
      eventually(
        async () => {
          const outcome = await outcomeOf(call());
          if (outcome?.reason === 'API_LOCKED') throw new Error('still locked');
          return outcome;
        },
        { timeoutMs: 30_000, intervalMs: 10 },
      );

    try {
      const method = {
        $case: 'method' as const,
        value: '/vaxguard.identity.v1.IdentityService/ListMyBeneficiaries',
      };
      await lock(method);
      await locked(listMine);
      // A service that starts now learns the lock before it serves: its registry
      // listener reads the compacted registry from the beginning before returning.
      const late = new AccessRegistry();
      const listener = await startAccessRegistryListener({
        kafka: identity.runtime.kafka,
        service: 'late-starter',
        registry: late,
        logger: identity.runtime.logger,
      });
      await listener.stop();
      expect(late.lockOn(method.value, bystander.clientId)).toEqual({
        kind: 'method',
        method: method.value,
      });
      expect(
        await outcomeOf(citizen.get(owner.token, owner.beneficiary?.beneficiaryRef ?? '')),
      ).toBeUndefined();
      await clear(method);
      await open(listMine);

      const otpService = { $case: 'service' as const, value: 'vaxguard.otp.v1.OtpService' };
      await lock(otpService);
      await locked(() => otpCall(bystander));
      expect(await outcomeOf(listMine())).toBeUndefined();
      await clear(otpService);
      await open(() => otpCall(bystander));

      const onePartner = { $case: 'partnerClientId' as const, value: citizen.clientId };
      await lock(onePartner);
      await locked(listMine);
      await locked(() => otpCall(citizen));
      expect((await outcomeOf(otpCall(bystander)))?.reason).not.toBe('API_LOCKED');
      await clear(onePartner);
      await open(listMine);

      const everything = { $case: 'everything' as const, value: true };
      await lock(everything);
      await locked(listMine);
      await locked(() => otpCall(bystander));
      // The kill switch itself stays open, or nobody could clear it.
      await clear(everything);
      await open(listMine);
      await open(() => otpCall(bystander));
    } finally {
      // Whatever failed, the locks go, so the tests after this one run unlocked.
      for (const scope of scopes) await clear(scope).catch(() => undefined);
    }
  });

  it('a pg_dump of the identity database holds none of the mobile or identity numbers used', async () => {
    await citizenWithBeneficiary(newClient());
    const dump = await platform.postgres.dump(identityDb);
    expect(dump).toContain('beneficiaries');
    expect(leaks(dump, rawValues)).toEqual([]);
    expect(leaks(logs.text(), rawValues)).toEqual([]);
  });
});
