import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, readPayload } from '@vaxguard/event-catalogue';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { createOfflineVerifier } from '@vaxguard/health-cards';
import { MemoryLogSink } from '@vaxguard/logging';
import { identityStaffV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import {
  callAs,
  EventCollector,
  eventually,
  freePort,
  madeUpAadhaar,
  outcomeOf,
  refusalOf,
  startPlatform,
  testClient,
  type Platform,
} from '@vaxguard/testing';
import { SERVICE_SCOPES } from '@vaxguard/tokens';
import { PgRecordStore } from './adapters/pg-record-store';
import { createVaccinationRecordApp, type VaccinationRecordApp } from './app';
import { readConfig } from './config';
import { addDays, indianDateOf } from './domain/schedule-rules';

const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
/** A card's FHIR resource, as far as who performed it. */
type Performed = {
  readonly performer?: readonly { readonly actor: { readonly display: string } }[];
};
const QUOTA = 3;

/**
 * The vaccination-record service in-process against real PostgreSQL and Kafka, with the
 * built OTP and identity services as processes issuing real tokens and grants. Each test
 * owns its mobiles, beneficiaries, centres and staff.
 */
describe('vaccination-record service (real tokens and grants, PostgreSQL and Kafka)', () => {
  const logs = new MemoryLogSink();
  const clients = Array.from({ length: 64 }, (_, i) => testClient(`app-${i}`));
  const recordSvc = testClient('svc-vaccination-record');
  let platform: Platform;
  /** The service's database, for the operator task that rotates its issuer key. */
  let recordDbUrl = '';
  let app: VaccinationRecordApp;
  /** The service's environment, for a second instance on the same database. */
  let environment: Record<string, string> = {};
  /** A loopback issuer, as in development: its keys are served at iss + /.well-known/. */
  let issuer = '';
  let collector: EventCollector;
  const opened: { close(): void }[] = [];
  let clockOffsetMs = 0;

  let mobileCounter = 0;
  const freshMobile = () => `96${String(3_000_000 + mobileCounter++).padStart(8, '0')}`;
  let aadhaarCounter = 0;
  let clientCounter = 0;

  function newClient(given?: { clientId: string; secret: string }) {
    const credential = given ?? clients[clientCounter++];
    if (!credential) throw new Error('the client pool is used up');
    const options = {
      clientId: credential.clientId,
      secret: credential.secret,
      deadlineMs: 10_000,
    };
    const kit = {
      ...platform.connect(credential, { deadlineMs: options.deadlineMs }),
      records: createServiceClient(vaccinationRecordV1.VaccinationRecordServiceService, {
        ...options,
        address: `127.0.0.1:${app.runtime.port}`,
      }),
    };
    opened.push(kit.records);
    const as = callAs;
    const confirm = async (txnId: string) =>
      kit.otp.call('confirmOtp', { txnId, otp: await platform.smsCode(txnId) }, as());
    return {
      clientId: credential.clientId,
      ...kit,
      as,
      confirm,
      async signIn(mobile: string) {
        const { txnId } = await kit.otp.call(
          'generateOtp',
          { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
          as(),
        );
        return confirm(txnId);
      },
      staffSession: (username: string, password: string) =>
        platform.staffSession(kit, username, password),
    };
  }
  type TestClient = ReturnType<typeof newClient>;

  /** A citizen on a fresh mobile with `count` beneficiaries registered on it. */
  async function citizen(count = 1) {
    const client = newClient();
    const mobile = freshMobile();
    const { token } = await client.signIn(mobile);
    const refs: string[] = [];
    const aadhaars: string[] = [];
    for (let i = 0; i < count; i++) {
      const aadhaar = madeUpAadhaar(aadhaarCounter++);
      aadhaars.push(aadhaar);
      const { beneficiary } = await client.identity.call(
        'registerBeneficiary',
        {
          mobile,
          name: `Asha Devi ${'ABCD'[i] ?? ''}`.trim(),
          gender: identityV1.Gender.GENDER_FEMALE,
          yearOfBirth: 1961,
          photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
          photoIdNumber: aadhaar,
        },
        client.as(token),
      );
      refs.push(beneficiary?.beneficiaryRef ?? '');
    }
    return { client, mobile, token, refs, ref: refs[0] ?? '', aadhaars };
  }

  let admin: Promise<{ console: TestClient; token: string }> | undefined;
  function adminSession() {
    admin ??= (async () => {
      const console_ = newClient();
      return {
        console: console_,
        token: await console_.staffSession(platform.admin.username, platform.admin.password),
      };
    })();
    return admin;
  }

  let staffCounter = 0;
  async function centre(name = `PHC ${staffCounter}`) {
    const { console: c, token } = await adminSession();
    const { centre: created } = await c.identity.call(
      'createCentre',
      { name, district: 'Pune', state: 'Maharashtra' },
      c.as(token),
    );
    return created?.centreId ?? '';
  }
  async function staffAt(centreId: string, role: identityStaffV1.StaffRole) {
    const { console: c, token } = await adminSession();
    const username = `staff.${staffCounter++}`;
    const password = `a long passphrase number ${staffCounter}`;
    const { staff } = await c.identity.call(
      'createStaff',
      { username, displayName: 'Staff', role, centreId, mobile: freshMobile(), password },
      c.as(token),
    );
    const client = newClient();
    return {
      client,
      staffId: staff?.staffId ?? '',
      centreId,
      token: await client.staffSession(username, password),
    };
  }
  const VACCINATOR = identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR;
  const CENTRE_ADMIN = identityStaffV1.StaffRole.STAFF_ROLE_CENTRE_ADMIN;
  const { REVOCATION_CAUSE_LEAKED, REVOCATION_CAUSE_FRAUDULENT, REVOCATION_CAUSE_MISTAKEN_RECORD } =
    vaccinationRecordV1.RevocationCause;

  /** The vaccinator asks the citizen's mobile for consent and confirms the code read to them. */
  async function consentFor(staff: Awaited<ReturnType<typeof staffAt>>, mobile: string) {
    const { txnId } = await staff.client.identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: mobile } },
      staff.client.as(staff.token),
    );
    return staff.client.confirm(txnId);
  }

  /** Another instance of the service on the same database, started. */
  async function secondInstance() {
    const issuerPort = await freePort();
    const second = await createVaccinationRecordApp(
      readConfig({
        ...environment,
        ISSUER_URL: `http://127.0.0.1:${issuerPort}/vaccination-record`,
        ISSUER_HTTP_PORT: String(issuerPort),
      }),
      { logSink: logs },
    );
    try {
      await second.runtime.start();
    } catch (error) {
      await second.runtime.stop();
      throw error;
    }
    return second;
  }

  const today = () => indianDateOf(new Date());
  function doseRequest(
    ref: string,
    grant: string,
    overrides: Partial<vaccinationRecordV1.RecordDoseRequest> = {},
  ) {
    return {
      beneficiaryRef: ref,
      vaccineCode: 'COVAXIN',
      doseNumber: 1,
      batchNumber: 'BB21044',
      administeredOn: addDays(today(), -40),
      clientRequestId: `req-${randomBytes(8).toString('hex')}`,
      consentGrant: grant,
      ...overrides,
    };
  }

  beforeAll(async () => {
    const apps = clients.map((client) => client.credential);
    platform = await startPlatform({
      services: ['otp', 'identity'],
      otpClients: [...apps, recordSvc.credential],
      // The vaccination-record service relays users' tokens; identity shows it the
      // demographics of a partner's grant, and it checks the partner's own scopes.
      identityClients: [
        ...apps,
        `${recordSvc.credential}:${SERVICE_SCOPES.relayTokens}+beneficiary:demographics`,
      ],
      adminMobile: freshMobile(),
    });
    const { kafka } = platform;
    recordDbUrl = await platform.postgres.createDatabase();
    const issuerPort = await freePort();
    issuer = `http://127.0.0.1:${issuerPort}/vaccination-record`;
    environment = {
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: recordDbUrl,
      KAFKA_BROKERS: kafka.brokers.join(','),
      CLIENT_CREDENTIALS: apps.join(','),
      LOG_LEVEL: 'debug',
      OTP_GRPC_ADDRESS: platform.address('otp'),
      IDENTITY_GRPC_ADDRESS: platform.address('identity'),
      SERVICE_CLIENT_ID: recordSvc.clientId,
      SERVICE_CLIENT_SECRET: recordSvc.secret,
      ISSUER_URL: issuer,
      ISSUER_HTTP_PORT: String(issuerPort),
      ISSUER_KEY_ENCRYPTION_KEY: key(37),
      STAFF_BENEFICIARIES_PER_HOUR: String(QUOTA),
    };
    const config = readConfig(environment);
    app = await createVaccinationRecordApp(config, {
      logSink: logs,
      clock: () => new Date(Date.now() + clockOffsetMs),
    });
    await app.runtime.start();
    collector = await EventCollector.start(kafka.brokers, [EVENTS.recordAccessed.topic]);
  }, 240_000);

  afterAll(async () => {
    for (const client of opened) client.close();
    await collector?.stop().catch(() => undefined);
    await app?.runtime.stop().catch(() => undefined);
    await platform?.stop();
  });

  it('OTP login, registration, consent, two doses, the certificate, and its offline verification', async () => {
    const owner = await citizen();
    const vaccinator = await staffAt(await centre(), VACCINATOR);
    const grant = await consentFor(vaccinator, owner.mobile);
    const records = vaccinator.client.records;
    const first = doseRequest(owner.ref, grant.token);
    const one = await records.call('recordDose', first, vaccinator.client.as(vaccinator.token));
    expect(one.dose).toMatchObject({
      beneficiaryRef: owner.ref,
      doseNumber: 1,
      centreId: vaccinator.centreId,
      vaccinatorId: vaccinator.staffId,
    });
    // Idempotent: the same request returns the same dose; another payload is refused.
    const again = await records.call('recordDose', first, vaccinator.client.as(vaccinator.token));
    expect([again.dose?.doseId, again.replayed]).toEqual([one.dose?.doseId, true]);
    const reused = await refusalOf(
      records.call(
        'recordDose',
        { ...first, batchNumber: 'OTHER1' },
        vaccinator.client.as(vaccinator.token),
      ),
    );
    expect([reused.code, reused.reason]).toEqual([status.ALREADY_EXISTS, 'REQUEST_ID_REUSED']);
    // A schedule rule broken names the rule.
    const tooSoon = await refusalOf(
      records.call(
        'recordDose',
        doseRequest(owner.ref, grant.token, {
          doseNumber: 2,
          administeredOn: addDays(today(), -39),
        }),
        vaccinator.client.as(vaccinator.token),
      ),
    );
    expect(tooSoon.code).toBe(status.FAILED_PRECONDITION);
    await records.call(
      'recordDose',
      doseRequest(owner.ref, grant.token, { doseNumber: 2, administeredOn: addDays(today(), -10) }),
      vaccinator.client.as(vaccinator.token),
    );
    const found = await records.call(
      'findBeneficiaryForVaccination',
      { consentGrant: grant.token },
      vaccinator.client.as(vaccinator.token),
    );
    expect(found.beneficiaries).toHaveLength(1);
    expect(found.beneficiaries[0]).toMatchObject({ beneficiaryRef: owner.ref, yearOfBirth: 1961 });
    expect(found.beneficiaries[0]?.doses.map((dose) => dose.doseNumber)).toEqual([1, 2]);
    expect(found.beneficiaries[0]?.nextDose?.doseNumber).toBe(3);

    const certificate = await owner.client.records.call(
      'getCertificate',
      { beneficiaryRef: owner.ref },
      owner.client.as(owner.token),
    );
    expect(certificate.qr.startsWith('shc:/')).toBe(true);
    expect(certificate.certificateId).toMatch(/^crt_[A-Za-z0-9_-]{22}$/);
    expect(certificate.svg).toContain(owner.ref);
    const payload = Buffer.from(certificate.jws.split('.')[1] ?? '', 'base64url');
    const signed = inflateRawSync(payload).toString('utf8');
    expect(signed).not.toContain(owner.aadhaars[0]);
    expect(signed).not.toContain(owner.mobile);
    // Offline: only the published keys (over gRPC and over HTTP), no network for the card.
    const { jwksJson } = await owner.client.records.call('getIssuerKeys', {}, owner.client.as());
    // Where a verifier with only the card looks for the keys: its iss + /.well-known/jwks.json.
    const { iss, vc } = JSON.parse(signed) as { iss: string; vc: { type: string[] } };
    expect(iss).toBe(issuer);
    // Covaxin doses: a COVID-19 immunization card, typed as the validator expects.
    expect(vc.type).toEqual([
      'https://smarthealth.cards#health-card',
      'https://smarthealth.cards#immunization',
      'https://smarthealth.cards#covid19',
    ]);
    const overHttp: unknown = await (await fetch(`${iss}/.well-known/jwks.json`)).json();
    expect(overHttp).toEqual(JSON.parse(jwksJson));
    const { revocationListJson } = await owner.client.records.call(
      'getRevocationList',
      { kid: certificate.kid },
      owner.client.as(),
    );
    const verifier = createOfflineVerifier({
      issuers: [
        {
          iss,
          jwks: overHttp,
          revocations: { [certificate.kid]: JSON.parse(revocationListJson) as unknown },
        },
      ],
    });
    const result = verifier.verify(certificate.qr);
    expect(result.status).toBe('valid');
    if (result.status === 'valid') {
      expect(result.patient).toEqual({ name: 'Asha Devi A', birthYear: 1961 });
      expect(result.immunizations).toHaveLength(2);
    }
    const online = await owner.client.records.call(
      'verifyCertificate',
      { qrOrJws: certificate.qr },
      owner.client.as(),
    );
    expect(online).toMatchObject({
      status: vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_VALID,
      name: 'Asha Devi A',
      yearOfBirth: 1961,
    });
    // The certificate read is an event of its own (among those of the doses and the lookup).
    const [certificateRead] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.recordAccessed.name &&
        event.subject?.ref === owner.ref &&
        readPayload(event, EVENTS.recordAccessed).purpose === 'CERTIFICATE',
    );
    expect(certificateRead?.actor?.clientId).toBe(owner.client.clientId);
  });

  it('names each dose’s centre on the certificate and in its card, and never prints a centre’s id, even before its name is known', async () => {
    const owner = await citizen();
    const centreName = 'Primary Health Centre Kothrud, Pune Municipal Corporation';
    const centreId = await centre(centreName);
    const vaccinator = await staffAt(centreId, VACCINATOR);
    const grant = await consentFor(vaccinator, owner.mobile);
    await vaccinator.client.records.call(
      'recordDose',
      doseRequest(owner.ref, grant.token),
      vaccinator.client.as(vaccinator.token),
    );
    // The name comes from identity's centre.created, read into this service's database.
    await eventually(
      async () => {
        const { rows } = await app.runtime.pool.query(
          'SELECT name FROM centres WHERE centre_id = $1',
          [centreId],
        );
        if (rows.length === 0) throw new Error('the centre is not known yet');
      },
      { timeoutMs: 30_000 },
    );
    const certificate = () =>
      owner.client.records.call(
        'getCertificate',
        { beneficiaryRef: owner.ref },
        owner.client.as(owner.token),
      );
    const performers = (jws: string) => {
      const payload = inflateRawSync(Buffer.from(jws.split('.')[1] ?? '', 'base64url'));
      const { vc } = JSON.parse(payload.toString('utf8')) as {
        vc: { credentialSubject: { fhirBundle: { entry: { resource: Performed }[] } } };
      };
      return vc.credentialSubject.fhirBundle.entry.flatMap(({ resource }) =>
        (resource.performer ?? []).map((performer) => performer.actor.display),
      );
    };
    const named = await certificate();
    expect(performers(named.jws)).toEqual([centreName]);
    // The printed certificate shows the whole name (wrapped in its column), not the id.
    expect(named.svg).not.toContain(centreId);
    const tableText = (svg: string) =>
      [...svg.matchAll(/<text [^>]*class="cell">([^<]*)<\/text>/g)]
        .map(([, text]) => text)
        .join(' ');
    expect(tableText(named.svg)).toContain(centreName);
    // The projection keeps centre.created alone: none of identity's other events (the
    // reads, consents and sign-ins of this run) is recorded for it.
    const { rows: strays } = await app.runtime.pool.query(
      `SELECT count(*)::int AS count FROM processed_events p
       WHERE consumer = 'vaccination-record-centres'
         AND NOT EXISTS (SELECT 1 FROM centres c WHERE c.event_id = p.event_id)`,
    );
    expect(strays).toEqual([{ count: 0 }]);
    // A centre whose name has not arrived (here: forgotten) is "Vaccination centre".
    await app.runtime.pool.query('DELETE FROM centres WHERE centre_id = $1', [centreId]);
    const unnamed = await certificate();
    expect(performers(unnamed.jws)).toEqual(['Vaccination centre']);
    expect(tableText(unnamed.svg)).toContain('Vaccination centre');
    expect(unnamed.svg).not.toContain(centreId);
  });

  it('refuses without consent, with a grant for someone else, an expired grant, another citizen, and a partner without consent', async () => {
    const owner = await citizen();
    const other = await citizen();
    const vaccinator = await staffAt(await centre(), VACCINATOR);
    const as = vaccinator.client.as(vaccinator.token);
    const none = await refusalOf(
      vaccinator.client.records.call('recordDose', doseRequest(owner.ref, ''), as),
    );
    expect([none.code, none.reason]).toEqual([status.PERMISSION_DENIED, 'NO_CONSENT']);
    const grant = await consentFor(vaccinator, other.mobile);
    const elsewhere = await refusalOf(
      vaccinator.client.records.call('recordDose', doseRequest(owner.ref, grant.token), as),
    );
    expect([elsewhere.code, elsewhere.reason]).toEqual([status.PERMISSION_DENIED, 'NO_CONSENT']);
    // A grant stolen by another vaccinator is not theirs.
    const thief = await staffAt(vaccinator.centreId, VACCINATOR);
    const stolen = await refusalOf(
      thief.client.records.call(
        'recordDose',
        doseRequest(other.ref, grant.token),
        thief.client.as(thief.token),
      ),
    );
    expect(stolen.code).toBe(status.PERMISSION_DENIED);
    // The grant lives 5 minutes.
    clockOffsetMs = 6 * 60_000;
    try {
      const expired = await refusalOf(
        vaccinator.client.records.call('recordDose', doseRequest(other.ref, grant.token), as),
      );
      expect([expired.code, expired.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_EXPIRED']);
    } finally {
      clockOffsetMs = 0;
    }
    await vaccinator.client.records.call('recordDose', doseRequest(other.ref, grant.token), as);
    const notYours = await refusalOf(
      owner.client.records.call(
        'getCertificate',
        { beneficiaryRef: other.ref },
        owner.client.as(owner.token),
      ),
    );
    expect([notYours.code, notYours.reason]).toEqual([
      status.PERMISSION_DENIED,
      'BENEFICIARY_ACCESS_DENIED',
    ]);
    // A partner holding a grant for another person's record gets nothing of this one.
    const { console: c, token } = await adminSession();
    const registered = await c.identity.call(
      'registerPartner',
      {
        clientId: 'umang-vr',
        displayName: 'UMANG',
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: 10,
      },
      c.as(token),
    );
    const partner = newClient({ clientId: registered.clientId, secret: registered.clientSecret });
    await eventually(() => partner.records.call('getIssuerKeys', {}, partner.as()), {
      timeoutMs: 30_000,
    });
    const { txnId } = await partner.identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: owner.mobile } },
      partner.as(),
    );
    const partnerGrant = await partner.confirm(txnId);
    const refused = await refusalOf(
      partner.records.call(
        'getCertificate',
        { beneficiaryRef: other.ref },
        partner.as(partnerGrant.token),
      ),
    );
    expect([refused.code, refused.reason]).toEqual([status.PERMISSION_DENIED, 'NO_CONSENT']);
    // Each refusal is an event naming the actor and the reason, never the grant itself.
    const [denied] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.recordAccessDenied.name &&
        event.subject?.ref === other.ref &&
        event.actor?.principalId === partner.clientId,
    );
    expect(readPayload(denied!, EVENTS.recordAccessDenied)).toMatchObject({
      reason: 'NO_CONSENT',
      role: 'PARTNER_CLIENT',
      purpose: 'CERTIFICATE',
    });
  });

  it('only the recording centre’s admin corrects a dose; the certificate is reissued and the old one revoked', async () => {
    const owner = await citizen();
    const centreId = await centre();
    const vaccinator = await staffAt(centreId, VACCINATOR);
    const grant = await consentFor(vaccinator, owner.mobile);
    const { dose } = await vaccinator.client.records.call(
      'recordDose',
      doseRequest(owner.ref, grant.token),
      vaccinator.client.as(vaccinator.token),
    );
    const old = await owner.client.records.call(
      'getCertificate',
      { beneficiaryRef: owner.ref },
      owner.client.as(owner.token),
    );
    // Valid online before the correction: the service's verifier, built now, must not
    // outlive the revocation below.
    const before = await owner.client.records.call(
      'verifyCertificate',
      { qrOrJws: old.jws },
      owner.client.as(),
    );
    expect(before.status).toBe(vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_VALID);
    const correction = {
      doseId: dose?.doseId ?? '',
      vaccineCode: '',
      batchNumber: 'BB21045',
      administeredOn: '',
      reason: 'batch misread',
    };
    const outsider = await staffAt(await centre(), CENTRE_ADMIN);
    const wrongCentre = await refusalOf(
      outsider.client.records.call('correctDose', correction, outsider.client.as(outsider.token)),
    );
    expect([wrongCentre.code, wrongCentre.reason]).toEqual([
      status.PERMISSION_DENIED,
      'WRONG_CENTRE',
    ]);
    const centreAdmin = await staffAt(centreId, CENTRE_ADMIN);
    const corrected = await centreAdmin.client.records.call(
      'correctDose',
      correction,
      centreAdmin.client.as(centreAdmin.token),
    );
    expect(corrected.dose).toMatchObject({ batchNumber: 'BB21045', version: 1 });
    expect(corrected.reissuedCertificateId).not.toBe(old.certificateId);
    const { jwksJson } = await owner.client.records.call('getIssuerKeys', {}, owner.client.as());
    const { revocationListJson } = await owner.client.records.call(
      'getRevocationList',
      { kid: old.kid },
      owner.client.as(),
    );
    const verifier = createOfflineVerifier({
      issuers: [
        {
          iss: issuer,
          jwks: JSON.parse(jwksJson),
          revocations: { [old.kid]: JSON.parse(revocationListJson) as unknown },
        },
      ],
    });
    expect(verifier.verify(old.qr).status).toBe('revoked');
    const fresh = await owner.client.records.call(
      'getCertificate',
      { beneficiaryRef: owner.ref },
      owner.client.as(owner.token),
    );
    expect(fresh.certificateId).toBe(corrected.reissuedCertificateId);
    expect(verifier.verify(fresh.qr).status).toBe('valid');
    const online = await owner.client.records.call(
      'verifyCertificate',
      { qrOrJws: old.jws },
      owner.client.as(),
    );
    expect(online.status).toBe(vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_REVOKED);
  });

  it('stops a staff member beyond the hourly quota of distinct beneficiaries, with a retry-after', async () => {
    const family = await citizen(QUOTA + 1);
    const vaccinator = await staffAt(await centre(), VACCINATOR);
    const grant = await consentFor(vaccinator, family.mobile);
    const refusal = await refusalOf(
      vaccinator.client.records.call(
        'findBeneficiaryForVaccination',
        { consentGrant: grant.token },
        vaccinator.client.as(vaccinator.token),
      ),
    );
    expect([refusal.code, refusal.reason]).toEqual([status.RESOURCE_EXHAUSTED, 'STAFF_QUOTA']);
    expect(refusal.retryAfterMs).toBeGreaterThan(0);
  });

  it('records a dose without asking identity once the vaccinator has looked the beneficiary up, and asks identity once for one never looked up', async () => {
    const family = await citizen(2);
    const stranger = await citizen();
    const vaccinator = await staffAt(await centre(), VACCINATOR);
    const as = vaccinator.client.as(vaccinator.token);
    const grant = await consentFor(vaccinator, family.mobile);
    const found = await vaccinator.client.records.call(
      'findBeneficiaryForVaccination',
      { consentGrant: grant.token },
      as,
    );
    expect(found.beneficiaries.map((b) => b.beneficiaryRef).sort()).toEqual(
      [...family.refs].sort(),
    );
    // Identity answers nothing while it is stopped: a call to it would hang to its deadline.
    const identity = platform.identity?.child;
    if (!identity) throw new Error('the platform runs no identity');
    identity.kill('SIGSTOP');
    let recorded: vaccinationRecordV1.RecordDoseResponse[];
    try {
      recorded = await Promise.all(
        family.refs.map((ref) =>
          vaccinator.client.records.call('recordDose', doseRequest(ref, grant.token), as),
        ),
      );
    } finally {
      identity.kill('SIGCONT');
    }
    expect(recorded.map((r) => [r.dose?.beneficiaryRef, r.dose?.doseNumber])).toEqual(
      family.refs.map((ref) => [ref, 1]),
    );
    // Never looked up here: identity is asked (the grant relayed), and its answer kept.
    const strangerGrant = await consentFor(vaccinator, stranger.mobile);
    const first = await vaccinator.client.records.call(
      'recordDose',
      doseRequest(stranger.ref, strangerGrant.token),
      as,
    );
    expect(first.dose?.beneficiaryRef).toBe(stranger.ref);
    identity.kill('SIGSTOP');
    try {
      const second = await vaccinator.client.records.call(
        'recordDose',
        doseRequest(stranger.ref, strangerGrant.token, {
          doseNumber: 2,
          administeredOn: today(),
        }),
        as,
      );
      expect(second.dose?.doseNumber).toBe(2);
    } finally {
      identity.kill('SIGCONT');
    }
  });

  it('a vaccinator suspended while recording doses is refused within a second', async () => {
    const owner = await citizen();
    const vaccinator = await staffAt(await centre(), VACCINATOR);
    const as = vaccinator.client.as(vaccinator.token);
    const grant = await consentFor(vaccinator, owner.mobile);
    const request = doseRequest(owner.ref, grant.token);
    await vaccinator.client.records.call('recordDose', request, as);
    // The vaccinator keeps recording (the same request: its retries are answered in full,
    // through the grant and the database) while a platform admin suspends them.
    const calls: { startedAt: number; outcome: string }[] = [];
    let stop = false;
    const recording = (async () => {
      while (!stop) {
        const startedAt = Date.now();
        const outcome = await outcomeOf(vaccinator.client.records.call('recordDose', request, as));
        calls.push({
          startedAt,
          outcome: outcome ? `${outcome.code} ${outcome.reason ?? ''}` : 'recorded',
        });
      }
    })();
    const { console: c, token } = await adminSession();
    const principal = {
      kind: identityV1.PrincipalKind.PRINCIPAL_KIND_STAFF,
      id: vaccinator.staffId,
    };
    await eventually(() => {
      if (calls.length < 5) throw new Error('not recording yet');
    });
    const suspendedAt = Date.now();
    await c.identity.call(
      'suspendPrincipal',
      { principal, reason: 'vaccinator recording doses for no one present' },
      c.as(token),
    );
    try {
      await eventually(() => {
        if (!calls.some((call) => call.startedAt > suspendedAt + 1_500)) {
          throw new Error('still recording');
        }
      });
    } finally {
      stop = true;
      await recording;
      await c.identity.call('reinstatePrincipal', { principal, reason: 'reviewed' }, c.as(token));
    }
    const refused = `${status.PERMISSION_DENIED} PRINCIPAL_SUSPENDED`;
    expect(
      calls.filter((call) => call.startedAt < suspendedAt).map((call) => call.outcome),
    ).toEqual(calls.filter((call) => call.startedAt < suspendedAt).map(() => 'recorded'));
    const late = calls.filter((call) => call.startedAt >= suspendedAt + 1_000);
    expect(late.length).toBeGreaterThan(0);
    expect(new Set(late.map((call) => call.outcome))).toEqual(new Set([refused]));
  });

  it('doses arriving together share a transaction, each answered alone: retries, a schedule violation among valid neighbours, the quota at its edge, two instances', async () => {
    const batchesBefore = logs
      .records()
      .filter((line) => line['msg'] === 'doses committed together').length;
    const centreId = await centre();
    const team = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const vaccinator = await staffAt(centreId, VACCINATOR);
        const owner = await citizen();
        const grant = await consentFor(vaccinator, owner.mobile);
        return { vaccinator, owner, grant };
      }),
    );
    const requests = team.map((member, i) =>
      // The last asks for a second dose before any first: a schedule violation.
      doseRequest(member.owner.ref, member.grant.token, i === 5 ? { doseNumber: 2 } : {}),
    );
    const [first] = team;
    if (!first) throw new Error('no team');
    const call = (member: (typeof team)[number], request: ReturnType<typeof doseRequest>) =>
      member.vaccinator.client.records.call(
        'recordDose',
        request,
        member.vaccinator.client.as(member.vaccinator.token),
      );
    const [answers, refused, retried] = await Promise.all([
      Promise.all(team.slice(0, 5).map((member, i) => call(member, requests[i]!))),
      refusalOf(call(team[5]!, requests[5]!)),
      // The first request twice more at once, as a client retrying would.
      Promise.all([1, 2].map(() => call(first, requests[0]!))),
    ]);
    const recorded = answers.map((answer) => answer.dose);
    expect(recorded.map((dose) => dose?.beneficiaryRef)).toEqual(
      team.slice(0, 5).map((member) => member.owner.ref),
    );
    expect([refused.code, refused.reason]).toEqual([
      status.FAILED_PRECONDITION,
      'DOSE_OUT_OF_SEQUENCE',
    ]);
    // One dose for the request however often it came.
    expect(retried.map((answer) => answer.dose?.doseId)).toEqual([
      recorded[0]?.doseId,
      recorded[0]?.doseId,
    ]);
    // The violation's neighbours were recorded beside it; its vaccinator records the
    // first dose next.
    const last = team[5]!;
    const recovered = await outcomeOf(call(last, doseRequest(last.owner.ref, last.grant.token)));
    expect(recovered).toBeUndefined();
    expect(
      logs.records().filter((line) => line['msg'] === 'doses committed together').length,
    ).toBeGreaterThan(batchesBefore);

    // The quota at its edge: one vaccinator, QUOTA + 1 beneficiaries at once.
    const family = await citizen(QUOTA + 1);
    const busy = await staffAt(centreId, VACCINATOR);
    const familyGrant = await consentFor(busy, family.mobile);
    const outcomes = await Promise.all(
      family.refs.map((ref) =>
        outcomeOf(
          busy.client.records.call(
            'recordDose',
            doseRequest(ref, familyGrant.token),
            busy.client.as(busy.token),
          ),
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(QUOTA);
    expect(outcomes.filter((outcome) => outcome !== undefined).map((o) => o?.reason)).toEqual([
      'STAFF_QUOTA',
    ]);

    // Two instances on one database: the same requests through both record one dose each.
    const second = await secondInstance();
    try {
      const pair = await Promise.all(
        [0, 1].map(async () => {
          const vaccinator = await staffAt(centreId, VACCINATOR);
          const owner = await citizen();
          const grant = await consentFor(vaccinator, owner.mobile);
          const credential = clients.find(
            (client) => client.clientId === vaccinator.client.clientId,
          );
          const viaSecond = createServiceClient(
            vaccinationRecordV1.VaccinationRecordServiceService,
            {
              clientId: vaccinator.client.clientId,
              secret: credential?.secret ?? '',
              deadlineMs: 10_000,
              address: `127.0.0.1:${second.runtime.port}`,
            },
          );
          opened.push(viaSecond);
          return { vaccinator, owner, grant, viaSecond };
        }),
      );
      const doses = await Promise.all(
        pair.flatMap(({ vaccinator, owner, grant, viaSecond }) => {
          const request = doseRequest(owner.ref, grant.token);
          const as = vaccinator.client.as(vaccinator.token);
          return [
            vaccinator.client.records.call('recordDose', request, as),
            viaSecond.call('recordDose', request, as),
            vaccinator.client.records.call('recordDose', request, as),
            viaSecond.call('recordDose', request, as),
          ];
        }),
      );
      const ids = doses.map((answer) => answer.dose?.doseId ?? '');
      expect(new Set(ids.slice(0, 4)).size).toBe(1);
      expect(new Set(ids.slice(4)).size).toBe(1);
      expect(ids[0]).not.toBe(ids[4]);
      expect(doses.filter((answer) => !answer.replayed)).toHaveLength(2);
    } finally {
      await second.runtime.stop();
    }
  });

  it('rotates the issuer key with overlap: new certificates are signed with the new key, earlier ones keep theirs and verify while it is published', async () => {
    const vaccinator = await staffAt(await centre(), VACCINATOR);
    /** A citizen with one dose, and a function fetching their certificate. */
    const vaccinated = async () => {
      const owner = await citizen();
      const grant = await consentFor(vaccinator, owner.mobile);
      await vaccinator.client.records.call(
        'recordDose',
        doseRequest(owner.ref, grant.token),
        vaccinator.client.as(vaccinator.token),
      );
      return () =>
        owner.client.records.call(
          'getCertificate',
          { beneficiaryRef: owner.ref },
          owner.client.as(owner.token),
        );
    };
    const earlierCertificate = await vaccinated();
    const before = await earlierCertificate();
    // The operator's task, as built: `nx run vaccination-record:rotate-keys`.
    const rotated = spawnSync(
      process.execPath,
      ['services/vaccination-record/dist/rotate-keys.js'],
      {
        env: {
          PATH: process.env['PATH'] ?? '',
          DATABASE_URL: recordDbUrl,
          ISSUER_KEY_ENCRYPTION_KEY: key(37),
        },
        encoding: 'utf8',
      },
    );
    expect(rotated.status).toBe(0);
    const logged = JSON.parse(rotated.stdout.trim().split('\n').pop() ?? '{}') as { kid?: string };
    const newKid = logged.kid ?? '';
    const after = await (await vaccinated())();
    expect(after.kid).toBe(newKid);
    expect(before.kid).not.toBe(newKid);
    // The earlier certificate keeps its key (its rid is bound to it).
    const again = await earlierCertificate();
    expect([again.certificateId, again.kid]).toEqual([before.certificateId, before.kid]);
    const { jwksJson } = await vaccinator.client.records.call(
      'getIssuerKeys',
      {},
      vaccinator.client.as(),
    );
    const jwks = JSON.parse(jwksJson) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual(expect.arrayContaining([before.kid, newKid]));
    const revocations: Record<string, unknown> = {};
    for (const kid of [before.kid, newKid]) {
      const { revocationListJson } = await vaccinator.client.records.call(
        'getRevocationList',
        { kid },
        vaccinator.client.as(),
      );
      revocations[kid] = JSON.parse(revocationListJson) as unknown;
    }
    const verifier = createOfflineVerifier({ issuers: [{ iss: issuer, jwks, revocations }] });
    expect(verifier.verify(again.qr).status).toBe('valid');
    expect(verifier.verify(after.qr).status).toBe('valid');
    // A verifier that no longer has the old key refuses what it signed.
    const withoutOld = createOfflineVerifier({
      issuers: [
        {
          iss: issuer,
          jwks: { keys: jwks.keys.filter((key) => key.kid !== before.kid) },
          revocations: { [newKid]: revocations[newKid] },
        },
      ],
    });
    expect(withoutOld.verify(before.qr)).toMatchObject({
      status: 'invalid',
      reason: 'UNKNOWN_KEY',
    });
  });

  // ---- Revocation causes and holds (issue 22, item 4) ---------------------------------

  /** A citizen with one dose, its recording centre, and their certificate as first fetched. */
  async function certified() {
    const owner = await citizen();
    const centreId = await centre();
    const vaccinator = await staffAt(centreId, VACCINATOR);
    const grant = await consentFor(vaccinator, owner.mobile);
    const { dose } = await vaccinator.client.records.call(
      'recordDose',
      doseRequest(owner.ref, grant.token),
      vaccinator.client.as(vaccinator.token),
    );
    const getCertificate = () =>
      owner.client.records.call(
        'getCertificate',
        { beneficiaryRef: owner.ref },
        owner.client.as(owner.token),
      );
    return {
      owner,
      centreId,
      doseId: dose?.doseId ?? '',
      getCertificate,
      first: await getCertificate(),
    };
  }

  const ONLINE_STATUS = {
    [vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_VALID]: 'valid',
    [vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_REVOKED]: 'revoked',
    [vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_INVALID]: 'invalid',
  } as Record<number, string>;

  /**
   * What the offline verifier (with the keys and every key's revocation list as published
   * now, as a partner app refreshes them) and VerifyCertificate each say of a card.
   */
  async function verdicts(card: { readonly qr: string }) {
    const { console: c } = await adminSession();
    const { jwksJson } = await c.records.call('getIssuerKeys', {}, c.as());
    const jwks = JSON.parse(jwksJson) as { keys: { kid: string }[] };
    const revocations: Record<string, unknown> = {};
    for (const { kid } of jwks.keys) {
      const { revocationListJson } = await c.records.call('getRevocationList', { kid }, c.as());
      revocations[kid] = JSON.parse(revocationListJson) as unknown;
    }
    const offline = createOfflineVerifier({ issuers: [{ iss: issuer, jwks, revocations }] }).verify(
      card.qr,
    ).status;
    const online = await c.records.call('verifyCertificate', { qrOrJws: card.qr }, c.as());
    return { offline, online: ONLINE_STATUS[online.status] };
  }
  const VALID = { offline: 'valid', online: 'valid' };
  const REVOKED = { offline: 'revoked', online: 'revoked' };

  /** The platform admin's call, with their session. */
  async function asAdmin<T>(call: (c: TestClient, token: string) => Promise<T>): Promise<T> {
    const { console: c, token } = await adminSession();
    return call(c, token);
  }
  const revoke = (certificateId: string, cause: vaccinationRecordV1.RevocationCause) =>
    asAdmin((c, token) =>
      c.records.call(
        'revokeCertificate',
        { certificateId, reason: 'reported by the helpdesk', cause },
        c.as(token),
      ),
    );
  const liftHold = (certificateId: string) =>
    asAdmin((c, token) =>
      c.records.call(
        'liftCertificateHold',
        { certificateId, reason: 'record checked with the centre' },
        c.as(token),
      ),
    );

  it('a leaked card is replaced: the next GetCertificate issues a new card with a fresh rid, valid in both verifiers, the old one revoked in both', async () => {
    const { first, getCertificate } = await certified();
    expect(await verdicts(first)).toEqual(VALID);
    const revoked = await revoke(first.certificateId, REVOCATION_CAUSE_LEAKED);
    expect(revoked).toMatchObject({ kid: first.kid, certificateHeld: false });
    expect(await verdicts(first)).toEqual(REVOKED);
    const fresh = await getCertificate();
    expect(fresh.certificateId).not.toBe(first.certificateId);
    expect(await verdicts(fresh)).toEqual(VALID);
    expect(await verdicts(first)).toEqual(REVOKED);
    // A fresh rid: the new card's is not the revoked one's.
    const ridOf = (jws: string) =>
      (
        JSON.parse(
          inflateRawSync(Buffer.from(jws.split('.')[1] ?? '', 'base64url')).toString('utf8'),
        ) as { vc: { rid: string } }
      ).vc.rid;
    expect(ridOf(fresh.jws)).not.toBe(ridOf(first.jws));
    const again = await refusalOf(revoke(first.certificateId, REVOCATION_CAUSE_LEAKED));
    expect([again.code, again.reason]).toEqual([status.FAILED_PRECONDITION, 'ALREADY_REVOKED']);
  });

  it('a fraudulent record holds the certificate: no new card, both verifiers say revoked, a correction does not lift it, a platform admin does, logged', async () => {
    const { owner, centreId, doseId, first, getCertificate } = await certified();
    const held = await revoke(first.certificateId, REVOCATION_CAUSE_FRAUDULENT);
    expect(held).toMatchObject({ kid: first.kid, certificateHeld: true });
    const refused = await refusalOf(getCertificate());
    expect([refused.code, refused.reason]).toEqual([
      status.FAILED_PRECONDITION,
      'CERTIFICATE_HELD',
    ]);
    // The refusal names the rule, never the cause.
    expect(refused.message).toContain('held');
    expect(refused.message.toLowerCase()).not.toContain('fraud');
    expect(await verdicts(first)).toEqual(REVOKED);
    // Someone else's citizen learns nothing of the hold: identity refuses them first.
    const stranger = await citizen();
    const notYours = await refusalOf(
      stranger.client.records.call(
        'getCertificate',
        { beneficiaryRef: owner.ref },
        stranger.client.as(stranger.token),
      ),
    );
    expect([notYours.code, notYours.reason]).toEqual([
      status.PERMISSION_DENIED,
      'BENEFICIARY_ACCESS_DENIED',
    ]);
    // Idempotent: the same revocation again changes nothing and says the same.
    expect(await revoke(first.certificateId, REVOCATION_CAUSE_FRAUDULENT)).toEqual(held);
    // The recording centre's admin corrects the dose: a fraud hold stays.
    const centreAdmin = await staffAt(centreId, CENTRE_ADMIN);
    const corrected = await centreAdmin.client.records.call(
      'correctDose',
      { doseId, vaccineCode: '', batchNumber: 'BB21046', administeredOn: '', reason: 'batch' },
      centreAdmin.client.as(centreAdmin.token),
    );
    expect([corrected.certificateHoldLifted, corrected.reissuedCertificateId]).toEqual([false, '']);
    const stillHeld = await refusalOf(getCertificate());
    expect(stillHeld.reason).toBe('CERTIFICATE_HELD');
    // Only a platform admin lifts it; the centre admin is refused.
    const notAdmin = await refusalOf(
      centreAdmin.client.records.call(
        'liftCertificateHold',
        { certificateId: first.certificateId, reason: 'lifting my own' },
        centreAdmin.client.as(centreAdmin.token),
      ),
    );
    expect([notAdmin.code, notAdmin.reason]).toEqual([
      status.PERMISSION_DENIED,
      'ROLE_NOT_ALLOWED',
    ]);
    expect(await liftHold(first.certificateId)).toEqual({ lifted: true });
    expect(await liftHold(first.certificateId)).toEqual({ lifted: false });
    const fresh = await getCertificate();
    expect(fresh.certificateId).not.toBe(first.certificateId);
    expect(await verdicts(fresh)).toEqual(VALID);
    expect(await verdicts(first)).toEqual(REVOKED);
    // The hold and its lift are events naming the platform admin, for the audit log.
    const { console: c } = await adminSession();
    const adminId = (event: { actor?: { principalId: string; clientId: string } }) =>
      event.actor?.clientId === c.clientId;
    const [placed] = await collector.waitFor(
      (event) => event.type === EVENTS.certificateHeld.name && event.subject?.ref === owner.ref,
    );
    expect(adminId(placed!)).toBe(true);
    expect(readPayload(placed!, EVENTS.certificateHeld)).toEqual({
      certificateId: first.certificateId,
      cause: REVOCATION_CAUSE_FRAUDULENT,
    });
    const lifts = await collector.waitFor(
      (event) =>
        event.type === EVENTS.certificateHoldLifted.name && event.subject?.ref === owner.ref,
    );
    expect(lifts).toHaveLength(1);
    expect(adminId(lifts[0]!)).toBe(true);
    expect(readPayload(lifts[0]!, EVENTS.certificateHoldLifted)).toMatchObject({
      certificateId: first.certificateId,
      liftedBy: 'ADMIN',
    });
    const [revokedEvent] = await collector.waitFor(
      (event) => event.type === EVENTS.certificateRevoked.name && event.subject?.ref === owner.ref,
    );
    expect(readPayload(revokedEvent!, EVENTS.certificateRevoked)).toMatchObject({
      certificateId: first.certificateId,
      revocationCause: REVOCATION_CAUSE_FRAUDULENT,
    });
  });

  it('a mistaken record is held, by another instance too (PostgreSQL), until a dose is corrected; the new card is valid in both verifiers', async () => {
    const { owner, centreId, doseId, first, getCertificate } = await certified();
    expect(await revoke(first.certificateId, REVOCATION_CAUSE_MISTAKEN_RECORD)).toMatchObject({
      certificateHeld: true,
    });
    // A second instance, started after the hold on the same database, holds it as well.
    const second = await secondInstance();
    try {
      const viaSecond = createServiceClient(vaccinationRecordV1.VaccinationRecordServiceService, {
        clientId: owner.client.clientId,
        secret: clients.find((client) => client.clientId === owner.client.clientId)?.secret ?? '',
        deadlineMs: 10_000,
        address: `127.0.0.1:${second.runtime.port}`,
      });
      try {
        const refused = await refusalOf(
          viaSecond.call(
            'getCertificate',
            { beneficiaryRef: owner.ref },
            owner.client.as(owner.token),
          ),
        );
        expect([refused.code, refused.reason]).toEqual([
          status.FAILED_PRECONDITION,
          'CERTIFICATE_HELD',
        ]);
      } finally {
        viaSecond.close();
      }
    } finally {
      await second.runtime.stop();
    }
    expect(await verdicts(first)).toEqual(REVOKED);
    const centreAdmin = await staffAt(centreId, CENTRE_ADMIN);
    const corrected = await centreAdmin.client.records.call(
      'correctDose',
      { doseId, vaccineCode: '', batchNumber: 'BB21047', administeredOn: '', reason: 'batch' },
      centreAdmin.client.as(centreAdmin.token),
    );
    expect(corrected.certificateHoldLifted).toBe(true);
    const fresh = await getCertificate();
    expect(fresh.certificateId).not.toBe(first.certificateId);
    expect(await verdicts(fresh)).toEqual(VALID);
    expect(await verdicts(first)).toEqual(REVOKED);
    // Nothing left for an admin to lift.
    expect(await liftHold(first.certificateId)).toEqual({ lifted: false });
    const [lift] = await collector.waitFor(
      (event) =>
        event.type === EVENTS.certificateHoldLifted.name && event.subject?.ref === owner.ref,
    );
    expect(lift?.actor?.principalId).toBe(centreAdmin.staffId);
    expect(readPayload(lift!, EVENTS.certificateHoldLifted)).toEqual({
      certificateId: first.certificateId,
      cause: REVOCATION_CAUSE_MISTAKEN_RECORD,
      liftedBy: 'CORRECTION',
      doseId,
    });
  });

  it('a hold revokes the card reissued after a leak; cards asked for as it is placed are refused or revoked with it', async () => {
    const { first, getCertificate } = await certified();
    await revoke(first.certificateId, REVOCATION_CAUSE_LEAKED);
    const reissued = await getCertificate();
    expect(await verdicts(reissued)).toEqual(VALID);
    // Fraud found later, by the first (revoked) card's id: the live card is revoked too.
    // Certificates asked for as the hold is placed are either refused or revoked with it.
    const asked = Array.from({ length: 8 }, () => getCertificate());
    const [held, refusals, cards] = await Promise.all([
      revoke(first.certificateId, REVOCATION_CAUSE_FRAUDULENT),
      Promise.all(asked.map(outcomeOf)),
      Promise.allSettled(asked),
    ]);
    expect(held.certificateHeld).toBe(true);
    expect(await verdicts(reissued)).toEqual(REVOKED);
    for (const [i, card] of cards.entries()) {
      if (card.status === 'fulfilled') expect(await verdicts(card.value)).toEqual(REVOKED);
      else expect(refusals[i]?.reason).toBe('CERTIFICATE_HELD');
    }
    expect((await refusalOf(getCertificate())).reason).toBe('CERTIFICATE_HELD');
  });

  it('a hold waits for a GetCertificate in progress: both take the beneficiary’s lock', async () => {
    const { owner, first } = await certified();
    // A transaction holding the lock GetCertificate signs under, as the store takes it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const signing = new PgRecordStore(app.runtime.pool).transaction(
      async () => {
        entered();
        await released;
      },
      { beneficiary: owner.ref },
    );
    await inside;
    let settled = false;
    const held = revoke(first.certificateId, REVOCATION_CAUSE_FRAUDULENT).finally(() => {
      settled = true;
    });
    try {
      await eventually(
        async () => {
          const { rows } = await app.runtime.pool.query<{ waiting: number }>(
            "SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          );
          expect(rows[0]?.waiting).toBe(1);
        },
        { timeoutMs: 10_000 },
      );
      expect(settled).toBe(false);
    } finally {
      release();
      await signing;
    }
    expect((await held).certificateHeld).toBe(true);
  });

  it('only a platform admin revokes or lifts, and a revocation names its cause', async () => {
    const { centreId, first } = await certified();
    const centreAdmin = await staffAt(centreId, CENTRE_ADMIN);
    for (const [method, request] of [
      [
        'revokeCertificate',
        { certificateId: first.certificateId, reason: 'not mine', cause: REVOCATION_CAUSE_LEAKED },
      ],
      ['liftCertificateHold', { certificateId: first.certificateId, reason: 'not mine' }],
    ] as const) {
      const refused = await refusalOf(
        centreAdmin.client.records.call(method, request, centreAdmin.client.as(centreAdmin.token)),
      );
      expect([method, refused.code, refused.reason]).toEqual([
        method,
        status.PERMISSION_DENIED,
        'ROLE_NOT_ALLOWED',
      ]);
    }
    for (const cause of [vaccinationRecordV1.RevocationCause.REVOCATION_CAUSE_UNSPECIFIED, 99]) {
      const refused = await refusalOf(revoke(first.certificateId, cause));
      expect([refused.code, refused.reason]).toEqual([
        status.INVALID_ARGUMENT,
        'INVALID_REVOCATION_CAUSE',
      ]);
    }
    // Nothing was revoked by the refused calls.
    expect(await verdicts(first)).toEqual(VALID);
  });

  it('a RecordDose whose deadline passes while it waits for the beneficiary’s lock is abandoned: nothing left waiting, nothing recorded (issue 18)', async () => {
    const owner = await citizen();
    const vaccinator = await staffAt(await centre(), VACCINATOR);
    const grant = await consentFor(vaccinator, owner.mobile);
    // A transaction holding the beneficiary's lock, as the store takes it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = new PgRecordStore(app.runtime.pool).transaction(
      async () => {
        entered();
        await released;
      },
      { beneficiary: owner.ref },
    );
    await inside;
    const request = doseRequest(owner.ref, grant.token);
    try {
      const refused = await refusalOf(
        vaccinator.client.records.call('recordDose', request, {
          ...vaccinator.client.as(vaccinator.token),
          deadlineMs: 1_500,
        }),
      );
      expect(refused.code).toBe(status.DEADLINE_EXCEEDED);
      // The service stopped waiting too: nothing waits for the lock while it is still held.
      await eventually(
        async () => {
          const { rows } = await app.runtime.pool.query<{ waiting: number }>(
            "SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          );
          expect(rows[0]?.waiting).toBe(0);
        },
        { timeoutMs: 5_000 },
      );
    } finally {
      release();
      await holding;
    }
    // Nothing was written for the caller that left once the lock was free...
    const { rows } = await app.runtime.pool.query(
      'SELECT dose_id FROM doses WHERE client_request_id = $1',
      [request.clientRequestId],
    );
    expect(rows).toEqual([]);
    // ...and asked again under the same request id, the dose is recorded then, once.
    const again = await vaccinator.client.records.call(
      'recordDose',
      request,
      vaccinator.client.as(vaccinator.token),
    );
    expect(again.replayed).toBe(false);
  });
});
