// `vaxguard backup` of a running platform (the four services as their own processes, real
// PostgreSQL, Kafka and witness) under light writes, and `vaxguard restore` into a fresh
// platform started with the first one's secrets and witness: the data made before the
// backup is read back through the services' RPCs, nothing made after it is there, every
// restored database is consistent with its outbox, the outside verifier with a state
// saved before the backup verifies the restored log (exit 0), and the witness, which
// cosigned the first platform's log after the backup, makes the restored log halt with a
// CRITICAL LOG_ROLLBACK alert (WITNESS_AHEAD) instead of accepting the rollback.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_VERIFY_EXIT,
  callAs,
  madeUpMobile,
  OperatorClient,
  randomMadeUpAadhaar,
  type Tampering,
} from '@vaxguard/dev-operator';
import { readPlatformDescription, type PlatformDescription } from '@vaxguard/dev-platform';
import { EVENTS } from '@vaxguard/event-catalogue';
import { auditV1, identityV1 } from '@vaxguard/proto';
import { eventually, refusalOf, startPlatform, type Platform } from '@vaxguard/testing';
import type { BackupManifest } from './backup-manifest';
import { vaxguard, type CliRun } from './test-support';

const ALL_SERVICES = ['otp', 'identity', 'vaccination-record', 'audit'] as const;
// The operator's client sends more codes a minute than a configured app may by default.
const OTP_ENV = { OTP_CLIENT_QUOTA_PER_MINUTE: '600' };

let first: Platform;
let second: Platform | undefined;
let workDir: string;
const operators: OperatorClient[] = [];

const json = <T>(run: CliRun): T => JSON.parse(run.stdout) as T;

function operatorOf(description: PlatformDescription): OperatorClient {
  const operator = new OperatorClient({
    services: description.services,
    client: description.client,
    smsInbox: description.smsInbox,
  });
  operators.push(operator);
  return operator;
}

/** `vaxguard --platform <platform> ...argv`, in-process, from the test's folder. */
const cli = (platform: { descriptionFile: string }, ...argv: string[]) =>
  vaxguard(['--platform', platform.descriptionFile, ...argv], { cwd: workDir });

interface Seeded {
  readonly staff: { username: string; password: string; role: string }[];
  readonly citizens: { mobile: string; beneficiaryRefs: string[] }[];
}

/** `vaxguard seed` on the first platform; the secrets file it wrote. */
async function seed(tag: string, beneficiaries: number): Promise<Seeded> {
  const run = await cli(
    first,
    '--json',
    'seed',
    '--tag',
    tag,
    '--centres',
    '1',
    '--beneficiaries',
    String(beneficiaries),
    '--per-citizen',
    '1',
    '--principals-file',
    join(workDir, `${tag}.json`),
  );
  expect(run.exitCode, run.stderr).toBe(0);
  return JSON.parse(readFileSync(join(workDir, `${tag}.json`), 'utf8')) as Seeded;
}

const vaccinatorOf = (seeded: Seeded) => seeded.staff.find((s) => s.role === 'VACCINATOR')!;

/** Dose `doseNumber` of Covishield for a seeded citizen's beneficiary, with consent; its id. */
async function recordDose(
  operator: OperatorClient,
  seeded: Seeded,
  citizen: number,
  doseNumber: number,
): Promise<string> {
  const vaccinator = vaccinatorOf(seeded);
  const { token: session } = await operator.staffSignIn(vaccinator.username, vaccinator.password);
  const { mobile, beneficiaryRefs } = seeded.citizens[citizen]!;
  const { grant } = await operator.consentedRead(mobile, beneficiaryRefs[0]!, session);
  const { dose } = await operator.records.call(
    'recordDose',
    {
      beneficiaryRef: beneficiaryRefs[0]!,
      vaccineCode: 'COVISHIELD',
      doseNumber,
      administeredOn: doseNumber === 1 ? '2021-03-01' : '2021-06-01',
      batchNumber: doseNumber === 1 ? '4121Z005' : '4121Z040',
      clientRequestId: `backup-${randomBytes(6).toString('hex')}`,
      consentGrant: grant.token,
    },
    callAs(session),
  );
  return dose?.doseId ?? '';
}

/** The doses a platform holds for a seeded citizen's beneficiary, as its vaccinator sees them. */
async function dosesOf(operator: OperatorClient, seeded: Seeded, citizen: number) {
  const vaccinator = vaccinatorOf(seeded);
  const { token: session } = await operator.staffSignIn(vaccinator.username, vaccinator.password);
  const { mobile, beneficiaryRefs } = seeded.citizens[citizen]!;
  const { grant, beneficiary } = await operator.consentedRead(mobile, beneficiaryRefs[0]!, session);
  const { beneficiaries } = await operator.records.call(
    'findBeneficiaryForVaccination',
    { consentGrant: grant.token },
    callAs(session),
  );
  return {
    name: beneficiary?.name,
    doseIds: beneficiaries
      .find((found) => found.beneficiaryRef === beneficiaryRefs[0])
      ?.doses.map((dose) => dose.doseId),
  };
}

