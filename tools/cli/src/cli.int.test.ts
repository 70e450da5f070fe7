// Every command of `vaxguard` against one running platform (the four services as their
// own processes, real PostgreSQL and Kafka), shared by this file's tests; each test seeds
// and signs in what it uses. Everything the command line printed is scanned at the end
// for raw mobiles, identity numbers, codes and tokens.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAs, madeUpMobile, OperatorClient } from '@vaxguard/dev-operator';
import { readAllDevSms } from '@vaxguard/dev-sms';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { eventually, leaks, refusalOf, startPlatform, type Platform } from '@vaxguard/testing';
import { generateSignerKey, parseCheckpoint, parseSignerKey, signCheckpoint } from '@vaxguard/tlog';
import { vaxguard, type CliRun } from './test-support';
import { WORKSPACE } from './workspace';

const key = () => randomBytes(32).toString('base64');
const OTP_KEY_ENCRYPTION_KEY = key();
const ISSUER_KEY_ENCRYPTION_KEY = key();

let platform: Platform;
let operator: OperatorClient;
let workDir: string;
/** Everything the command line printed, for the leak scan at the end. */
const printed: string[] = [];
/** Raw values the tests used, which nothing printed may hold. */
const rawValues = new Set<string>();

/** `npx vaxguard --platform <the test platform> ...argv`, in-process. */
async function cli(
  argv: readonly string[],
  options: {
    stdin?: string;
    signal?: AbortSignal;
    onStdout?: (stdout: string) => void;
    secretOutput?: boolean;
  } = {},
): Promise<CliRun> {
  const run = await vaxguard(['--platform', platform.descriptionFile, ...argv], {
    cwd: workDir,
    ...options,
  });
  if (!options.secretOutput) printed.push(run.stdout, run.stderr);
  return run;
}

const json = <T>(run: CliRun): T => JSON.parse(run.stdout) as T;

/**
 * Runs a command that follows something until `until` holds for its output (then stops
 * it as Ctrl-C would), or `timeoutMs` passes.
 */
async function follow(
  argv: readonly string[],
  until: (stdout: string) => boolean,
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs ?? 60_000);
  try {
    return await cli(argv, {
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      signal: abort.signal,
      onStdout: (stdout) => {
        if (until(stdout)) abort.abort();
      },
    });
  } finally {
    clearTimeout(timer);
  }
}

interface SeedReport {
  readonly staff: { staffId: string; username: string; role: string }[];
  readonly partners: { clientId: string }[];
  readonly centres: { centreId: string }[];
  readonly citizens: { maskedMobile: string; beneficiaryRefs: string[] }[];
  readonly principalsFile: string;
}
interface SeededSecrets {
  readonly staff: { staffId: string; username: string; password: string; role: string }[];
  readonly partners: { clientId: string; clientSecret: string }[];
  readonly citizens: { mobile: string; beneficiaryRefs: string[] }[];
}

/** `vaxguard seed` with a tag of its own; its report and the secrets file it wrote. */
async function seed(tag: string, ...extra: string[]) {
  const run = await cli(['--json', 'seed', '--tag', tag, '--centres', '1', ...extra]);
  expect(run.exitCode, run.stderr).toBe(0);
  const report = json<SeedReport>(run);
  const secrets = JSON.parse(readFileSync(report.principalsFile, 'utf8')) as SeededSecrets;
  for (const citizen of secrets.citizens) rawValues.add(citizen.mobile);
  const staff = (role: string) => secrets.staff.find((member) => member.role === role)!;
  return { report, secrets, staff };
}

/** A beneficiary with two Covishield doses, recorded by its seed's vaccinator with consent. */
async function vaccinatedBeneficiary(tag: string) {
  const seeded = await seed(tag, '--beneficiaries', '1', '--per-citizen', '1');
  const vaccinator = seeded.staff('VACCINATOR');
  const citizen = seeded.secrets.citizens[0]!;
  const ref = citizen.beneficiaryRefs[0]!;
  const { token: session } = await operator.staffSignIn(vaccinator.username, vaccinator.password);
  const { grant } = await operator.consentedRead(citizen.mobile, ref, session);
  for (const [doseNumber, administeredOn, batchNumber] of [
    [1, '2021-03-01', '4121Z005'],
    [2, '2021-06-01', '4121Z040'],
  ] as const) {
    await operator.records.call(
      'recordDose',
      {
        beneficiaryRef: ref,
        vaccineCode: 'COVISHIELD',
        doseNumber,
        administeredOn,
        batchNumber,
        clientRequestId: `cli-${tag}-${doseNumber}-${randomBytes(4).toString('hex')}`,
        consentGrant: grant.token,
      },
      callAs(session),
    );
  }
  return { ...seeded, ref, mobile: citizen.mobile };
}

