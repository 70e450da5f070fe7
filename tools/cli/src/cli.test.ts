import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from './commands';
import { unreachablePlatform, vaxguard } from './test-support';

const dir = mkdtempSync(join(tmpdir(), 'vaxguard-cli-'));
/** A description whose services are nowhere: nothing here may reach them. */
const platformFile = unreachablePlatform(dir);
const run = (...argv: string[]) => vaxguard(['--platform', platformFile, ...argv]);
const REF = 'bnf_0123456789abcdefghjkmnpqrs';

describe('vaxguard --help', () => {
  it('lists every command with the exit codes, and exits 0', async () => {
    const { exitCode, stdout } = await vaxguard(['--help']);
    expect(exitCode).toBe(0);
    for (const command of [
      'status',
      'seed',
      'otp',
      'certificate',
      'audit',
      'alerts',
      'lock',
      'unlock',
      'keys',
    ]) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(stdout).toContain(
      'Exit codes: 0 ok, 1 a check failed or the platform refused, 2 a usage error, 3 the platform is unreachable, 4 the audit log failed verification',
    );
  });

  it('audit verify --help gives its exit codes: 0 verified, 4 tampered, 3 not checked', async () => {
    const { exitCode, stdout } = await vaxguard(['audit', 'verify', '--help']);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(
      /Exit codes: 0 the log verified .*; 4 the log was tampered with: .*; 3 the log could not be checked/,
    );
    for (const option of ['--state <file>', '--witness-key <key>', '--full', '--as <username>']) {
      expect(stdout).toContain(option);
    }
  });

  it.each([
    ['status'],
    ['seed'],
    ['otp', 'request'],
    ['otp', 'confirm'],
    ['certificate', 'get'],
    ['certificate', 'verify'],
    ['audit', 'verify'],
    ['audit', 'proofs'],
    ['audit', 'tail'],
    ['alerts', 'tail'],
    ['lock', 'principal'],
    ['lock', 'partner'],
    ['lock', 'api'],
    ['lock', 'all'],
    ['unlock', 'all'],
    ['keys', 'rotate'],
  ])('%s %s --help describes the command with the global options', async (...command) => {
    const { exitCode, stdout } = await vaxguard([...command.filter(Boolean), '--help']);
    expect(exitCode).toBe(0);
    expect(stdout).toContain(`Usage: vaxguard ${command.join(' ')}`);
    expect(stdout).toContain('--platform <file>');
    expect(stdout).toContain('--json');
  });

  it('registers its commands from one list', () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(8);
  });
});