/** The audit log's served checkpoint once it covers its whole stored log (cosigned). */
async function quiet(platform: Platform, operator: OperatorClient): Promise<number> {
  const db = new pg.Client({ connectionString: platform.databases.audit });
  await db.connect();
  try {
    return await eventually(
      async () => {
        const { rows } = await db.query<{ tree_size: string }>(
          'SELECT tree_size FROM audit_log_head',
        );
        const served = await operator.audit.call('getCheckpoint', {}, callAs(undefined, true));
        if (served.treeSize !== rows[0]?.tree_size) throw new Error('the head is not cosigned yet');
        return Number(served.treeSize);
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  } finally {
    await db.end();
  }
}

/** `vaxguard audit verify --state <state>` against a platform: exit code and report. */
async function verify(platform: { descriptionFile: string }, state: string) {
  const run = await cli(platform, '--json', 'audit', 'verify', '--state', join(workDir, state));
  return {
    exitCode: run.exitCode,
    stderr: run.stderr,
    report: (run.stdout ? JSON.parse(run.stdout) : {}) as {
      size?: number;
      previousSize?: number;
      tampering?: Tampering;
    },
  };
}

/** Rows of a table and of its events in the outbox, in one restored database. */
async function rowsAndEvents(url: string, table: string, eventName: string) {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query<{ rows: string; events: string }>(
      `SELECT (SELECT count(*) FROM ${table}) AS rows,
              (SELECT count(*) FROM outbox WHERE event_type = $1) AS events`,
      [eventName],
    );
    return { rows: Number(rows[0]?.rows), events: Number(rows[0]?.events) };
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'vaxguard-backup-restore-'));
  first = await startPlatform({
    services: ALL_SERVICES,
    adminMobile: madeUpMobile(),
    env: { otp: OTP_ENV },
  });
}, 240_000);

