import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { status } from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllDevSms } from '@vaxguard/dev-sms';
import { EVENTS } from '@vaxguard/event-catalogue';
import { decodeEntry } from './domain/entry-encoding';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { MemoryLogSink } from '@vaxguard/logging';
import { auditV1, identityStaffV1, identityV1, otpV1 } from '@vaxguard/proto';
import {
  callAs,
  eventually,
  leaks,
  madeUpAadhaar,
  outcomeOf,
  refusalOf,
  startPlatform,
  testClient,
  type Platform,
  type PlatformClients,
} from '@vaxguard/testing';
import { generateSignerKey } from '@vaxguard/tlog';
import { SERVICE_SCOPES } from '@vaxguard/tokens';
import { createAuditApp, type AuditApp } from './app';
import { readConfig } from './config';

/** The test's small hourly threshold: the fourth distinct beneficiary is one too many. */
const READS_PER_HOUR = 3;
const SUSPENSION_BOUND_MS = 30_000;
/** GenerateOtp calls the SMS pump fires at once, each for a fresh mobile. */
const FLOOD_CALLS = 200;

/**
 * The anomaly rules end to end: the built OTP and identity services as their own
 * processes, the audit service in-process with a small hourly threshold, real
 * PostgreSQL and Kafka. Every event reaches the audit service the way it does in
 * production: identity's and OTP's outboxes, Kafka, the log's consumer.
 */
