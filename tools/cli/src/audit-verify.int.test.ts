// `vaxguard audit verify` (and tools/audit/verify-log.ts) against a running platform (the
// four services as their own processes, real PostgreSQL and Kafka) whose audit log is
// tampered with in PostgreSQL while it runs: an old entry UPDATEd, two entries swapped,
// the newest entries DELETEd, and the log truncated with its head recomputed. Each is
// detected, the entry or the shrink named, and the exit code is 4; the verifier's state
// never moves past what it verified. The tests assert what the verifier reports, not what
// the audit service does about the tampering (it may refuse to sign a rollback, or not).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_VERIFY_EXIT,
  callAs,
  madeUpMobile,
  OperatorClient,
  type Tampering,
} from '@vaxguard/dev-operator';
import {
  cutAuditLog,
  eventually,
  startPlatform,
  swapAuditLogEntries,
  type Platform,
} from '@vaxguard/testing';
import { vaxguard } from './test-support';
import { WORKSPACE } from './workspace';

let platform: Platform;
let operator: OperatorClient;
let db: pg.Client;
let workDir: string;

interface VerifyReport {
  readonly ok: boolean;
  readonly size?: number;
  readonly previousSize?: number;
  readonly entriesChecked?: { from: number; to: number };
  readonly tampering?: Tampering;
}

/** `vaxguard --json audit verify --state <workDir>/<state> ...extra`: its exit code and report. */
async function verify(state: string, ...extra: string[]) {
  const run = await vaxguard(
    [
      '--platform',
      platform.descriptionFile,
      '--json',
      'audit',
      'verify',
      '--state',
      state,
      ...extra,
    ],
    { cwd: workDir },
  );
  return {
    exitCode: run.exitCode,
    stderr: run.stderr,
    report: (run.stdout ? JSON.parse(run.stdout) : {}) as VerifyReport,
  };
}

/** `vaxguard --json audit check ...extra`: the audit service's VerifyLog, paged. */
async function check(...extra: string[]) {
  const run = await vaxguard(
    ['--platform', platform.descriptionFile, '--json', 'audit', 'check', ...extra],
    { cwd: workDir },
  );
  return {
    exitCode: run.exitCode,
    stderr: run.stderr,
    report: (run.stdout ? JSON.parse(run.stdout) : {}) as {
      ok: boolean;
      pages: number;
      verifiedUpTo?: { treeSize: number };
      mismatch?: { kind: string; index: number };
    },
  };
}

/** A first round that verified; the size it verified. */
async function verified(state: string, ...extra: string[]): Promise<number> {
  const { exitCode, stderr, report } = await verify(state, ...extra);
  expect(exitCode, stderr).toBe(AUDIT_VERIFY_EXIT.verified);
  return report.size ?? -1;
}

/** Some ordinary activity: a citizen signs in (OTP events in the log). */
const activity = () => operator.citizenSignIn(madeUpMobile());