/** A citizen's token saved by `otp request` and `otp confirm --token-file`. */
async function citizenTokenFile(mobile: string, name: string): Promise<string> {
  const requested = await cli(['--json', 'otp', 'request', mobile]);
  expect(requested.exitCode, requested.stderr).toBe(0);
  const file = join(workDir, name);
  const confirmed = await cli([
    'otp',
    'confirm',
    json<{ txnId: string }>(requested).txnId,
    '--token-file',
    file,
  ]);
  expect(confirmed.exitCode, confirmed.stderr).toBe(0);
  return file;
}

beforeAll(async () => {
  platform = await startPlatform({
    services: ['otp', 'identity', 'vaccination-record', 'audit'],
    adminMobile: madeUpMobile(),
    env: {
      // New tokens are signed with a rotated key within a second; the operator's client
      // sends more codes a minute than a configured app is allowed by default.
      otp: {
        OTP_KEY_ENCRYPTION_KEY,
        OTP_SIGNING_KEY_REFRESH: '1s',
        OTP_CLIENT_QUOTA_PER_MINUTE: '600',
      },
      'vaccination-record': { ISSUER_KEY_ENCRYPTION_KEY },
    },
  });
  const { description } = platform;
  operator = new OperatorClient({
    services: description.services,
    client: description.client,
    smsInbox: description.smsInbox,
  });
  const platformDir = dirname(platform.descriptionFile);
  workDir = join(platformDir, 'work');
  mkdirSync(workDir);
  // What npm start writes beside its description: each service's configuration, which
  // `keys rotate` runs the services' rotate-keys tasks with.
  mkdirSync(join(platformDir, 'env'));
  writeFileSync(
    join(platformDir, 'env', 'otp.env'),
    `DATABASE_URL='${platform.databases.otp}'\nOTP_KEY_ENCRYPTION_KEY='${OTP_KEY_ENCRYPTION_KEY}'\n`,
  );
  writeFileSync(
    join(platformDir, 'env', 'vaccination-record.env'),
    `DATABASE_URL='${platform.databases['vaccination-record']}'\nISSUER_KEY_ENCRYPTION_KEY='${ISSUER_KEY_ENCRYPTION_KEY}'\n`,
  );
});

afterAll(async () => {
  operator?.close();
  await platform?.stop();
});

describe('npx vaxguard', () => {
  it('runs the repository copy, with no registry at all', async () => {
    const run = promisify(execFile);
    const { stdout } = await run('npx', ['--offline', 'vaxguard', '--help'], {
      cwd: WORKSPACE,
      env: { ...process.env, npm_config_registry: 'http://127.0.0.1:2/' },
    });
    expect(stdout).toContain('Usage: vaxguard [options] [command]');
    const status = await run(
      'npx',
      ['--offline', 'vaxguard', '--platform', platform.descriptionFile, 'status', '--json'],
      { cwd: WORKSPACE, env: { ...process.env, npm_config_registry: 'http://127.0.0.1:2/' } },
    );
    printed.push(status.stdout, status.stderr);
    const report = JSON.parse(status.stdout) as {
      ok: boolean;
      components: { name: string; status: string }[];
    };
    expect(report.ok).toBe(true);
    expect(report.components.map(({ name, status }) => `${name} ${status.split(' ')[0]}`)).toEqual([
      'identity SERVING',
      'otp SERVING',
      'vaccination-record SERVING',
      'audit SERVING',
      'postgresql reachable',
      'kafka reachable',
      'issuer keys served',
    ]);
  });
});