describe('anomaly rules, automatic suspension and queries of the log (real OTP, identity, PostgreSQL, Kafka)', () => {
  const logs = new MemoryLogSink();
  const console_ = testClient('audit-console');
  const svcAudit = testClient('svc-audit');
  // A client application configured at every service (CLIENT_CREDENTIALS), unknown to
  // identity's registry: the SMS pump of the flood test.
  const smsPump = testClient('sms-pump');
  // Another configured client: the password sprayer of the staff sign-in test.
  const sprayer = testClient('login-sprayer');
  const ADMIN_MOBILE = '9730000001';
  let platform: Platform;
  let audit: AuditApp;
  let auditDb: pg.Pool;
  let clients: ReturnType<typeof connect>;
  const sessions = { admin: '', auditor: '' };
  let auditorId = '';
  let centreId = '';
  /** Raw values the test used, which must never reach the audit service's logs. */
  const raw = new Set<string>();
  const codes = new Set<string>();

  let mobileCounter = 0;
  const freshMobile = () => {
    const mobile = `9731${String(mobileCounter++).padStart(6, '0')}`;
    raw.add(mobile);
    return mobile;
  };
  let aadhaarCounter = 0;
  const freshAadhaar = () => {
    const aadhaar = madeUpAadhaar(aadhaarCounter++);
    raw.add(aadhaar);
    return aadhaar;
  };

  /** Clients of the three services, as the console or as another client application. */
  function connect(client: { clientId: string; secret: string } = console_) {
    const options = { clientId: client.clientId, secret: client.secret, deadlineMs: 15_000 };
    return {
      ...platform.connect(client, options),
      audit: createServiceClient(auditV1.AuditServiceService, {
        ...options,
        address: `127.0.0.1:${audit.runtime.port}`,
      }),
    };
  }

  const as = callAs;

  /**
   * Confirms a transaction with the code sent to the person's mobile (the dev SMS inbox),
   * through the client that started it.
   */
  async function confirm(
    txnId: string,
    otp: PlatformClients['otp'] = clients.otp,
  ): Promise<string> {
    const code = await platform.smsCode(txnId);
    codes.add(code);
    const { token } = await otp.call('confirmOtp', { txnId, otp: code }, as());
    return token;
  }

  /** The log's events of a type, decoded, once `found` picks at least one out. */
  async function loggedEvents(
    type: string,
    found: (event: ReturnType<typeof decodeEntry>['event']) => boolean,
  ) {
    return eventually(async () => {
      const { rows } = await auditDb.query<{ entry: Buffer }>(
        'SELECT entry FROM audit_log_entries WHERE event_type = $1 ORDER BY entry_index',
        [type],
      );
      const events = rows.map((row) => decodeEntry(row.entry).event).filter(found);
      if (events.length === 0) throw new Error(`no such ${type} in the log yet`);
      return events;
    });
  }

  async function staffSession(username: string, password: string): Promise<string> {
    const { txnId } = await clients.identity.call('startStaffLogin', { username, password }, as());
    return confirm(txnId);
  }

  async function createStaff(role: identityStaffV1.StaffRole, username: string, centre = '') {
    const mobile = freshMobile();
    const password = `a long passphrase number ${mobile}`;
    const { staff } = await clients.identity.call(
      'createStaff',
      { username, displayName: username, role, centreId: centre, mobile, password },
      as(sessions.admin),
    );
    return { staffId: staff?.staffId ?? '', session: await staffSession(username, password) };
  }

  /**
   * A citizen on a fresh mobile with `count` beneficiaries registered on it, and each
   * one's secret code as registration showed it to the citizen.
   */
  async function citizenWithBeneficiaries(count: number) {
    const mobile = freshMobile();
    const { txnId } = await clients.otp.call(
      'generateOtp',
      {
        mobile,
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
        consent: undefined,
        onBehalfOfClientId: '',
      },
      as(),
    );
    const token = await confirm(txnId);
    raw.add(token);
    const refs: string[] = [];
    const secretCodes: string[] = [];
    for (let i = 0; i < count; i++) {
      const { beneficiary, secretCode } = await clients.identity.call(
        'registerBeneficiary',
        {
          mobile,
          name: `Asha Devi ${'ABCD'[i] ?? ''}`,
          gender: identityV1.Gender.GENDER_FEMALE,
          yearOfBirth: 1961 + i,
          photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
          photoIdNumber: freshAadhaar(),
        },
        as(token),
      );
      refs.push(beneficiary?.beneficiaryRef ?? '');
      secretCodes.push(secretCode);
    }
    return { mobile, token, refs, secretCodes };
  }

  /** A consent grant for the staff member, confirmed by the person with the code they got. */
  async function consentGrant(staffSessionToken: string, mobile: string): Promise<string> {
    const { txnId } = await clients.identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: mobile } },
      as(staffSessionToken),
    );
    const grant = await confirm(txnId);
    raw.add(grant);
    return grant;
  }

  const read = (grant: string, beneficiaryRef: string) =>
    clients.identity.call('getBeneficiary', { beneficiaryRef }, as(grant));

  async function alertsAbout(principalId: string): Promise<auditV1.AlertRecord[]> {
    const { alerts } = await clients.audit.call(
      'listAlerts',
      { pageSize: 100, pageToken: '', unacknowledgedOnly: false },
      as(sessions.auditor),
    );
    return alerts.filter((record) => record.alert?.principalId === principalId);
  }

  /** The alert about a principal, once the audit service has carried out its response. */
  async function respondedAlert(principalId: string): Promise<auditV1.AlertRecord | undefined> {
    const [record] = await eventually(async () => {
      const found = await alertsAbout(principalId);
      if (found[0]?.responseOutcome !== auditV1.ResponseOutcome.RESPONSE_OUTCOME_DONE) {
        throw new Error('response not recorded yet');
      }
      return found;
    });
    return record;
  }

  /**
   * The log's alert, automatic response and identity's suspension about a principal,
   * once all three are in it: each one's actor, by event type.
   */
  async function suspensionInLog(principalId: string): Promise<Map<string, string>> {
    const types = [
      EVENTS.securityAlert.name,
      EVENTS.securityResponse.name,
      EVENTS.principalSuspended.name,
    ];
    const rows = await eventually(async () => {
      const { rows } = await auditDb.query<{ event_type: string; actor_id: string }>(
        `SELECT event_type, actor_id FROM audit_log_entries WHERE subject_ref = $1
          AND event_type = ANY($2::text[]) ORDER BY entry_index`,
        [principalId, types],
      );
      // A principal may have more than one alert (a MEDIUM one before the HIGH one):
      // wait for each of the three kinds, not for three rows.
      const seen = new Set(rows.map((row) => row.event_type));
      if (seen.size < types.length) throw new Error(`${seen.size} of 3 kinds in the log`);
      return rows;
    });
    const logged = new Map(rows.map((row) => [row.event_type, row.actor_id]));
    expect([...logged.keys()].sort()).toEqual([...types].sort());
    return logged;
  }

  beforeAll(async () => {
    raw.add(ADMIN_MOBILE);
    platform = await startPlatform({
      services: ['otp', 'identity'],
      // OTP's client quotas are its defaults: the pump gets what any configured client gets.
      clients: [smsPump.credential, sprayer.credential],
      otpClients: [console_.credential, svcAudit.credential],
      // The audit service's own client may suspend principals, and nothing else.
      identityClients: [
        console_.credential,
        `${svcAudit.credential}:${SERVICE_SCOPES.suspendPrincipals}`,
      ],
      adminMobile: ADMIN_MOBILE,
    });
    const { kafka, postgres } = platform;
    const brokers = kafka.brokers.join(',');
    const auditUrl = await postgres.createDatabase();
    const auditConfig = readConfig({
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: auditUrl,
      KAFKA_BROKERS: brokers,
      CLIENT_CREDENTIALS: [console_.credential, smsPump.credential].join(','),
      LOG_LEVEL: 'info',
      OTP_GRPC_ADDRESS: platform.address('otp'),
      IDENTITY_GRPC_ADDRESS: platform.address('identity'),
      SERVICE_CLIENT_ID: svcAudit.clientId,
      SERVICE_CLIENT_SECRET: svcAudit.secret,
      AUDIT_LOG_SIGNER_KEY: generateSignerKey('audit.anomaly-test.vaxguard').signerKey,
      // The log's kept checkpoint; no witness: this test is about the anomaly rules.
      AUDIT_STATE_DIR: mkdtempSync(join(tmpdir(), 'vaxguard-audit-anomaly-')),
      AUDIT_WITNESSES: 'none',
      AUDIT_CHECKPOINT_INTERVAL: '200ms',
      AUDIT_ANOMALY_STAFF_READS_PER_HOUR: String(READS_PER_HOUR),
      AUDIT_ANOMALY_STAFF_READS_PER_DAY: String(READS_PER_HOUR * 3),
    });
    audit = await createAuditApp(auditConfig, { logSink: logs });
    await audit.runtime.start();
    auditDb = new pg.Pool({ connectionString: auditUrl, max: 2 });
    clients = connect();

    sessions.admin = await staffSession(platform.admin.username, platform.admin.password);
    raw.add(sessions.admin);
    const { centre } = await clients.identity.call(
      'createCentre',
      { name: 'PHC Anomaly', district: 'Pune', state: 'Maharashtra' },
      as(sessions.admin),
    );
    centreId = centre?.centreId ?? '';
    const auditor = await createStaff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR, 'auditor.one');
    sessions.auditor = auditor.session;
    auditorId = auditor.staffId;
    raw.add(auditor.session);
  }, 240_000);

  afterAll(async () => {
    for (const client of Object.values(clients ?? {})) client.close();
    await auditDb?.end().catch(() => undefined);
    await audit?.runtime.stop().catch(() => undefined);
    await platform?.stop();
  });

  it('suspends a vaccinator who reads past the hourly threshold, and logs the alert and the response', async () => {
    const vaccinator = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      'vaccinator.harvest',
      centreId,
    );
    raw.add(vaccinator.session);
    const household = await citizenWithBeneficiaries(READS_PER_HOUR + 1);
    const grant = await consentGrant(vaccinator.session, household.mobile);
    const [first = '', ...others] = household.refs;
    const offending = others.pop() ?? '';
    // Up to the threshold: allowed and nothing happens.
    for (const ref of [first, ...others]) await read(grant, ref);
    const started = performance.now();
    await read(grant, offending);
    // The vaccinator goes on working; the first refusal is the suspension taking hold.
    const refused = await eventually(
      async () => {
        const outcome = await outcomeOf(read(grant, first));
        if (!outcome) throw new Error('still allowed');
        return outcome;
      },
      { timeoutMs: SUSPENSION_BOUND_MS, intervalMs: 25 },
    );
    const elapsedMs = Math.round(performance.now() - started);
    console.log(`[measure] offending read -> vaccinator refused: ${elapsedMs} ms`);
    expect([refused.code, refused.reason]).toEqual([
      status.PERMISSION_DENIED,
      'PRINCIPAL_SUSPENDED',
    ]);
    expect(elapsedMs).toBeLessThan(SUSPENSION_BOUND_MS);
    // The staff session is refused everywhere too, not only the grant.
    const session = await refusalOf(
      clients.identity.call(
        'requestConsent',
        { target: { $case: 'mobile', value: household.mobile } },
        as(vaccinator.session),
      ),
    );
    expect(session.reason).toBe('PRINCIPAL_SUSPENDED');

    // Auditors see the alert and what became of it.
    const record = await respondedAlert(vaccinator.staffId);
    expect(record?.alert).toMatchObject({
      rule: 'STAFF_READS_PER_HOUR',
      severity: auditV1.Severity.SEVERITY_HIGH,
      principalKind: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_STAFF,
      response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_SUSPEND_STAFF,
      window: { name: '1h', observed: READS_PER_HOUR + 1, threshold: READS_PER_HOUR },
    });
    // The alert, the audit service's response and identity's suspension are all in the log.
    const logged = await suspensionInLog(vaccinator.staffId);
    expect(logged.get(EVENTS.securityAlert.name)).toBe(svcAudit.clientId);
  });

  it('suspends a vaccinator guessing secret codes at several beneficiaries: the first lock alerts, the second suspends', async () => {
    const vaccinator = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      'vaccinator.guesser',
      centreId,
    );
    raw.add(vaccinator.session);
    const household = await citizenWithBeneficiaries(3);
    const [first = '', second = '', untouched = ''] = household.refs;
    const wrongFor = (ref: string) => {
      const right = Number(household.secretCodes[household.refs.indexOf(ref)]);
      return String((right + 1) % 10_000).padStart(4, '0');
    };
    const guess = (ref: string, secretCode: string) =>
      clients.identity.call(
        'verifySecretCode',
        { beneficiaryRef: ref, secretCode },
        as(vaccinator.session),
      );
    /** Identity locks a code at its 5th wrong try in a row. */
    const TRIES_TO_LOCK = 5;
    const guessUntilLocked = async (ref: string) => {
      for (let i = 0; i < TRIES_TO_LOCK; i++) {
        const refused = await refusalOf(guess(ref, wrongFor(ref)));
        expect(refused.reason).toBe('SECRET_CODE_REFUSED');
      }
    };

    // One locked code: auditors are told who guessed; the vaccinator keeps working.
    await guessUntilLocked(first);
    const [lockAlert] = await eventually(async () => {
      const found = await alertsAbout(vaccinator.staffId);
      if (found.length === 0) throw new Error('no alert yet');
      return found;
    });
    expect(lockAlert?.alert).toMatchObject({
      rule: 'SECRET_CODE_LOCKED',
      severity: auditV1.Severity.SEVERITY_MEDIUM,
      principalKind: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_STAFF,
      principalId: vaccinator.staffId,
      response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_NONE,
    });
    // Even with the right code, the locked beneficiary is refused; another is not.
    const rightCode = household.secretCodes[household.refs.indexOf(first)] ?? '';
    expect((await refusalOf(guess(first, rightCode))).reason).toBe('SECRET_CODE_REFUSED');
    const { token: grant } = await guess(untouched, household.secretCodes[2] ?? '');
    raw.add(grant);

    // The guesser moves on: the guess that locks a second code crosses the threshold.
    for (let i = 0; i < TRIES_TO_LOCK - 1; i++) await refusalOf(guess(second, wrongFor(second)));
    const started = performance.now();
    await refusalOf(guess(second, wrongFor(second)));
    // The guesser keeps guessing; the first answer that is not "wrong code" is the suspension.
    const refused = await eventually(
      async () => {
        const outcome = await refusalOf(guess(second, wrongFor(second)));
        if (outcome.reason === 'SECRET_CODE_REFUSED') throw new Error('still guessing');
        return outcome;
      },
      { timeoutMs: SUSPENSION_BOUND_MS, intervalMs: 25 },
    );
    const elapsedMs = Math.round(performance.now() - started);
    console.log(`[measure] second locking guess -> guesser refused as suspended: ${elapsedMs} ms`);
    expect([refused.code, refused.reason]).toEqual([
      status.PERMISSION_DENIED,
      'PRINCIPAL_SUSPENDED',
    ]);
    expect(elapsedMs).toBeLessThan(SUSPENSION_BOUND_MS);
    // The session is refused for anything else too.
    const session = await refusalOf(
      clients.identity.call(
        'requestConsent',
        { target: { $case: 'mobile', value: household.mobile } },
        as(vaccinator.session),
      ),
    );
    expect(session.reason).toBe('PRINCIPAL_SUSPENDED');

    const record = await respondedAlert(vaccinator.staffId);
    expect(record?.alert).toMatchObject({
      rule: 'SECRET_CODE_LOCKS_PER_HOUR',
      severity: auditV1.Severity.SEVERITY_HIGH,
      principalId: vaccinator.staffId,
      response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_SUSPEND_STAFF,
      window: { name: '1h', observed: 2, threshold: 1 },
    });
    const logged = await suspensionInLog(vaccinator.staffId);
    expect(logged.get(EVENTS.securityAlert.name)).toBe(svcAudit.clientId);
  });

  it('alerts auditors to a locked staff account, and to one client spraying a password at many usernames, suspending neither', async () => {
    const target = 'vaccinator.target';
    const { staffId } = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      target,
      centreId,
    );
    // Ten wrong passwords lock the account (identity's STAFF_PASSWORD_MAX_FAILURES).
    for (let i = 0; i < 10; i++) {
      const refused = await refusalOf(
        clients.identity.call(
          'startStaffLogin',
          { username: target, password: `wrong passphrase ${i}` },
          as(),
        ),
      );
      expect(refused.reason).toBe('BAD_LOGIN');
    }
    const [locked] = await eventually(async () => {
      const found = await alertsAbout(staffId);
      if (found.length === 0) throw new Error('no alert yet');
      return found;
    });
    expect(locked?.alert).toMatchObject({
      rule: 'STAFF_LOGIN_LOCKED',
      severity: auditV1.Severity.SEVERITY_MEDIUM,
      principalKind: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_STAFF,
      principalId: staffId,
      response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_NONE,
    });

    // One password at 21 usernames from one client: identity throttles it after 10, and
    // every try, refused either way, is an event the spraying rule counts (more than 20).
    // A sprayer takes each answer as it comes. With the kit's retries, a refusal whose
    // retry-after ends within the deadline (the minute about to turn) was waited out and
    // tried again in the next minute, where, on a loaded machine, the try outlasted what
    // was left of the deadline (two clean-clone CI runs: DEADLINE_EXCEEDED, no reason).
    const spraying = platform.connect(sprayer, { deadlineMs: 15_000, retry: { maxAttempts: 1 } });
    const spray = (username: string) =>
      refusalOf(
        spraying.identity.call(
          'startStaffLogin',
          { username, password: 'Spring2026 common passphrase' },
          as(),
        ),
      );
    const usernames = Array.from({ length: 21 }, (_, i) => `sprayed.user.${i}`);
    const answers = [
      ...(await Promise.all(usernames.slice(0, 10).map(spray))),
      ...(await Promise.all(usernames.slice(10).map(spray))),
    ];
    // Throttled unless the minute turned between the batches (identity's own test holds it).
    // Anything else is shown whole (code, reason, message): CI once saw one without a reason.
    const unexpected = answers.filter(
      (answer) => answer.reason !== 'BAD_LOGIN' && answer.reason !== 'STAFF_LOGIN_RATE',
    );
    expect(unexpected).toEqual([]);
    const [sprayed] = await eventually(async () => {
      const found = await alertsAbout(sprayer.clientId);
      if (found.length === 0) throw new Error('no alert yet');
      return found;
    });
    expect(sprayed?.alert).toMatchObject({
      rule: 'STAFF_LOGIN_SPRAYING',
      severity: auditV1.Severity.SEVERITY_MEDIUM,
      principalKind: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_PARTNER_CLIENT,
      principalId: sprayer.clientId,
      response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_NONE,
      window: { name: '10m', observed: 21, threshold: 20 },
    });
    spraying.otp.close();
    spraying.identity.close();
  });

  it('cuts off a configured client pumping codes to fresh mobiles within tens of codes, suspends it automatically, logs it, and every service refuses it', async () => {
    const pump = connect(smsPump);
    try {
      await pumpFlood(pump);
    } finally {
      for (const client of Object.values(pump)) client.close();
    }
  });

  async function pumpFlood(pump: ReturnType<typeof connect>) {
    const inboxBefore = (await readAllDevSms(platform.smsInbox)).length;
    const generate = (mobile: string) =>
      pump.otp.call(
        'generateOtp',
        { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
        as(),
      );
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: FLOOD_CALLS }, () => outcomeOf(generate(freshMobile()))),
    );
    const floodMs = Math.round(performance.now() - started);
    const sent = outcomes.filter((outcome) => outcome === undefined).length;
    const refusals = outcomes.flatMap((outcome) => (outcome ? [outcome] : []));
    // Cut off by its quota; once the suspension lands, refused as suspended instead.
    expect(new Set(refusals.map((refusal) => `${status[refusal.code]} ${refusal.reason}`))).toEqual(
      new Set([
        'RESOURCE_EXHAUSTED CLIENT_QUOTA',
        ...(refusals.some((r) => r.reason === 'PRINCIPAL_SUSPENDED')
          ? ['PERMISSION_DENIED PRINCIPAL_SUSPENDED']
          : []),
      ]),
    );
    // The codes that actually went out: the inbox holds one per answered call, tens at most.
    const inbox = (await readAllDevSms(platform.smsInbox)).slice(inboxBefore);
    for (const sms of inbox) codes.add(sms.code);
    expect(inbox).toHaveLength(sent);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(100);

    // The flood rule suspends the pump: the OTP service refuses even its harmless calls.
    const suspended = await eventually(
      async () => {
        const outcome = await outcomeOf(pump.otp.call('getSigningKeys', {}, as()));
        if (!outcome) throw new Error('still allowed');
        return outcome;
      },
      { timeoutMs: SUSPENSION_BOUND_MS, intervalMs: 25 },
    );
    const elapsedMs = Math.round(performance.now() - started);
    console.log(
      `[measure] SMS pump: ${sent} of ${FLOOD_CALLS} codes sent, ${refusals.length} refused, the flood answered in ${floodMs} ms; flood started -> pump refused by OTP as suspended: ${elapsedMs} ms`,
    );
    expect([suspended.code, suspended.reason]).toEqual([
      status.PERMISSION_DENIED,
      'PRINCIPAL_SUSPENDED',
    ]);
    // Every service refuses it, whatever it asks: each hears of the suspension on its own
    // (the access registry), within the platform's second of OTP.
    const refusedWithin = (call: () => Promise<unknown>) =>
      eventually(() => refusalOf(call()), { timeoutMs: 1_000, intervalMs: 25 });
    const atEachService = await Promise.all([
      refusedWithin(() => generate(freshMobile())),
      refusedWithin(() =>
        pump.identity.call('startStaffLogin', { username: 'nobody', password: 'nothing' }, as()),
      ),
      refusedWithin(() => pump.audit.call('getCheckpoint', {}, as())),
    ]);
    expect(atEachService.map((refusal) => [refusal.code, refusal.reason])).toEqual([
      [status.PERMISSION_DENIED, 'PRINCIPAL_SUSPENDED'],
      [status.PERMISSION_DENIED, 'PRINCIPAL_SUSPENDED'],
      [status.PERMISSION_DENIED, 'PRINCIPAL_SUSPENDED'],
    ]);
    for (const refusal of [...refusals, ...atEachService]) {
      expect(leaks(refusal.message, raw, codes)).toEqual([]);
    }

    const record = await respondedAlert(smsPump.clientId);
    expect(record?.alert).toMatchObject({
      rule: 'OTP_REQUEST_FLOOD',
      severity: auditV1.Severity.SEVERITY_HIGH,
      principalKind: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_PARTNER_CLIENT,
      response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_LOCK_PARTNER,
      window: { name: '1m' },
    });
    // The alert, the response and identity's suspension of the pump are in the log.
    const logged = await suspensionInLog(smsPump.clientId);
    expect(logged.get(EVENTS.principalSuspended.name)).toBe(svcAudit.clientId);
    // So are the refused sends the rule counted, each naming the pump.
    const refusedInLog = await auditDb.query<{ n: string }>(
      'SELECT count(*) AS n FROM audit_log_entries WHERE event_type = $1 AND actor_id = $2',
      [EVENTS.otpClientQuotaRefused.name, smsPump.clientId],
    );
    expect(Number(refusedInLog.rows[0]?.n)).toBeGreaterThan(0);
    // Neither the OTP nor the identity process wrote a pumped mobile or a code anywhere.
    const processOutput = `${platform.otp.output()}\n${platform.identity?.output() ?? ''}`;
    expect(leaks(processOutput, raw, codes)).toEqual([]);
  }

  it('raises a CRITICAL alert on a canary read, which auditors list and acknowledge, each of which is in the log', async () => {
    const owner = await citizenWithBeneficiaries(1);
    const canary = owner.refs[0] ?? '';
    await clients.identity.call('markCanary', { beneficiaryRef: canary }, as(sessions.admin));
    await read(owner.token, canary);
    const record = await eventually(async () => {
      const { alerts } = await clients.audit.call(
        'listAlerts',
        { pageSize: 0, pageToken: '', unacknowledgedOnly: true },
        as(sessions.auditor),
      );
      const found = alerts.find((a) => a.alert?.rule === 'CANARY_READ');
      if (!found) throw new Error('no canary alert yet');
      return found;
    });
    expect(record.alert?.severity).toBe(auditV1.Severity.SEVERITY_CRITICAL);
    expect(record.acknowledgedAt).toBeUndefined();

    const alertId = record.alert?.alertId ?? '';
    const { alert: acknowledged } = await clients.audit.call(
      'acknowledgeAlert',
      { alertId },
      as(sessions.auditor),
    );
    expect(acknowledged?.acknowledgedAt).toBeInstanceOf(Date);
    expect(acknowledged?.acknowledgedBy).not.toBe('');
    const open = await clients.audit.call(
      'listAlerts',
      { pageSize: 0, pageToken: '', unacknowledgedOnly: true },
      as(sessions.auditor),
    );
    expect(open.alerts.map((a) => a.alert?.alertId)).not.toContain(alertId);
    const unknown = await refusalOf(
      clients.audit.call(
        'acknowledgeAlert',
        { alertId: '00000000-0000-4000-8000-000000000000' },
        as(sessions.auditor),
      ),
    );
    expect([unknown.code, unknown.reason]).toEqual([status.NOT_FOUND, 'ALERT_NOT_FOUND']);
    await clients.audit.call('acknowledgeAlert', { alertId }, as(sessions.auditor));

    // Each acknowledgement is an alert.acknowledged by the auditor, about the alert's
    // principal; the first one says so.
    const acknowledgements = await eventually(async () => {
      const found = await loggedEvents(
        EVENTS.alertAcknowledged.name,
        (event) => EVENTS.alertAcknowledged.payload.decode(event.payload.value).alertId === alertId,
      );
      if (found.length < 2) throw new Error(`${found.length} of 2 acknowledgements in the log`);
      return found;
    });
    expect(
      acknowledgements.map((event) => {
        const payload = EVENTS.alertAcknowledged.payload.decode(event.payload.value);
        return [event.actor.principalId, event.subject.ref, payload.rule, payload.first];
      }),
    ).toEqual([
      [auditorId, record.alert?.principalId, 'CANARY_READ', true],
      [auditorId, record.alert?.principalId, 'CANARY_READ', false],
    ]);
    // Each list of alerts is an audit.queried by the auditor, naming what was asked.
    const lists = await loggedEvents(EVENTS.auditQueried.name, (event) => {
      const payload = EVENTS.auditQueried.payload.decode(event.payload.value);
      return payload.query === 'ListAlerts' && payload.unacknowledgedOnly;
    });
    expect(lists.map((event) => event.actor.principalId)).toContain(auditorId);
  });

  it('pages alerts with opaque tokens', async () => {
    const all = await clients.audit.call(
      'listAlerts',
      { pageSize: 0, pageToken: '', unacknowledgedOnly: false },
      as(sessions.auditor),
    );
    expect(all.alerts.length).toBeGreaterThanOrEqual(2);
    const first = await clients.audit.call(
      'listAlerts',
      { pageSize: 1, pageToken: '', unacknowledgedOnly: false },
      as(sessions.auditor),
    );
    const second = await clients.audit.call(
      'listAlerts',
      { pageSize: 1, pageToken: first.nextPageToken, unacknowledgedOnly: false },
      as(sessions.auditor),
    );
    expect([...first.alerts, ...second.alerts].map((a) => a.alert?.alertId)).toEqual(
      all.alerts.slice(0, 2).map((a) => a.alert?.alertId),
    );
  });

  it("answers auditors' queries by actor, subject, type and time, page by page, each query itself in the log", async () => {
    const vaccinator = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      'vaccinator.queried',
      centreId,
    );
    raw.add(vaccinator.session);
    const household = await citizenWithBeneficiaries(2);
    const grant = await consentGrant(vaccinator.session, household.mobile);
    const [one = '', two = ''] = household.refs;
    const startedAt = new Date();
    await read(grant, one);
    await read(grant, two);
    const query = (filter: Partial<auditV1.QueryEntriesRequest>, token = sessions.auditor) =>
      clients.audit.call(
        'queryEntries',
        {
          actorId: '',
          subjectRef: '',
          eventType: '',
          from: undefined,
          to: undefined,
          pageSize: 0,
          pageToken: '',
          ...filter,
        },
        as(token),
      );
    const byActor = { actorId: vaccinator.staffId, eventType: EVENTS.accessGranted.name };
    const all = await eventually(async () => {
      const { entries } = await query(byActor);
      if (entries.length < 2) throw new Error(`${entries.length} of 2 reads in the log`);
      return entries;
    });
    const subjects = all.map((e) => decodeEntry(e.entry).event.subject.ref);
    expect(subjects.sort()).toEqual([one, two].sort());
    // Page by page with opaque tokens: the same entries, in log order.
    const first = await query({ ...byActor, pageSize: 1 });
    const second = await query({ ...byActor, pageSize: 1, pageToken: first.nextPageToken });
    expect([...first.entries, ...second.entries].map((e) => e.eventId)).toEqual(
      all.map((e) => e.eventId),
    );
    // A token goes on only with the query it came from.
    const other = await refusalOf(
      query({ eventType: EVENTS.accessDenied.name, pageToken: first.nextPageToken }),
    );
    expect([other.code, other.reason]).toEqual([status.INVALID_ARGUMENT, 'BAD_PAGE_TOKEN']);
    const bySubject = await query({ subjectRef: one, actorId: vaccinator.staffId });
    expect(bySubject.entries.map((e) => decodeEntry(e.entry).event.type)).toContain(
      EVENTS.accessGranted.name,
    );
    const before = await query({ ...byActor, to: startedAt });
    expect(before.entries).toEqual([]);
    const within = await query({ ...byActor, from: startedAt, to: new Date(Date.now() + 60_000) });
    expect(within.entries).toHaveLength(2);
    // Not for anyone but auditors.
    const refused = await refusalOf(query(byActor, vaccinator.session));
    expect([refused.code, refused.reason]).toEqual([status.PERMISSION_DENIED, 'NOT_AUDITOR']);
    // Each query is an event of the log, by the auditor.
    const auditorId = decodeEntry(
      (
        await eventually(async () => {
          const { entries } = await query({ eventType: EVENTS.auditQueried.name });
          if (entries.length < 6) throw new Error(`${entries.length} queries in the log`);
          return entries;
        })
      )[0]?.entry ?? new Uint8Array(),
    ).event.actor;
    expect(auditorId.kind).toBe('ACTOR_KIND_STAFF');
  });

  it("shows a citizen who read or tried to read their beneficiaries' records, and nothing about anyone else", async () => {
    const vaccinator = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      'vaccinator.history',
      centreId,
    );
    raw.add(vaccinator.session);
    const mine = await citizenWithBeneficiaries(1);
    const theirs = await citizenWithBeneficiaries(1);
    const [myRef = ''] = mine.refs;
    const [theirRef = ''] = theirs.refs;
    const grant = await consentGrant(vaccinator.session, mine.mobile);
    await read(grant, myRef);
    // The grant opens my record only: an attempt on theirs is refused, and theirs to see.
    const attempt = await refusalOf(read(grant, theirRef));
    expect(attempt.code).toBe(status.PERMISSION_DENIED);
    const history = (token: string) =>
      clients.audit.call('getMyAccessHistory', { pageSize: 0, pageToken: '' }, as(token));
    // Identity's read events name the staff member only: the role and the centre's name
    // come from what identity announced when it created them.
    const byStaff = (accesses: auditV1.RecordAccess[]) =>
      accesses.filter((access) => access.role === 'VACCINATOR');
    const myAccesses = await eventually(async () => {
      const { accesses } = await history(mine.token);
      if (byStaff(accesses).length < 1) throw new Error('the read is not in the log yet');
      return accesses;
    });
    expect(byStaff(myAccesses)).toEqual([
      expect.objectContaining({
        beneficiaryRef: myRef,
        granted: true,
        refusal: '',
        centreOrPartner: centreId,
        centreName: 'PHC Anomaly',
        partnerName: '',
      }),
    ]);
    expect(JSON.stringify(myAccesses)).not.toContain(vaccinator.staffId);
    expect(myAccesses.every((access) => access.beneficiaryRef === myRef)).toBe(true);
    const theirAccesses = await eventually(async () => {
      const { accesses } = await history(theirs.token);
      if (byStaff(accesses).length < 1) throw new Error('the attempt is not in the log yet');
      return accesses;
    });
    expect(byStaff(theirAccesses)).toEqual([
      expect.objectContaining({
        beneficiaryRef: theirRef,
        granted: false,
        centreName: 'PHC Anomaly',
      }),
    ]);
    expect(byStaff(theirAccesses)[0]?.refusal).not.toBe('');
    expect(theirAccesses.every((access) => access.beneficiaryRef === theirRef)).toBe(true);
    // A staff session is not a citizen token.
    const staff = await refusalOf(history(vaccinator.session));
    expect(staff.code).toBe(status.UNAUTHENTICATED);
  });

  /** A partner registered by the platform admin, once every service accepts it. */
  async function registeredPartner(clientId: string) {
    const { clientSecret } = await clients.identity.call(
      'registerPartner',
      {
        clientId,
        displayName: 'Pump Test',
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: 100,
      },
      as(sessions.admin),
    );
    raw.add(clientSecret);
    const partner = connect({ clientId, secret: clientSecret });
    await eventually(() => partner.otp.call('getSigningKeys', {}, as()), { timeoutMs: 30_000 });
    // Identity knows it once a request naming no one is refused for that, not for who asks
    // (checked before any quota counts it, and no event).
    await eventually(
      async () => {
        const refusal = await refusalOf(
          partner.identity.call(
            'requestConsent',
            { target: { $case: 'mobile', value: '1' } },
            as(),
          ),
        );
        if (status[refusal.code] !== 'INVALID_ARGUMENT') throw new Error(refusal.message);
      },
      { timeoutMs: 30_000 },
    );
    return partner;
  }

  const askConsent = (partner: ReturnType<typeof connect>, mobile: string) =>
    partner.identity.call('requestConsent', { target: { $case: 'mobile', value: mobile } }, as());

  it('raises a MEDIUM alert naming a partner that asks consent of more than 5 mobiles with nothing registered in 10 minutes, answered as registered ones are, and leaves it working', async () => {
    const partner = await registeredPartner('unregistered-pump');
    try {
      const household = await citizenWithBeneficiaries(1);
      const registered = await askConsent(partner, household.mobile);
      const strangers = Array.from({ length: 6 }, () => freshMobile());
      const answers: identityV1.RequestConsentResponse[] = [];
      for (const mobile of strangers) answers.push(await askConsent(partner, mobile));
      // The same answer as for a registered mobile: a real transaction, a code sent.
      for (const answer of answers) {
        expect(Object.keys(answer).sort()).toEqual(Object.keys(registered).sort());
        expect(answer.txnId).toMatch(/^[0-9a-f-]{36}$/);
      }
      const [record] = await eventually(async () => {
        const found = (await alertsAbout('unregistered-pump')).filter(
          (r) => r.alert?.rule === 'PARTNER_CONSENT_TO_UNREGISTERED',
        );
        if (found.length === 0) throw new Error('no alert yet');
        return found;
      });
      expect(record?.alert).toMatchObject({
        severity: auditV1.Severity.SEVERITY_MEDIUM,
        principalKind: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_PARTNER_CLIENT,
        principalId: 'unregistered-pump',
        response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_NONE,
        window: { name: '10m', observed: 6, threshold: 5 },
      });
      expect(leaks(JSON.stringify(record), raw, codes)).toEqual([]);
      // Not locked: its next request is answered.
      await askConsent(partner, household.mobile);
    } finally {
      for (const client of Object.values(partner)) client.close();
    }
  });

  it('the partner surge rule counts each consent request once, refused ones included, and fires on the first past its threshold (600 in 10 minutes)', async () => {
    const partner = await registeredPartner('surge-pump');
    try {
      // The client kit waits out a refusal's retry hint and asks again when the hint is
      // shorter than the call's deadline (15 s): the burst starts early in a minute, so
      // every hint (the time to the minute's end) is longer and each request is one call.
      if (Date.now() % 60_000 > 15_000) {
        await new Promise((resolve) => setTimeout(resolve, 60_000 - (Date.now() % 60_000) + 50));
      }
      // 600 requests, 100 at a time (within the client's deadline on a shared machine).
      const outcomes = [];
      for (let wave = 0; wave < 6; wave++) {
        outcomes.push(
          ...(await Promise.all(
            Array.from({ length: 100 }, () => outcomeOf(askConsent(partner, freshMobile()))),
          )),
        );
      }
      const refusals = outcomes.flatMap((outcome) => (outcome ? [outcome] : []));
      // Identity's consent SMS quota (20 a minute) refused most of them before any code.
      expect(refusals.length).toBeGreaterThan(500);
      expect([
        ...new Set(refusals.map((r) => `${status[r.code]} ${r.reason ?? r.message}`)),
      ]).toEqual(['RESOURCE_EXHAUSTED CONSENT_SMS_QUOTA']);
      // Once the rules have counted all 600 requests (and the codes that 20 of them sent),
      // the partner is at its threshold and no surge is raised.
      await eventually(
        async () => {
          const { rows } = await auditDb.query<{ n: string }>(
            `SELECT coalesce(sum(count), 0) AS n FROM anomaly_counts
              WHERE window_key = $1 AND bucket_ms = 60000`,
            ['PARTNER_RATE_SURGE|PARTNER_CLIENT:surge-pump'],
          );
          if (Number(rows[0]?.n) < 600) throw new Error(`${rows[0]?.n} of 600 counted`);
          return rows;
        },
        { timeoutMs: 60_000 },
      );
      const sentCodes = await loggedEvents(
        EVENTS.otpRequested.name,
        (event) => event.actor.principalId === 'surge-pump',
      );
      expect(sentCodes.length).toBeGreaterThan(0);
      const surges = async () =>
        (await alertsAbout('surge-pump')).filter((r) => r.alert?.rule === 'PARTNER_RATE_SURGE');
      expect(await surges()).toEqual([]);
      // The 601st is one too many.
      await outcomeOf(askConsent(partner, freshMobile()));
      const [surge] = await eventually(async () => {
        const found = await surges();
        if (found.length === 0) throw new Error('no surge alert yet');
        return found;
      });
      expect(surge?.alert).toMatchObject({
        severity: auditV1.Severity.SEVERITY_HIGH,
        response: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_LOCK_PARTNER,
        window: { name: '10m', observed: 601, threshold: 600 },
      });
    } finally {
      for (const client of Object.values(partner)) client.close();
    }
  });

  it("shows a citizen a partner application's read by the partner's name", async () => {
    const { clientId, clientSecret } = await clients.identity.call(
      'registerPartner',
      {
        clientId: 'umang-audit',
        displayName: 'UMANG',
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: 100,
      },
      as(sessions.admin),
    );
    raw.add(clientSecret);
    const partner = connect({ clientId, secret: clientSecret });
    try {
      // Every service knows the partner once identity's registry record reaches it.
      await eventually(() => partner.otp.call('getSigningKeys', {}, as()), { timeoutMs: 30_000 });
      const household = await citizenWithBeneficiaries(1);
      const [ref = ''] = household.refs;
      const { txnId } = await partner.identity.call(
        'requestConsent',
        { target: { $case: 'mobile', value: household.mobile } },
        as(),
      );
      const grant = await confirm(txnId, partner.otp);
      raw.add(grant);
      await partner.identity.call('getBeneficiary', { beneficiaryRef: ref }, as(grant));
      const byPartner = await eventually(async () => {
        const { accesses } = await clients.audit.call(
          'getMyAccessHistory',
          { pageSize: 0, pageToken: '' },
          as(household.token),
        );
        const found = accesses.filter((access) => access.role === 'PARTNER_CLIENT');
        if (found.length < 1) throw new Error("the partner's read is not in the log yet");
        return found;
      });
      expect(byPartner).toEqual([
        expect.objectContaining({
          beneficiaryRef: ref,
          granted: true,
          centreOrPartner: 'umang-audit',
          partnerName: 'UMANG',
          centreName: '',
        }),
      ]);
    } finally {
      for (const client of Object.values(partner)) client.close();
    }
  });

  it('refuses alerts to anyone but auditors, and leaks no raw identifier into its logs', async () => {
    const vaccinator = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      'vaccinator.curious',
      centreId,
    );
    raw.add(vaccinator.session);
    const list = (token?: string) =>
      clients.audit.call(
        'listAlerts',
        { pageSize: 0, pageToken: '', unacknowledgedOnly: false },
        as(token),
      );
    const anonymous = await refusalOf(list());
    expect(anonymous.code).toBe(status.UNAUTHENTICATED);
    const byVaccinator = await refusalOf(list(vaccinator.session));
    expect([byVaccinator.code, byVaccinator.reason]).toEqual([
      status.PERMISSION_DENIED,
      'NOT_AUDITOR',
    ]);
    const acknowledge = await refusalOf(
      clients.audit.call(
        'acknowledgeAlert',
        { alertId: '00000000-0000-4000-8000-000000000000' },
        as(vaccinator.session),
      ),
    );
    expect(acknowledge.reason).toBe('NOT_AUDITOR');
    expect(leaks(logs.text(), raw, codes)).toEqual([]);
  });
});