/** Once the log is quiet: its head signed, the size of that checkpoint. */
async function quiet(): Promise<number> {
  return eventually(
    async () => {
      const { rows } = await db.query<{ tree_size: string }>(
        'SELECT tree_size FROM audit_log_head',
      );
      const served = await operator.audit.call('getCheckpoint', {}, callAs(undefined, true));
      if (served.treeSize !== rows[0]?.tree_size) throw new Error('the head is not signed yet');
      return Number(served.treeSize);
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
}

const entryAt = async (index: number): Promise<Buffer> => {
  const { rows } = await db.query<{ entry: Buffer }>(
    'SELECT entry FROM audit_log_entries WHERE entry_index = $1',
    [index],
  );
  if (!rows[0]) throw new Error(`no entry ${index}`);
  return rows[0].entry;
};

const setEntry = (index: number, entry: Buffer) =>
  db.query('UPDATE audit_log_entries SET entry = $2 WHERE entry_index = $1', [index, entry]);

beforeAll(async () => {
  platform = await startPlatform({
    services: ['otp', 'identity', 'vaccination-record', 'audit'],
    adminMobile: madeUpMobile(),
  });
  const { description } = platform;
  operator = new OperatorClient({
    services: description.services,
    client: description.client,
    smsInbox: description.smsInbox,
  });
  workDir = join(dirname(platform.descriptionFile), 'work');
  mkdirSync(workDir);
  db = new pg.Client({ connectionString: platform.databases.audit });
  await db.connect();
  await activity();
});

afterAll(async () => {
  await db?.end();
  operator?.close();
  await platform?.stop();
});

describe('vaxguard audit verify, the log tampered with in PostgreSQL', () => {
  it('verifies every entry on a first round, then only those new since, and --full all again', async () => {
    // The sign-in before all is signed first, so the log holds entries to check.
    await eventually(async () => expect(await quiet()).toBeGreaterThan(0));
    const size = await verified('rounds');
    await activity();
    const second = await eventually(async () => {
      const run = await verify('rounds');
      expect(run.exitCode, run.stderr).toBe(AUDIT_VERIFY_EXIT.verified);
      expect(run.report.size).toBeGreaterThan(size);
      return run.report;
    });
    // The new entries, and the newest verified before again (a log cut back loses it first).
    expect(second).toMatchObject({
      ok: true,
      previousSize: size,
      entriesChecked: { from: size - 1 },
    });
    const full = await verify('rounds', '--full');
    expect(full.exitCode, full.stderr).toBe(AUDIT_VERIFY_EXIT.verified);
    expect(full.report.entriesChecked).toMatchObject({ from: 0 });

    // The audit service's own VerifyLog, paged until done, each page's progress shown.
    const paged = await check('--page-size', '3');
    expect(paged.exitCode, paged.stderr).toBe(AUDIT_VERIFY_EXIT.verified);
    expect(paged.report.ok).toBe(true);
    expect(paged.report.pages).toBeGreaterThan(1);
    expect(paged.stderr).toMatch(/^page 2: entries \d+ to \d+ of 0 to \d+ checked/m);
  });

  it('names an old entry UPDATEd as changed (exit 4), by the saved leaves with --full and by the proofs on a first round; the state stays', async () => {
    await verified('update');
    const kept = readFileSync(join(workDir, 'update'), 'utf8');
    const index = 1;
    const original = await entryAt(index);
    const json = JSON.parse(original.toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...json, occurredAt: '2020-01-01T00:00:00Z' }));
    await setEntry(index, forged);
    try {
      const full = await verify('update', '--full');
      expect(full.exitCode, full.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
      expect(full.report).toMatchObject({
        ok: false,
        tampering: {
          kind: 'BAD_ENTRY',
          entry: { index, problem: 'changed', namedBy: 'saved state' },
        },
      });
      expect(full.report.tampering?.description).toContain(`entry ${index} was changed`);
      expect(readFileSync(join(workDir, 'update'), 'utf8')).toBe(kept);

      // The audit service names it too, its mark (how far it verified) before it.
      const paged = await check('--page-size', '3');
      expect(paged.exitCode, paged.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
      expect(paged.report).toMatchObject({ ok: false, mismatch: { kind: 'LEAF_HASH', index } });
      expect(paged.report.verifiedUpTo?.treeSize ?? 0).toBeLessThanOrEqual(index);

      const first = await verify('update-first');
      expect(first.exitCode, first.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
      expect(first.report.tampering).toMatchObject({
        kind: 'BAD_ENTRY',
        entry: { index, problem: 'changed', namedBy: 'proofs' },
      });

      // The standalone tool says the same, with the same exit code.
      const tool = await promisify(execFile)(
        'npx',
        [
          'tsx',
          '--tsconfig',
          'tools/tsconfig.json',
          'tools/audit/verify-log.ts',
          '--platform',
          platform.descriptionFile,
          '--state',
          join(workDir, 'update'),
          '--full',
        ],
        { cwd: WORKSPACE },
      ).then(
        () => ({ code: 0, stdout: '' }),
        (error: { code: number; stdout: string }) => error,
      );
      expect(tool.code).toBe(AUDIT_VERIFY_EXIT.tampered);
      expect(tool.stdout).toContain(`TAMPERED (BAD_ENTRY): `);
      expect(tool.stdout).toContain(`entry ${index} was changed`);
    } finally {
      await setEntry(index, original);
    }
    expect((await verify('update', '--full')).exitCode).toBe(AUDIT_VERIFY_EXIT.verified);
  });

  it('names the first of two swapped entries as out of place, saying where it belongs (exit 4)', async () => {
    // Both entries inside the tree the saved state verified (the log may hold fewer
    // than six entries there): otherwise one is outside it and rightly just 'changed'.
    const size = await verified('swap');
    expect(size).toBeGreaterThan(3);
    const [a, b] = [1, Math.min(5, size - 1)];
    const [entryA, entryB] = [await entryAt(a), await entryAt(b)];
    await swapAuditLogEntries(db, a, b);
    try {
      const first = await verify('swap-first');
      expect(first.exitCode, first.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
      // With no saved state the entry is named by proofs; where its bytes belong is found
      // only when the log answers an inclusion proof for that place, which it may not yet
      // for an entry past the checkpoint it has cosigned (CI once saw 'changed' here). The
      // round below, from saved state, always says where.
      expect(first.report.tampering).toMatchObject({
        kind: 'BAD_ENTRY',
        entry: { index: a, namedBy: 'proofs' },
      });
      expect(['out-of-place', 'changed']).toContain(first.report.tampering?.entry?.problem);
      const full = await verify('swap', '--full');
      expect(full.exitCode, full.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
      expect(full.report.tampering).toMatchObject({
        entry: { index: a, problem: 'out-of-place', belongsAt: b, namedBy: 'saved state' },
      });
      expect(full.report.tampering?.description).toContain(
        `entry ${a} is out of place (its bytes are entry ${b} of`,
      );
    } finally {
      await swapAuditLogEntries(db, a, b);
    }
    expect([await entryAt(a), await entryAt(b)]).toEqual([entryA, entryB]);
    expect((await verify('swap', '--full')).exitCode).toBe(AUDIT_VERIFY_EXIT.verified);
  });

  it('names the first of the newest entries DELETEd as missing (exit 4)', async () => {
    const held = await verified('delete');
    await activity();
    await activity();
    const size = await eventually(async () => {
      const signed = await quiet();
      if (signed < held + 4) throw new Error('not enough new entries yet');
      return signed;
    });
    const from = size - 3;
    const { rows } = await db.query<Record<string, unknown>>(
      'SELECT * FROM audit_log_entries WHERE entry_index >= $1 AND entry_index < $2',
      [from, size],
    );
    await db.query('DELETE FROM audit_log_entries WHERE entry_index >= $1 AND entry_index < $2', [
      from,
      size,
    ]);
    try {
      const run = await verify('delete');
      expect(run.exitCode, run.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
      expect(run.report.tampering).toMatchObject({
        kind: 'BAD_ENTRY',
        entry: { index: from, problem: 'missing' },
      });
      expect(run.report.tampering?.description).toContain(`entry ${from} is missing`);
    } finally {
      for (const row of rows) {
        const columns = Object.keys(row);
        await db.query(
          `INSERT INTO audit_log_entries (${columns.join(', ')})
             VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          columns.map((column) => row[column]),
        );
      }
    }
    expect((await verify('delete')).exitCode).toBe(AUDIT_VERIFY_EXIT.verified);
  });

  // Last: the truncation damages the log for good.
  it('catches the log truncated with its head recomputed (exit 4): a shrink before any proof, or the first entry cut named while the log serves the checkpoint held; then never accepts it again: a fork naming the entry at the cut once the log signs past it', async () => {
    await activity();
    const held = await eventually(async () => {
      const signed = await quiet();
      expect(await verified('truncate')).toBe(signed);
      return signed;
    });
    const kept = readFileSync(join(workDir, 'truncate'), 'utf8');
    const cut = held - 5;
    // The entries from `cut` on deleted, with their tree nodes and the checkpoints that
    // cover them, and the head recomputed: what restoring an older backup leaves. The
    // head is locked so no append comes between.
    await db.query('BEGIN');
    try {
      await cutAuditLog(db, cut, { dropCheckpoints: true });
      await db.query('COMMIT');
    } catch (error) {
      await db.query('ROLLBACK');
      throw error;
    }

    const run = await verify('truncate');
    expect(run.exitCode, run.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
    const tampering = run.report.tampering as Tampering;
    console.log(`truncated at ${cut} (held ${held}): ${tampering.description}`);
    if (tampering.kind === 'SHRANK') {
      const shrank = /^the log shrank from (\d+) to (\d+) entries/.exec(tampering.description);
      expect(Number(shrank?.[1])).toBe(held);
      expect(Number(shrank?.[2])).toBeLessThanOrEqual(cut);
    } else {
      // A log serving the checkpoint it kept outside its database: the entries are gone,
      // or, when the log has appended again since the cut (its own events go on arriving:
      // a query's audit.queried among them), the entry now at the cut is another one.
      expect(tampering).toMatchObject({ kind: 'BAD_ENTRY', entry: { index: cut } });
      expect(['missing', 'changed']).toContain(tampering.entry?.problem);
    }
    expect(readFileSync(join(workDir, 'truncate'), 'utf8')).toBe(kept);

    // The log goes on from the cut; whether or not it signs a tree past the one held
    // (a log signing its own rollback), the verifier holding it never accepts it.
    const deadline = Date.now() + 20_000;
    let served = 0;
    while (served <= held && Date.now() < deadline) {
      await activity();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      served = Number(
        (await operator.audit.call('getCheckpoint', {}, callAs(undefined, true))).treeSize,
      );
    }
    const after = await verify('truncate');
    console.log(`grown back to ${served}: ${after.report.tampering?.description}`);
    expect(after.exitCode, after.stderr).toBe(AUDIT_VERIFY_EXIT.tampered);
    if (served > held) {
      expect(after.report.tampering).toMatchObject({
        kind: 'FORK',
        previousSize: held,
        entry: { index: cut, problem: 'changed', namedBy: 'saved state' },
      });
    } else if (after.report.tampering?.kind !== 'SHRANK') {
      // The log signed nothing past the checkpoint held (it refuses its rollback): the
      // entry at the cut is named, gone or not the one verified there.
      expect(after.report.tampering?.entry).toMatchObject({ index: cut, namedBy: 'saved state' });
    }
    expect(readFileSync(join(workDir, 'truncate'), 'utf8')).toBe(kept);
  });
});