afterAll(async () => {
  for (const operator of operators) operator.close();
  // The second platform first: it uses the first one's witness.
  await second?.stop();
  await first?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('vaxguard backup and restore', () => {
  it('restores a running platform into a fresh one: its data read back, its log verified against a state from before the backup, the witness ahead reported as a rollback', async () => {
    const operator = operatorOf(first.description);
    // Before the backup: registrations, doses, and their audit entries.
    const before = await seed('bkone', 4);
    const firstDose = await recordDose(operator, before, 0, 1);
    const secondDose = await recordDose(operator, before, 0, 2);
    const verifiedSize = await quiet(first, operator);
    const saved = await verify(first, 'before.state');
    expect(saved.exitCode, saved.stderr).toBe(AUDIT_VERIFY_EXIT.verified);
    expect(saved.report.size).toBe(verifiedSize);

    // The backup, while a vaccinator records doses and citizens register (light writes).
    const backupDir = join(workDir, 'backup');
    let writing = true;
    const writes = (async () => {
      let count = 0;
      // The seed's third person (index 3) is a child in 2021: citizens 1 and 2 only.
      for (let citizen = 1; writing && citizen < 3; citizen++) {
        await recordDose(operator, before, citizen, 1);
        count++;
      }
      while (writing) {
        const mobile = madeUpMobile();
        const { token } = await operator.citizenSignIn(mobile);
        await operator.identity.call(
          'registerBeneficiary',
          {
            mobile,
            name: 'Backup Person',
            gender: identityV1.Gender.GENDER_FEMALE,
            yearOfBirth: 1985,
            photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
            photoIdNumber: randomMadeUpAadhaar(),
          },
          callAs(token),
        );
        count++;
      }
      return count;
    })();
    const backup = await cli(first, '--json', 'backup', backupDir).finally(() => {
      writing = false;
    });
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(await writes).toBeGreaterThan(0);
    const { manifest } = json<{ manifest: BackupManifest }>(backup);
    expect(manifest.databases.map((entry) => entry.service)).toEqual([
      'audit',
      'vaccination-record',
      'identity',
      'otp',
    ]);
    expect(manifest.auditLog.size).toBeGreaterThanOrEqual(verifiedSize);
    expect(manifest.accessRegistry.records).toBeGreaterThan(0);

    // After the backup: more data, and the witness cosigns the larger log.
    const after = await seed('bktwo', 1);
    await recordDose(operator, after, 0, 1);
    const grown = await quiet(first, operator);
    expect(grown).toBeGreaterThan(manifest.auditLog.size);
    // A verifier that checks the grown log (from nothing) saw more than the backup holds.
    const sawMore = await verify(first, 'after.state');
    expect(sawMore.exitCode, sawMore.stderr).toBe(AUDIT_VERIFY_EXIT.verified);
    const witness = first.witness!;

    // The first platform's services stop (its PostgreSQL, Kafka and witness stay).
    await Promise.all(Object.values(first.processes).map((process) => process?.stop()));

    // A fresh platform with the same secrets and witness, restored before its services start.
    let restored: CliRun | undefined;
    const outbox: Record<string, { rows: number; events: number }> = {};
    second = await startPlatform({
      services: ALL_SERVICES,
      secrets: first.secrets,
      witness,
      env: {
        otp: OTP_ENV,
        audit: { AUDIT_RESTORED_CHECKPOINT: join(backupDir, manifest.auditLog.file) },
      },
      beforeServices: async (descriptionFile) => {
        restored = await vaxguard(['--platform', descriptionFile, '--json', 'restore', backupDir], {
          cwd: workDir,
        });
        if (restored.exitCode !== 0) return;
        const { databases } = readPlatformDescription(descriptionFile).postgres;
        // Each database from one snapshot: no dose or registration without its event.
        outbox['doses'] = await rowsAndEvents(
          databases['vaccination-record'],
          'doses',
          EVENTS.doseRecorded.name,
        );
        outbox['beneficiaries'] = await rowsAndEvents(
          databases.identity,
          'beneficiaries',
          EVENTS.beneficiaryRegistered.name,
        );
      },
    });
    expect(restored?.exitCode, restored?.stderr).toBe(0);
    const report = json<{
      databases: { service: string; republished: number }[];
      accessRegistryRecords: number;
    }>(restored!);
    expect(report.accessRegistryRecords).toBe(manifest.accessRegistry.records);
    // The events each restored outbox held are published again to the new Kafka.
    const republished = Object.fromEntries(
      report.databases.map((entry) => [entry.service, entry.republished]),
    );
    expect(republished['vaccination-record']).toBeGreaterThanOrEqual(2);
    expect(republished['identity']).toBeGreaterThan(0);
    expect(outbox['doses']?.rows).toBeGreaterThanOrEqual(2);
    expect(outbox['doses']?.events).toBe(outbox['doses']?.rows);
    expect(outbox['beneficiaries']?.rows).toBeGreaterThanOrEqual(4);
    expect(outbox['beneficiaries']?.events).toBe(outbox['beneficiaries']?.rows);

    // A platform whose services run is never restored over, forced or not.
    const overRunning = await cli(second, 'restore', '--force', backupDir);
    expect(overRunning.exitCode).toBe(1);
    expect(overRunning.stderr).toContain('are running on this platform; stop its services');

    // The data from before the backup, read back through the restored services.
    const operator2 = operatorOf(second.description);
    const doses = await dosesOf(operator2, before, 0);
    expect(doses.name).toBeTruthy();
    expect(doses.doseIds).toEqual([firstDose, secondDose]);
    // What was made after the backup is not there: its vaccinator does not exist.
    const missing = await refusalOf(
      operator2.staffSignIn(vaccinatorOf(after).username, vaccinatorOf(after).password),
    );
    expect(missing.code).toBe(status.UNAUTHENTICATED);

    // The restored log verifies against the state saved before the backup.
    const checked = await verify(second, 'before.state');
    expect(checked.exitCode, checked.stderr).toBe(AUDIT_VERIFY_EXIT.verified);
    expect(checked.report.previousSize).toBe(verifiedSize);
    expect(checked.report.size).toBe(manifest.auditLog.size);

    // The witness holds the larger log cosigned after the backup: the restored log halts.
    const halted = await eventually(async () => {
      const checkpoint = await operator2.audit.call('getCheckpoint', {}, callAs(undefined, true));
      if (!checkpoint.halted) throw new Error('not halted yet');
      return checkpoint;
    });
    expect(halted.haltReason).toMatch(/^WITNESS_AHEAD: /);
    expect(halted.haltReason).toContain(`cosigned a checkpoint of ${grown} entries`);
    expect(Number(halted.treeSize)).toBe(manifest.auditLog.size);
    const auditor = before.staff.find((s) => s.role === 'AUDITOR')!;
    const { token: auditorSession } = await operator2.staffSignIn(
      auditor.username,
      auditor.password,
    );
    const { alerts } = await operator2.audit.call(
      'listAlerts',
      { pageSize: 500, pageToken: '', unacknowledgedOnly: false },
      callAs(auditorSession),
    );
    const rollback = alerts.find((record) => record.alert?.rule === 'LOG_ROLLBACK');
    expect(rollback?.alert?.severity).toBe(auditV1.Severity.SEVERITY_CRITICAL);
    expect(rollback?.alert?.window?.observed).toBeLessThan(grown);

    // The verifier that saw the grown log calls the restored one what it is: a rollback.
    const rolledBack = await verify(second, 'after.state');
    expect(rolledBack.exitCode, rolledBack.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
    expect(rolledBack.report.tampering?.kind).toBe('SHRANK');
  }, 600_000);
});