describe('vaxguard seed', () => {
  it('creates centres, staff, partners and citizens with beneficiaries, secrets only in its file', async () => {
    const { report, secrets } = await seed('seed1', '--beneficiaries', '6', '--per-citizen', '4');
    expect(report.centres).toHaveLength(1);
    expect(report.staff.map((member) => [member.username, member.role])).toEqual([
      ['vaccinator.andheri.seed1', 'VACCINATOR'],
      ['admin.andheri.seed1', 'CENTRE_ADMIN'],
      ['auditor.national.seed1', 'AUDITOR'],
    ]);
    expect(report.partners.map((partner) => partner.clientId)).toEqual([
      'aarogya-setu.seed1',
      'umang.seed1',
    ]);
    expect(report.citizens.map((citizen) => citizen.beneficiaryRefs.length)).toEqual([4, 2]);
    expect(report.citizens[0]?.maskedMobile).toMatch(/^XXXXXX\d{4}$/);
    expect(statSync(report.principalsFile).mode & 0o777).toBe(0o600);
    // The seeded citizens can sign in, and see what was registered for them.
    const citizen = secrets.citizens[0]!;
    const { token } = await operator.citizenSignIn(citizen.mobile);
    const { beneficiaries } = await operator.identity.call(
      'listMyBeneficiaries',
      {},
      callAs(token),
    );
    expect(beneficiaries.map((b) => b.beneficiaryRef).sort()).toEqual(
      [...citizen.beneficiaryRefs].sort(),
    );
    // The staff can sign in with the passwords in the file.
    const auditor = secrets.staff.find((member) => member.role === 'AUDITOR')!;
    await expect(operator.staffSignIn(auditor.username, auditor.password)).resolves.toBeTruthy();
  });
});

