import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { writePlatformDescription } from '@vaxguard/dev-platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBeneficiaryRef } from '@vaxguard/pii';
import { auditV1, identityStaffV1, otpV1 } from '@vaxguard/proto';
import {
  callAs,
  eventually,
  LEAK_REPLAY_SUSPENSION_GOAL_MS,
  outcomeOf,
  readLogEntry,
  refusalOf,
  replayLeak,
  type LeakReplayReport,
  everythingReadable,
  findRawValues,
  startWorld,
  type World,
} from '@vaxguard/testing';

const SERVICES = ['identity', 'otp', 'vaccination-record', 'audit'] as const;
const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The 2023 leak replayed against the whole platform as it runs under `npm start`: the four
 * built services as processes, real PostgreSQL and Kafka, the default thresholds. One
 * platform for the file; each test its own people, staff and clients.
 */
describe('the 2023 leak, replayed against the whole platform', () => {
  let world: World;
  let auditor: { session: string };

  beforeAll(async () => {
    // The bot's portal is a client of its own: its OTP quota (spent by the bot's consent
    // requests) is not the operator's that the other tests sign in through.
    world = await startWorld({
      configuredClients: ['pump-client', 'quota-client', 'bot-portal', 'cli-portal'],
    });
    auditor = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
  });
  afterAll(() => world?.stop());

  /** Log entries of a type about a subject, read by the auditor, once there is one. */
  async function logged(eventType: string, subjectRef: string) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { entries } = await world.clients.audit.call(
        'queryEntries',
        { actorId: '', subjectRef, eventType, pageSize: 100, pageToken: '' },
        callAs(auditor.session),
      );
      if (entries.length > 0 || Date.now() > deadline) return entries.map(readLogEntry);
      await new Promise((done) => setTimeout(done, 250));
    }
  }

  // The short replay, on its own portal client, before the 1,000-look-up one.
  it('1, live: npx vaxguard replay-leak prints each step as it happens and ends with the verdict', async () => {
    const portal = world.configuredClients['cli-portal'] as { clientId: string; secret: string };
    const dir = await mkdtemp(join(tmpdir(), 'vaxguard-replay-'));
    try {
      const file = join(dir, 'platform.json');
      writePlatformDescription(file, {
        ...world.platform.description,
        client: { id: portal.clientId, secret: portal.secret },
      });
      const { stdout } = await promisify(execFile)(
        'npx',
        ['--offline', 'vaxguard', '--platform', file, 'replay-leak', '--lookups', '60'],
        { cwd: WORKSPACE, timeout: 120_000 },
      ).catch((error: { stdout?: string; stderr?: string }) => {
        throw new Error(`replay-leak failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
      });
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^replaying the 2023 leak against /);
      expect(
        lines.some((line) =>
          /^ {2}bot {7}\d+ look-ups, \d+ refused, 0 with personal data$/.test(line),
        ),
      ).toBe(true);
      expect(
        lines.some((line) =>
          /^ {2}suspended \d+ ms after the look-up that crossed the threshold$/.test(line),
        ),
      ).toBe(true);
      expect(
        lines.some((line) =>
          /^ {2}log {7}alert CONSENT_REQUESTS_PER_HOUR is log entry \d+$/.test(line),
        ),
      ).toBe(true);
      expect(lines.filter((line) => line.startsWith('  refused '))).toHaveLength(7);
      expect(lines.at(-1)).toMatch(
        /^verdict: STOPPED: \d+ look-ups, 0 answers with personal data, suspended \d+ ms after/,
      );
      // What it printed names no one: no mobile, identity number, code or token.
      expect(findRawValues({ 'replay-leak output': stdout }, world.raw)).toEqual([]);
      expect(stdout).not.toMatch(/\b[6-9]\d{9}\b/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  let replay: LeakReplayReport;

  it('1. the bot pattern: 1,000 look-ups give no personal data, the login is suspended within 5 s, logged, and refused everywhere', async () => {
    const portal = world.configuredClients['bot-portal'] as { clientId: string; secret: string };
    replay = await replayLeak({
      platform: {
        ...world.platform.description,
        client: { id: portal.clientId, secret: portal.secret },
      },
      lookups: 1_000,
    });
    for (const value of replay.rawValues.mobiles) world.raw.mobiles.add(value);
    for (const value of replay.rawValues.identityNumbers) world.raw.identityNumbers.add(value);
    for (const value of replay.rawValues.codes) world.raw.codes.add(value);
    for (const value of replay.rawValues.tokens) world.raw.tokens.add(value);

    const tally: Record<string, number> = {};
    for (const l of replay.lookups) {
      const key = `${l.search} ${l.refusal ? `${l.refusal.code}:${l.refusal.reason ?? ''}` : 'answered'}`;
      tally[key] = (tally[key] ?? 0) + 1;
    }
    console.log('bot look-ups:', tally);
    const byMobile = replay.lookups.filter((l) => l.search === 'RequestConsent(mobile)');
    const byNumber = replay.lookups.filter((l) => l.search === 'GetBeneficiary(identity number)');
    expect(byMobile.length).toBeGreaterThanOrEqual(1_000);
    expect(byNumber).toHaveLength(1_000);
    expect(replay.personalDataAnswers).toBe(0);
    // Every look-up by identity number or reference is refused, before and after.
    expect(
      replay.lookups.filter((l) => !l.search.startsWith('RequestConsent') && !l.refusal),
    ).toEqual([]);

    expect(replay.alert, 'the anomaly rules raised an alert naming the vaccinator').toBeDefined();
    expect(replay.alert?.payload['severity']).toMatch(/HIGH|CRITICAL/);
    expect(replay.suspension, 'the suspension is an entry of the log').toBeDefined();
    expect(replay.crossing).toBeDefined();
    console.log(
      `bot pattern: alert ${String(replay.alert?.payload['rule'])} crossed at the bot's look-up ${replay.crossing?.lookup} of the kind it counts; suspended ${Math.round(replay.suspendedAfterMs ?? -1)} ms later (goal ${LEAK_REPLAY_SUSPENSION_GOAL_MS} ms); alert entry ${replay.alert?.index}, suspension entry ${replay.suspension?.index}`,
    );
    expect(replay.suspendedAfterMs).toBeGreaterThanOrEqual(0);
    expect(replay.suspendedAfterMs).toBeLessThanOrEqual(LEAK_REPLAY_SUSPENSION_GOAL_MS);

    // After the suspension, the login and every token it held are refused in every service.
    expect(new Set(replay.afterwards.map((a) => a.service))).toEqual(new Set(SERVICES));
    const signIn = replay.afterwards.filter((a) => a.call.startsWith('StartStaffLogin'));
    const tokenCalls = replay.afterwards.filter((a) => !a.call.startsWith('StartStaffLogin'));
    // A new sign-in with the password is refused as any failed sign-in is.
    expect(signIn).toHaveLength(1);
    expect(signIn[0]?.refusal?.code).toBe(status.UNAUTHENTICATED);
    for (const attempt of tokenCalls) {
      expect(attempt.refusal?.code, `${attempt.service}: ${attempt.call}`).toBe(
        status.PERMISSION_DENIED,
      );
      expect(attempt.refusal?.reason, `${attempt.service}: ${attempt.call}`).toBe(
        'PRINCIPAL_SUSPENDED',
      );
    }
    expect(replay.stopped).toBe(true);
  });

  it('2. partner look-up: refused alike without consent; with a grant for one beneficiary, exactly that one, masked as its scope allows', async () => {
    const { clientSecret } = await world.clients.identity.call(
      'registerPartner',
      {
        clientId: 'e2e-partner',
        displayName: 'E2E Partner',
        scopes: ['beneficiary:demographics'],
        quotaPerMinute: 600,
      },
      callAs(world.adminSession),
    );
    world.raw.tokens.add(clientSecret);
    const partner = world.connect({ clientId: 'e2e-partner', secret: clientSecret });
    await world.acceptedEverywhere(partner);

    const mobile = world.freshMobile();
    const citizen = await world.citizen(mobile);
    const first = await world.register(citizen, mobile, 'Sunita Rao');
    const second = await world.register(citizen, mobile, 'Kiran Rao');
    const stranger = world.freshMobile();
    const registeredNumber = [...world.raw.identityNumbers].at(-1) as string;
    const unregisteredNumber = world.freshAadhaar();

    // The partner's client is accepted by every service (the registry reaches them all).
    const asPartner = callAs();
    // By reference: a registered one and one that does not exist are refused alike.
    const real = await refusalOf(
      partner.identity.call('getBeneficiary', { beneficiaryRef: first }, asPartner),
    );
    const none = await refusalOf(
      partner.identity.call('getBeneficiary', { beneficiaryRef: newBeneficiaryRef() }, asPartner),
    );
    expect(real).toEqual(none);
    expect([status.UNAUTHENTICATED, status.PERMISSION_DENIED]).toContain(real.code);
    // By identity number: no search takes one; a registered number and another, alike.
    expect(
      await refusalOf(
        partner.identity.call('getBeneficiary', { beneficiaryRef: registeredNumber }, asPartner),
      ),
    ).toEqual(
      await refusalOf(
        partner.identity.call('getBeneficiary', { beneficiaryRef: unregisteredNumber }, asPartner),
      ),
    );
    // The certificate likewise.
    expect(
      await refusalOf(partner.records.call('getCertificate', { beneficiaryRef: first }, asPartner)),
    ).toEqual(
      await refusalOf(
        partner.records.call('getCertificate', { beneficiaryRef: newBeneficiaryRef() }, asPartner),
      ),
    );
    // By mobile: asking consent of a registered mobile and of a stranger's answers alike.
    const asked = await partner.identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: mobile } },
      asPartner,
    );
    const askedStranger = await partner.identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: stranger } },
      asPartner,
    );
    expect(Object.keys(asked).sort()).toEqual(Object.keys(askedStranger).sort());
    expect(asked.txnId).not.toBe('');
    expect(askedStranger.txnId).not.toBe('');

    // Consent for one beneficiary, by its reference: the grant names that one only.
    const byRef = await partner.identity.call(
      'requestConsent',
      { target: { $case: 'beneficiaryRef', value: first } },
      asPartner,
    );
    const code = await world.code(byRef.txnId);
    const confirmed = await partner.otp.call(
      'confirmOtp',
      { txnId: byRef.txnId, otp: code },
      asPartner,
    );
    world.raw.tokens.add(confirmed.token);
    expect(confirmed.claims?.consent?.beneficiaryRefs).toEqual([first]);
    const grant = callAs(confirmed.token);
    const { beneficiary } = await partner.identity.call(
      'getBeneficiary',
      { beneficiaryRef: first },
      grant,
    );
    expect(beneficiary?.name).toBe('Sunita Rao');
    // Its scopes hold demographics only: no identity number, not even masked; never the mobile.
    expect(beneficiary?.maskedPhotoId ?? '').toBe('');
    expect(JSON.stringify(beneficiary)).not.toContain(mobile.slice(-4));
    // The other beneficiary on the same mobile, and one that does not exist: refused alike.
    expect(
      await refusalOf(partner.identity.call('getBeneficiary', { beneficiaryRef: second }, grant)),
    ).toEqual(
      await refusalOf(
        partner.identity.call('getBeneficiary', { beneficiaryRef: newBeneficiaryRef() }, grant),
      ),
    );
  });

  it('3. OTP abuse: guessing ends locked, a client over its quota is refused, SMS pumping is cut off within tens of codes and the client suspended', async () => {
    const { otp } = world.clients;
    const login = (mobile: string, via = otp) =>
      via.call(
        'generateOtp',
        { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
        callAs(),
      );
    const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

    // Brute force on one transaction: three wrong codes, then even the right one is refused.
    const mobile = world.freshMobile();
    const { txnId, ...answer } = await login(mobile);
    // The answer carries no code (only the transaction and its times).
    expect(JSON.stringify(answer)).not.toMatch(/\b\d{6}\b/);
    const code = await world.code(txnId);
    const guesses = [];
    for (let i = 0; i < 3; i++)
      guesses.push(await refusalOf(otp.call('confirmOtp', { txnId, otp: wrong(code) }, callAs())));
    expect(
      guesses.every(
        (g) =>
          g.code === Number(status.UNAUTHENTICATED) || g.code === Number(status.PERMISSION_DENIED),
      ),
    ).toBe(true);
    const afterLock = await refusalOf(otp.call('confirmOtp', { txnId, otp: code }, callAs()));
    expect(afterLock.code).not.toBe(status.OK);
    // No refusal names the code.
    for (const refusal of [...guesses, afterLock]) expect(refusal.message).not.toContain(code);

    // Across transactions for one mobile: each new transaction is another three guesses
    // at most, and the mobile's send quota ends the series within a handful.
    let sent = 1;
    let refusedSend: Awaited<ReturnType<typeof outcomeOf>>;
    for (;;) {
      let started: { txnId: string } | undefined;
      refusedSend = await outcomeOf(login(mobile).then((value) => (started = value)));
      if (refusedSend || !started) break;
      sent++;
      const next = await world.code(started.txnId);
      for (let i = 0; i < 3; i++)
        await outcomeOf(
          otp.call('confirmOtp', { txnId: started.txnId, otp: wrong(next) }, callAs()),
        );
      expect(sent).toBeLessThanOrEqual(20);
    }
    expect(refusedSend?.code).toBe(status.RESOURCE_EXHAUSTED);
    console.log(
      `OTP brute force: ${sent} transactions, at most ${sent * 3} guesses, then RESOURCE_EXHAUSTED (${refusedSend?.reason})`,
    );

    // A client over its quota gets RESOURCE_EXHAUSTED with a retry delay.
    const quotaClient = world.connect(
      world.configuredClients['quota-client'] as { clientId: string; secret: string },
    );
    let quotaRefusal: Awaited<ReturnType<typeof outcomeOf>>;
    let quotaSends = 0;
    do {
      quotaRefusal = await outcomeOf(login(world.freshMobile(), quotaClient.otp));
      if (!quotaRefusal) quotaSends++;
    } while (!quotaRefusal && quotaSends < 1_000);
    expect(quotaRefusal?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(quotaSends).toBeLessThan(100);

    // SMS pumping: 1,000 codes for distinct fresh mobiles, ten at a time.
    const pump = world.connect(
      world.configuredClients['pump-client'] as { clientId: string; secret: string },
    );
    const outcomes: Awaited<ReturnType<typeof outcomeOf>>[] = [];
    const mobiles = Array.from({ length: 1_000 }, () => world.freshMobile());
    const started = Date.now();
    for (let i = 0; i < mobiles.length; i += 10) {
      outcomes.push(
        ...(await Promise.all(mobiles.slice(i, i + 10).map((m) => outcomeOf(login(m, pump.otp))))),
      );
    }
    const codesSent = outcomes.filter((o) => o === undefined).length;
    console.log(
      `SMS pumping: ${codesSent} of 1,000 codes sent in ${Date.now() - started} ms; refusals: ${JSON.stringify(
        Object.entries(
          outcomes.reduce<Record<string, number>>((n, o) => {
            if (o) n[`${o.code}:${o.reason ?? ''}`] = (n[`${o.code}:${o.reason ?? ''}`] ?? 0) + 1;
            return n;
          }, {}),
        ),
      )}`,
    );
    expect(codesSent).toBeLessThan(100);
    expect(outcomes.every((o) => o === undefined || o.code !== Number(status.INTERNAL))).toBe(true);

    // The flood rule suspends the client, the suspension is in the log, and the client is
    // refused at every service.
    const suspension = await logged('principal.suspended', 'pump-client');
    expect(suspension.length).toBeGreaterThan(0);
    const refusals = await Promise.all([
      outcomeOf(login(world.freshMobile(), pump.otp)),
      outcomeOf(
        pump.identity.call('getBeneficiary', { beneficiaryRef: newBeneficiaryRef() }, callAs()),
      ),
      outcomeOf(pump.records.call('getIssuerKeys', {}, callAs())),
      outcomeOf(pump.audit.call('getCheckpoint', {}, callAs())),
    ]);
    for (const refusal of refusals) {
      expect(refusal?.code).toBe(status.PERMISSION_DENIED);
    }
  });

  it('3b. consent SMS pumping: a partner asking strangers for consent gets its own small quota, and an alert names it', async () => {
    const admin = callAs(world.adminSession);
    const clientId = `e2e-consent-pump-${Date.now().toString(36)}`;
    const { clientSecret } = await world.clients.identity.call(
      'registerPartner',
      {
        clientId,
        displayName: 'E2E consent pump',
        scopes: ['beneficiary:demographics'],
        // Its OTP quota is generous: what stops it is the consent SMS quota alone.
        quotaPerMinute: 300,
      },
      admin,
    );
    const partner = world.connect({ clientId, secret: clientSecret });
    await world.acceptedEverywhere(partner);
    // One minute's quota: begin early in a minute, so the burst does not straddle two.
    const second = new Date().getSeconds();
    if (second > 40) await new Promise((done) => setTimeout(done, (61 - second) * 1_000));

    // 40 strangers, ten at a time; the client kit waits out no hint past 3 s.
    const outcomes: Awaited<ReturnType<typeof outcomeOf>>[] = [];
    const strangers = Array.from({ length: 40 }, () => world.freshMobile());
    for (let i = 0; i < strangers.length; i += 10) {
      outcomes.push(
        ...(await Promise.all(
          strangers
            .slice(i, i + 10)
            .map((mobile) =>
              outcomeOf(
                partner.identity.call(
                  'requestConsent',
                  { target: { $case: 'mobile', value: mobile } },
                  { ...callAs(), deadlineMs: 3_000 },
                ),
              ),
            ),
        )),
      );
    }
    const sent = outcomes.filter((outcome) => outcome === undefined).length;
    const refused = outcomes.filter((outcome) => outcome?.reason === 'CONSENT_SMS_QUOTA');
    console.log(
      `consent SMS pumping: ${sent} of 40 consent codes sent, ${refused.length} refused CONSENT_SMS_QUOTA`,
    );
    expect(sent).toBe(20);
    expect(refused).toHaveLength(20);
    for (const refusal of refused) {
      expect(refusal?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(refusal?.retryAfterMs).toBeGreaterThan(0);
    }

    // Strangers with nothing registered: an alert names the partner (and only the
    // auditors learn it; the partner's answers were those of any mobile).
    const alert = await eventually(
      async () => {
        const { alerts } = await world.clients.audit.call(
          'listAlerts',
          { pageSize: 100, pageToken: '', unacknowledgedOnly: false },
          callAs(auditor.session),
        );
        const found = alerts.find(
          (record) =>
            record.alert?.rule === 'PARTNER_CONSENT_TO_UNREGISTERED' &&
            record.alert.principalId === clientId,
        );
        if (!found) throw new Error('no alert names the partner yet');
        return found;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(alert.alert?.severity).toBe(auditV1.Severity.SEVERITY_MEDIUM);
  });

  it('6. nothing readable at rest or in flight: no raw mobile, identity number, code or token in any database, topic or log', async () => {
    const places = await everythingReadable(world);
    expect(Object.keys(places).length).toBeGreaterThanOrEqual(9);
    // The scan finds what is there: the bot's mobiles and numbers were all used.
    expect(world.raw.mobiles.size).toBeGreaterThan(1_000);
    expect(world.raw.identityNumbers.size).toBeGreaterThan(1_000);
    expect(findRawValues(places, world.raw)).toEqual([]);
  });
});