describe('usage errors exit 2 with a message', () => {
  it.each([
    [['nonsense'], /unknown command 'nonsense'/],
    [[], /Usage: vaxguard/],
    [['otp'], /Usage: vaxguard otp/],
    [['status', '--frobnicate'], /unknown option '--frobnicate'/],
    [['status', '--timeout', '0'], /a number of seconds above 0/],
    [['status', 'extra'], /too many arguments/],
    [['otp', 'request'], /give a mobile, or --mobile-file <file> holding one, not both/],
    [
      ['otp', 'request', '9876543210', '--mobile-file', 'm'],
      /give a mobile, or --mobile-file <file> holding one, not both/,
    ],
    [
      ['otp', 'request', '--mobile-file', 'absent-mobile'],
      /--mobile-file: no such file absent-mobile/,
    ],
    [['otp', 'confirm'], /missing required argument 'txn'/],
    [['otp', 'confirm', 'txn-1', '12ab56'], /the code is 6 digits/],
    [['certificate', 'get', 'not-a-ref', '--token-file', 't'], /a beneficiary reference is bnf_/],
    [['certificate', 'get', REF], /required option '--token-file <file>' not specified/],
    [
      ['certificate', 'get', REF, '--token-file', 'absent-token'],
      /--token-file: no such file absent-token/,
    ],
    [['certificate', 'verify', 'absent.shc'], /no such file absent.shc/],
    [['certificate', 'verify', 'shc:/0', '--crl', 'x.json'], /--crl goes with --keys-file/],
    [
      ['seed', '--beneficiaries', 'many'],
      /argument 'many' is invalid. a whole number from 0 to 1000000/,
    ],
    [['seed', '--per-citizen', '5'], /a whole number from 1 to 4/],
    [['seed', '--tag', 'Has Space'], /a tag is 1 to 8 characters a-z 0-9/],
    [['audit', 'proofs'], /say what to prove: --index <n>/],
    [['audit', 'proofs', '--size', '4'], /--size goes with --index/],
    [['audit', 'proofs', '--to', '4'], /--to goes with --from/],
    [['audit', 'proofs', '--from', '9', '--to', '4'], /--to must be at least --from/],
    [['audit', 'tail', '--count', '0'], /a whole number of at least 1/],
    [['audit', 'verify', '--password-file', 'p'], /--password-file goes with --as/],
    [
      ['audit', 'verify', '--as', 'auditor.national'],
      /--as auditor.national needs --password-file/,
    ],
    [['alerts', 'tail', '--as', 'auditor.national'], /--as auditor.national needs --password-file/],
    [['alerts', 'tail', '--password-file', 'p'], /--password-file goes with --as/],
    [['alerts', 'tail', '--last', '99'], /a whole number from 0 to 50/],
    [['lock', 'principal', 'stf_1'], /required option '--reason <text>' not specified/],
    [['lock', 'principal', 'stf_1', '--reason', 'no'], /a reason of 3 to 200 characters/],
    [
      ['lock', 'principal', 'stf_1', '--kind', 'robot', '--reason', 'testing'],
      /--kind is staff or partner/,
    ],
    [['lock', 'api', '--reason', 'testing'], /name exactly one API/],
    [
      ['lock', 'api', '--method', 'a.B/C', '--service', 'a.B', '--reason', 'testing'],
      /name exactly one API/,
    ],
    [
      ['unlock', 'api', '--method', 'GetBeneficiary', '--reason', 'testing'],
      /a method is package.Service\/Method/,
    ],
    [
      ['lock', 'api', '--service', 'OtpService', '--reason', 'testing'],
      /a service is its full name/,
    ],
    [['keys', 'rotate'], /missing required argument 'key'/],
    [
      ['keys', 'rotate', 'everything'],
      /unknown key everything: choose from tokens, issuer, audit-log/,
    ],
    [['keys', 'rotate', 'tokens', 'issuer', '--env-file', 'x.env'], /rotate one key with it/],
    [
      ['keys', 'rotate', 'tokens', '--env-file', 'absent.env'],
      /runs with otp's own configuration \(DATABASE_URL, OTP_KEY_ENCRYPTION_KEY\): no .*absent\.env/,
    ],
  ])('vaxguard %j', async (argv, message) => {
    const { exitCode, stdout, stderr } = await run(...argv);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(message);
    expect(stdout).not.toContain('"ok"');
  });

  it('refuses a mobile or a code without repeating it', async () => {
    const mobile = await run('otp', 'request', '12345 67890');
    expect(mobile.exitCode).toBe(2);
    expect(mobile.stderr).toContain('the mobile must be an Indian mobile number');
    expect(mobile.stderr).not.toContain('67890');
    const code = await run('otp', 'confirm', 'txn-1', '98765');
    expect(code.exitCode).toBe(2);
    expect(code.stderr).not.toContain('98765');
  });

  it('says a file is not a platform description (2), and a missing one what to do (3)', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"services": {}}');
    const notDescription = await vaxguard(['--platform', broken, 'status']);
    expect(notDescription.exitCode).toBe(2);
    expect(notDescription.stderr).toContain(
      `${broken} is not a platform description: missing services.identity`,
    );
    const missing = await vaxguard(['--platform', join(dir, 'absent.json'), 'status']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain(
      `no platform description at ${join(dir, 'absent.json')}: run npm start, or pass --platform <file>`,
    );
  });
});

describe('keys rotate audit-log', () => {
  it('fails with what is not supported and why, rotating nothing', async () => {
    const { exitCode, stderr } = await run('keys', 'rotate', 'audit-log');
    expect(exitCode).toBe(1);
    expect(stderr).toContain(
      'keys rotate audit-log: not supported: the audit service signs every checkpoint with the one key in AUDIT_LOG_SIGNER_KEY',
    );
  });
});

describe('a platform that does not answer', () => {
  it('status exits 3, naming each part', async () => {
    const { exitCode, stdout } = await run('status', '--timeout', '0.5', '--json');
    expect(exitCode).toBe(3);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      components: { name: string; ok: boolean }[];
    };
    expect(report.ok).toBe(false);
    expect(report.components.map((component) => component.name)).toEqual([
      'identity',
      'otp',
      'vaccination-record',
      'audit',
      'postgresql',
      'kafka',
      'issuer keys',
    ]);
    expect(stdout).not.toContain('u:p@');
  });

  it('audit verify with a key it cannot use exits 3, the log not checked', async () => {
    const { exitCode, stdout, stderr } = await run('audit', 'verify', '--state', join(dir, 'w'));
    expect(exitCode).toBe(3);
    expect(stderr).toMatch(/^vaxguard: could not check the audit log: the verifier key of the log/);
    expect(stdout).toBe('');
  });

  it("certificate verify with the platform's keys exits 3", async () => {
    const { exitCode, stderr } = await run('certificate', 'verify', 'shc:/56');
    expect(exitCode).toBe(3);
    expect(stderr).toContain('GET http://127.0.0.1:2/jwks.json failed');
  });
});