describe('vaxguard otp', () => {
  it('requests and confirms a sign-in, showing the mobile masked and neither code nor token', async () => {
    const mobile = madeUpMobile();
    rawValues.add(mobile);
    const requested = await cli(['otp', 'request', mobile]);
    expect(requested.exitCode, requested.stderr).toBe(0);
    expect(requested.stdout).toContain(`sent a CITIZEN_LOGIN code to XXXXXX${mobile.slice(-4)}`);
    const txnId = /transaction (\S+),/.exec(requested.stdout)?.[1] ?? '';
    const confirmed = await cli(['--json', 'otp', 'confirm', txnId]);
    expect(confirmed.exitCode, confirmed.stderr).toBe(0);
    expect(json(confirmed)).toMatchObject({
      confirmed: true,
      purpose: 'CITIZEN_LOGIN',
      audience: 'vaxguard:citizen',
      clientId: platform.description.client.id,
    });
    expect(confirmed.stdout).not.toContain('"token"');
  });

  it('prints the token only when asked, and refuses a wrong code (1)', async () => {
    const mobile = madeUpMobile();
    rawValues.add(mobile);
    const first = json<{ txnId: string }>(await cli(['--json', 'otp', 'request', mobile]));
    const printedToken = await cli(['otp', 'confirm', first.txnId, '--print-token'], {
      secretOutput: true,
    });
    expect(printedToken.exitCode, printedToken.stderr).toBe(0);
    const token = printedToken.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    // The token works: it is the citizen's.
    await expect(
      operator.identity.call('listMyBeneficiaries', {}, callAs(token)),
    ).resolves.toMatchObject({ beneficiaries: [] });

    const second = json<{ txnId: string }>(await cli(['--json', 'otp', 'request', mobile]));
    const code = await operator.smsCode(second.txnId);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    const refused = await cli(['otp', 'confirm', second.txnId, wrong]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^vaxguard: refused \(/);
    const saved = join(workDir, 'otp-token');
    const right = await cli(['otp', 'confirm', second.txnId, code, '--token-file', saved]);
    expect(right.exitCode, right.stderr).toBe(0);
    expect(right.stdout).toContain('the token is in');
    expect(statSync(saved).mode & 0o777).toBe(0o600);
  });
});

describe('vaxguard certificate', () => {
  it("fetches a citizen's certificate with their token and verifies it offline; a revoked one fails", async () => {
    const { ref, mobile } = await vaccinatedBeneficiary('cert1');
    const tokenFile = await citizenTokenFile(mobile, 'cert-token');
    const got = await cli([
      '--json',
      'certificate',
      'get',
      ref,
      '--token-file',
      tokenFile,
      '--out',
      'card.shc',
      '--svg',
      'card.svg',
    ]);
    expect(got.exitCode, got.stderr).toBe(0);
    const certificate = json<{ certificateId: string; kid: string; file: string }>(got);
    expect(readFileSync(certificate.file, 'utf8')).toMatch(/^shc:\/\d+\n$/);
    expect(readFileSync(join(workDir, 'card.svg'), 'utf8')).toContain('<svg');

    const verified = await cli(['--json', 'certificate', 'verify', 'card.shc']);
    expect(verified.exitCode, verified.stderr).toBe(0);
    expect(json(verified)).toMatchObject({
      status: 'valid',
      iss: platform.description.issuer.url,
      kid: certificate.kid,
      patient: { birthYear: 1961 },
      doses: [{ date: '2021-03-01' }, { date: '2021-06-01' }],
    });

    // A citizen token is needed: another citizen's is refused.
    const stranger = madeUpMobile();
    rawValues.add(stranger);
    const strangerToken = await citizenTokenFile(stranger, 'stranger-token');
    const refused = await cli(['certificate', 'get', ref, '--token-file', strangerToken]);
    expect(refused.exitCode).toBe(1);

    const { token: admin } = await operator.staffSignIn(
      platform.description.admin.username,
      platform.description.admin.password,
    );
    await operator.records.call(
      'revokeCertificate',
      {
        certificateId: certificate.certificateId,
        reason: 'cli test',
        cause: vaccinationRecordV1.RevocationCause.REVOCATION_CAUSE_LEAKED,
      },
      callAs(admin),
    );
    const revoked = await cli(['certificate', 'verify', 'card.shc']);
    expect(revoked.exitCode).toBe(1);
    expect(revoked.stdout).toContain(`revoked: signed by key ${certificate.kid}`);
  });
});

describe('vaxguard audit', () => {
  it('verifies the checkpoint, then its consistency with the last one; a state of another log cannot be checked against (3)', async () => {
    const state = join(workDir, 'witnessed');
    // A signed log with entries (this test may run alone), which the first round checks.
    await operator.citizenSignIn(madeUpMobile());
    await eventually(async () => {
      const { treeSize } = await operator.audit.call('getCheckpoint', {}, callAs());
      expect(Number(treeSize)).toBeGreaterThan(0);
    });
    const first = await cli(['--json', 'audit', 'verify', '--state', state]);
    expect(first.exitCode, first.stderr).toBe(0);
    const firstReport = json<{ size: number; previousSize?: number }>(first);
    expect(firstReport.previousSize).toBeUndefined();
    await operator.citizenSignIn(madeUpMobile());
    const second = await eventually(async () => {
      const run = await cli(['--json', 'audit', 'verify', '--state', state]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(json<{ size: number }>(run).size).toBeGreaterThan(firstReport.size);
      return run;
    });
    expect(second.stdout).toContain(`"previousSize": `);
    expect(second.stdout).not.toContain('"previousSize": 0,');

    // A checkpoint kept from a log signed by another key of the same name: not this log's.
    const { origin } = platform.description.auditLog;
    const impostor = parseSignerKey(generateSignerKey(origin).signerKey);
    const kept = parseCheckpoint(readFileSync(state, 'utf8').split('\n\n')[0] + '\n');
    writeFileSync(state, signCheckpoint(kept, [impostor]));
    const failed = await cli(['audit', 'verify', '--state', state]);
    expect(failed.exitCode).toBe(3);
    expect(failed.stderr).toMatch(
      /^vaxguard: could not check the audit log: the saved checkpoint does not verify with the log's key/,
    );
  });

  it('proves an entry is in the log and that the log only grew, verified locally', async () => {
    const before = json<{ size: number }>(
      await cli(['--json', 'audit', 'verify', '--state', join(workDir, 'proofs-state')]),
    );
    await operator.citizenSignIn(madeUpMobile());
    const proved = await eventually(async () => {
      const run = await cli([
        '--json',
        'audit',
        'proofs',
        '--index',
        '0',
        '--from',
        String(before.size),
      ]);
      expect(run.exitCode, run.stderr).toBe(0);
      const report = json<{ consistency: { oldSize: number; newSize: number } }>(run);
      expect(report.consistency.newSize).toBeGreaterThan(before.size);
      return report;
    });
    expect(proved).toMatchObject({
      ok: true,
      inclusion: { index: 0, entry: { index: 0 } },
      consistency: { oldSize: before.size },
    });
    const text = await cli(['audit', 'proofs', '--index', '1']);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^entry #1 \(.*\) is in the log of \d+ entries: an inclusion proof of \d+ hashes, verified/,
    );
  });

  it('tails entries, each batch under a verified checkpoint', async () => {
    const run = await cli(['--json', 'audit', 'tail', '--from', '0', '--count', '3']);
    expect(run.exitCode, run.stderr).toBe(0);
    const entries = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { index: number; type: string });
    expect(entries.map((entry) => entry.index)).toEqual([0, 1, 2]);
    for (const entry of entries) expect(entry.type).toMatch(/^[a-z]+\.[a-z_.]+$/);
    // Following from the end: a new sign-in shows up, and Ctrl-C ends it with 0.
    const following = follow(['--json', 'audit', 'tail', '--interval', '0.5'], (stdout) =>
      stdout.includes('"type":"otp.confirmed"'),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await operator.citizenSignIn(madeUpMobile());
    const stopped = await following;
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('"type":"otp.requested"');
    expect(stopped.stdout).toContain('"type":"otp.confirmed"');
  });
});

describe('vaxguard alerts tail', () => {
  it("follows alerts as an auditor signed in with a password and the dev inbox's code", async () => {
    const seeded = await seed('alert1', '--beneficiaries', '2', '--per-citizen', '2');
    const citizen = seeded.secrets.citizens[0]!;
    const canary = citizen.beneficiaryRefs[1]!;
    const { token: admin } = await operator.staffSignIn(
      platform.description.admin.username,
      platform.description.admin.password,
    );
    await operator.identity.call('markCanary', { beneficiaryRef: canary }, callAs(admin));
    const vaccinator = seeded.staff('VACCINATOR');
    const { token: session } = await operator.staffSignIn(vaccinator.username, vaccinator.password);
    await operator.consentedRead(citizen.mobile, canary, session);

    const auditor = seeded.staff('AUDITOR');
    const run = await follow(
      [
        '--json',
        'alerts',
        'tail',
        '--as',
        auditor.username,
        '--password-file',
        '-',
        '--interval',
        '1',
      ],
      (stdout) => stdout.includes(vaccinator.staffId),
      { stdin: `${auditor.password}\n` },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const alerts = run.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(
        (line) => JSON.parse(line) as { rule: string; principalId: string; principalKind: string },
      );
    expect(alerts).toContainEqual(
      expect.objectContaining({
        rule: 'CANARY_READ',
        principalKind: 'STAFF',
        principalId: vaccinator.staffId,
      }),
    );
  });
});

describe('vaxguard lock and unlock', () => {
  it('suspends and reinstates a staff member: their live session is refused, then accepted', async () => {
    const seeded = await seed('lock1', '--beneficiaries', '1', '--per-citizen', '1');
    const vaccinator = seeded.staff('VACCINATOR');
    const citizen = seeded.secrets.citizens[0]!;
    const { token: session } = await operator.staffSignIn(vaccinator.username, vaccinator.password);
    const ask = () =>
      operator.identity.call(
        'requestConsent',
        { target: { $case: 'beneficiaryRef', value: citizen.beneficiaryRefs[0]! } },
        callAs(session),
      );
    const locked = await cli(['lock', 'principal', vaccinator.staffId, '--reason', 'cli test']);
    expect(locked.exitCode, locked.stderr).toBe(0);
    expect(locked.stdout).toContain(`suspended staff ${vaccinator.staffId}`);
    await eventually(async () =>
      expect((await refusalOf(ask())).reason).toBe('PRINCIPAL_SUSPENDED'),
    );
    const unlocked = await cli(['unlock', 'principal', vaccinator.staffId, '--reason', 'cli test']);
    expect(unlocked.exitCode, unlocked.stderr).toBe(0);
    await eventually(ask);
  });

  it('locks and unlocks a partner client application', async () => {
    const seeded = await seed('lock2', '--beneficiaries', '0');
    const partner = seeded.secrets.partners[0]!;
    const otp = createServiceClient(otpV1.OtpServiceService, {
      address: platform.description.services.otp,
      clientId: partner.clientId,
      secret: partner.clientSecret,
    });
    try {
      const keys = () => otp.call('getSigningKeys', {}, { idempotent: true });
      await eventually(keys);
      const locked = await cli(['lock', 'partner', partner.clientId, '--reason', 'cli test']);
      expect(locked.exitCode, locked.stderr).toBe(0);
      await eventually(async () => expect((await refusalOf(keys())).reason).toBe('PARTNER_LOCKED'));
      const unlocked = await cli(['unlock', 'partner', partner.clientId, '--reason', 'cli test']);
      expect(unlocked.exitCode, unlocked.stderr).toBe(0);
      await eventually(keys);
    } finally {
      otp.close();
    }
  });

  it('locks one API, then everything (sign-in too), and unlocks with the session kept from before', async () => {
    // A fresh mobile each time: the per-mobile quota must not be what refuses.
    const request = () => {
      const mobile = madeUpMobile();
      rawValues.add(mobile);
      return cli(['otp', 'request', mobile]);
    };
    const apiLocked = await cli([
      'lock',
      'api',
      '--method',
      'vaxguard.otp.v1.OtpService/GenerateOtp',
      '--reason',
      'cli test',
    ]);
    expect(apiLocked.exitCode, apiLocked.stderr).toBe(0);
    await eventually(async () => {
      const refused = await request();
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('API_LOCKED');
    });
    const apiUnlocked = await cli([
      'unlock',
      'api',
      '--method',
      '/vaxguard.otp.v1.OtpService/GenerateOtp',
      '--reason',
      'cli test',
    ]);
    expect(apiUnlocked.exitCode, apiUnlocked.stderr).toBe(0);
    await eventually(async () => expect((await request()).exitCode).toBe(0));

    const all = await cli(['lock', 'all', '--reason', 'cli test']);
    try {
      expect(all.exitCode, all.stderr).toBe(0);
      expect(all.stdout).toContain('clear it with: npx vaxguard unlock all');
      await eventually(async () => {
        const refused = await request();
        expect(refused.exitCode).toBe(1);
        expect(refused.stderr).toContain('API_LOCKED');
      });
      // Sign-in is locked too.
      const signIn = await refusalOf(
        operator.identity.call(
          'startStaffLogin',
          { username: 'anyone', password: 'x'.repeat(12) },
          callAs(),
        ),
      );
      expect(signIn.reason).toBe('API_LOCKED');
    } finally {
      const unlocked = await cli(['unlock', 'all', '--reason', 'cli test']);
      expect(unlocked.exitCode, unlocked.stderr).toBe(0);
    }
    await eventually(async () => expect((await request()).exitCode).toBe(0));
  });
});

describe('vaxguard keys rotate', () => {
  it('rotates the token and the issuer keys; new tokens and certificates are signed with them', async () => {
    const { ref, mobile } = await vaccinatedBeneficiary('keys1');
    const run = await cli(['--json', 'keys', 'rotate', 'tokens', 'issuer']);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = json<{
      ok: boolean;
      rotated: { key: string; kid: string; published: boolean }[];
    }>(run);
    expect(report.ok).toBe(true);
    expect(report.rotated.map(({ key: name, published }) => [name, published])).toEqual([
      ['tokens', true],
      ['issuer', true],
    ]);
    const [tokens, issuer] = report.rotated;
    // Within OTP_SIGNING_KEY_REFRESH (1 s here) tokens are signed with the new key.
    await eventually(async () => {
      const someone = madeUpMobile();
      rawValues.add(someone);
      const requested = json<{ txnId: string }>(await cli(['--json', 'otp', 'request', someone]));
      const confirmed = json<{ keyId: string }>(
        await cli(['--json', 'otp', 'confirm', requested.txnId]),
      );
      expect(confirmed.keyId).toBe(tokens?.kid);
    });
    const tokenFile = await citizenTokenFile(mobile, 'keys-token');
    const got = json<{ kid: string }>(
      await cli([
        '--json',
        'certificate',
        'get',
        ref,
        '--token-file',
        tokenFile,
        '--out',
        'rotated.shc',
      ]),
    );
    expect(got.kid).toBe(issuer?.kid);
    const keys = JSON.parse(
      (await operator.records.call('getIssuerKeys', {}, { idempotent: true })).jwksJson,
    ) as { keys: { kid: string }[] };
    expect(keys.keys.length).toBeGreaterThanOrEqual(2);
    expect((await cli(['certificate', 'verify', 'rotated.shc'])).exitCode).toBe(0);
  });

  it('refuses the audit log key, saying it cannot be rotated and why', async () => {
    const run = await cli(['keys', 'rotate', 'audit-log']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(
      'not supported: the audit service signs every checkpoint with the one key in AUDIT_LOG_SIGNER_KEY',
    );
  });
});

describe('what the command line printed', () => {
  it('holds no raw mobile, identity number, code or token', async () => {
    const codes = (await readAllDevSms(platform.description.smsInbox)).map((sms) => sms.code);
    expect(leaks(printed.join('\n'), rawValues, codes)).toEqual([]);
  });
});
