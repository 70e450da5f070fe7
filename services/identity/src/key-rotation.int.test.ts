import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool, type Queryable } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import {
  maskMobileForDisplay,
  maskPhotoId,
  newBeneficiaryRef,
  parseMobile,
  parsePhotoId,
} from '@vaxguard/pii';
import { leaks, log, startPostgres } from '@vaxguard/testing';
import { ConfigKeyProvider } from './adapters/config-key-provider';
import {
  rotateKeyEncryptionKeys,
  rotationComplete,
  SEALED_COLUMNS,
  type RotationReport,
} from './adapters/key-rotation';
import {
  PgBeneficiaryStore,
  sealedMobileContext,
  sealedPhotoIdContext,
} from './adapters/pg-beneficiary-store';
import { decodeSealedRecord, EnvelopeVault, sealedKeyId } from './adapters/vault';
import type { KeyEncryptionKey } from './domain/model';
import { identityMigrations } from './migrations';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
const kek = (id: string, byte: number): KeyEncryptionKey => ({ id, key: Buffer.alloc(32, byte) });
const KEK0 = kek('kek-2025-07', 40);
const KEK1 = kek('kek-2026-01', 41);
const KEK2 = kek('kek-2026-07', 42);
const keysOf = (current: KeyEncryptionKey, ...previous: KeyEncryptionKey[]) =>
  new ConfigKeyProvider({ current, previous });
const vaultOf = (current: KeyEncryptionKey, ...previous: KeyEncryptionKey[]) =>
  new EnvelopeVault(keysOf(current, ...previous));

/** A fresh identity database of the test's own, migrated; released with `await using`. */
async function identityDatabase() {
  const postgres = await startPostgres();
  const logger = createLogger({ service: 'identity', level: 'warn' });
  const pool = createPool({
    connectionString: postgres.url,
    applicationName: 'identity-test',
    max: 8,
    logger,
  });
  try {
    await migrate(pool, identityMigrations, logger);
  } catch (error) {
    await pool.end();
    await postgres.stop();
    throw error;
  }
  return {
    url: postgres.url,
    pool,
    async [Symbol.asyncDispose]() {
      await pool.end();
      await postgres.stop();
    },
  };
}

/** The raw numbers of the beneficiaries a test registered, by ref: what reads must give back. */
type Registered = Map<string, { mobile: string; pan: string }>;

let serial = 0;
/** Registers `count` beneficiaries through the store, sealed by `vault`, in one transaction. */
async function register(pool: Pool, vault: EnvelopeVault, count: number, into: Registered) {
  const store = new PgBeneficiaryStore(pool, vault);
  await store.transaction(async (uow) => {
    for (let i = 0; i < count; i++) {
      const n = serial++;
      const ref = newBeneficiaryRef();
      const mobile = parseMobile(`9${String(n).padStart(9, '0')}`);
      const photoId = parsePhotoId(
        'PAN',
        `ABCP${String.fromCharCode(65 + (Math.floor(n / 10_000) % 26))}${String(n % 10_000).padStart(4, '0')}K`,
      );
      await uow.insert({
        ref,
        mobileIndex: randomBytes(16).toString('hex'),
        maskedMobile: maskMobileForDisplay(mobile),
        name: `Beneficiary ${n}`,
        gender: 'FEMALE',
        yearOfBirth: 1990,
        photoIdKind: 'PAN',
        maskedPhotoId: maskPhotoId(photoId),
        mobile,
        photoId,
        photoIdIndex: randomBytes(16).toString('hex'),
        secretCodeHash: randomBytes(32),
        canary: false,
        createdAt: new Date(),
      });
      into.set(ref, { mobile, pan: photoId.number });
    }
  });
}

interface SealedRow {
  beneficiary_ref: string;
  mobile_sealed: Buffer;
  photo_id_sealed: Buffer;
}

/** The sealed columns of every beneficiary, or of the given ones, in ref order. */
async function sealedRows(pool: Pool, refs?: readonly string[]): Promise<SealedRow[]> {
  const { rows } = await pool.query<SealedRow>(
    `SELECT beneficiary_ref, mobile_sealed, photo_id_sealed FROM beneficiaries
     WHERE $1::text[] IS NULL OR beneficiary_ref = ANY($1) ORDER BY beneficiary_ref`,
    [refs ?? null],
  );
  return rows;
}

/** Rows per KEK id, over both sealed columns. */
async function keyIds(pool: Pool): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const row of await sealedRows(pool)) {
    for (const column of SEALED_COLUMNS) {
      const id = sealedKeyId(row[column]);
      counts[id] = (counts[id] ?? 0) + 1;
    }
  }
  return counts;
}

/** Each sealed value's data-encryption part (IV, tag, ciphertext), which rotation must not touch. */
async function dataParts(pool: Pool): Promise<Map<string, string>> {
  const parts = new Map<string, string>();
  for (const row of await sealedRows(pool)) {
    for (const column of SEALED_COLUMNS) {
      const { iv, tag, ciphertext } = decodeSealedRecord(row[column]);
      parts.set(
        `${row.beneficiary_ref}/${column}`,
        Buffer.concat([iv, tag, ciphertext]).toString('hex'),
      );
    }
  }
  return parts;
}

/** Every registered beneficiary's numbers open, with `vault`, to what was registered. */
async function expectAllOpen(pool: Pool, vault: EnvelopeVault, registered: Registered) {
  const rows = await sealedRows(pool);
  expect(rows).toHaveLength(registered.size);
  for (const row of rows) {
    const ref = row.beneficiary_ref;
    const expected = registered.get(ref);
    expect(expected).toBeDefined();
    const mobile = await vault.open(row.mobile_sealed, sealedMobileContext(ref));
    const pan = await vault.open(row.photo_id_sealed, sealedPhotoIdContext(ref));
    expect({ mobile: mobile.toString('utf8'), pan: pan.toString('utf8') }).toEqual(expected);
  }
}

function rotate(pool: Queryable, keys: ConfigKeyProvider, sink = new MemoryLogSink()) {
  const logger = createLogger({ service: 'identity', level: 'debug', sink });
  return rotateKeyEncryptionKeys({ pool, keys, logger });
}

/** `IDENTITY_KEY_ENCRYPTION_KEYS` naming these KEKs, the current one first. */
const keysVariableOf = (...keks: KeyEncryptionKey[]) =>
  keks.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');

/** The built task (`dist/rotate-keys.js`) as its own process, as an operator runs it. */
function runRotateKeys(environment: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--enable-source-maps', 'services/identity/dist/rotate-keys.js'],
      { cwd: WORKSPACE, env: { PATH: process.env['PATH'] ?? '', ...environment } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
}

/** The task's closing log line. */
function summaryOf(stdout: string) {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => typeof line['msg'] === 'string' && line['msg'].startsWith('key rotation')) as
    (RotationReport & { level: string; msg: string; durationMs: number }) | undefined;
}

describe('KEK rotation over the beneficiaries table (real PostgreSQL)', () => {
  it('re-wraps every data key under the new KEK, ciphertext untouched, and a second run re-wraps nothing', async () => {
    await using db = await identityDatabase();
    const registered: Registered = new Map();
    await register(db.pool, vaultOf(KEK1), 1_150, registered);
    await register(db.pool, vaultOf(KEK2, KEK1), 50, registered);
    const before = await dataParts(db.pool);
    const logs = new MemoryLogSink();

    const first = await rotate(db.pool, keysOf(KEK2, KEK1), logs);

    expect(first.currentKeyId).toBe(KEK2.id);
    for (const column of SEALED_COLUMNS) {
      expect(first.columns[column]).toEqual({
        examined: 1_200,
        rewrapped: 1_150,
        alreadyCurrent: 50,
        unknownKey: 0,
        damaged: 0,
      });
    }
    expect(rotationComplete(first)).toBe(true);
    expect(await keyIds(db.pool)).toEqual({ [KEK2.id]: 2_400 });
    expect(await dataParts(db.pool)).toEqual(before);
    await expectAllOpen(db.pool, vaultOf(KEK2), registered);
    const raw = [...registered.values()].flatMap(({ mobile, pan }) => [mobile, pan]);
    expect(leaks(logs.text(), raw)).toEqual([]);

    const second = await rotate(db.pool, keysOf(KEK2, KEK1));
    for (const column of SEALED_COLUMNS) {
      expect(second.columns[column]).toMatchObject({ rewrapped: 0, alreadyCurrent: 1_200 });
    }
  });

  it('runs, twice at once, while registrations and reads go on: none fails, every record ends under the new KEK', async () => {
    await using db = await identityDatabase();
    const registered: Registered = new Map();
    const ROWS = 3_000;
    await register(db.pool, vaultOf(KEK1), ROWS, registered);
    const seeded = [...registered.keys()];
    // The service, already restarted with the new KEK first: it seals under KEK2 and
    // still opens what KEK1 sealed.
    const serviceVault = vaultOf(KEK2, KEK1);
    const store = new PgBeneficiaryStore(db.pool, serviceVault);
    const failures: unknown[] = [];
    let rotating = true;
    let reads = 0;
    let slowestReadMs = 0;
    let registrations = 0;

    const reader = async () => {
      while (rotating) {
        const ref = seeded[Math.floor(Math.random() * seeded.length)]!;
        const started = performance.now();
        try {
          const mobile = await store.transaction((uow) => uow.mobileOf(ref));
          const { rows } = await db.pool.query<{ photo_id_sealed: Buffer }>(
            'SELECT photo_id_sealed FROM beneficiaries WHERE beneficiary_ref = $1',
            [ref],
          );
          const pan = await serviceVault.open(rows[0]!.photo_id_sealed, sealedPhotoIdContext(ref));
          expect({ mobile, pan: pan.toString('utf8') }).toEqual(registered.get(ref));
          reads++;
          slowestReadMs = Math.max(slowestReadMs, performance.now() - started);
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const registrar = async () => {
      while (rotating) {
        try {
          await register(db.pool, serviceVault, 1, registered);
          registrations++;
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const traffic = [reader(), reader(), reader(), registrar(), registrar()];
    const started = performance.now();
    // Two runs of the task at once, each its own process beside the "service" (this one).
    const environment = {
      DATABASE_URL: db.url,
      IDENTITY_KEY_ENCRYPTION_KEYS: keysVariableOf(KEK2, KEK1),
    };
    const runs = await Promise.all([runRotateKeys(environment), runRotateKeys(environment)]);
    const elapsed = performance.now() - started;
    rotating = false;
    await Promise.all(traffic);
    const summaries = runs.map((run) => summaryOf(run.stdout));
    log(
      `two concurrent rotate-keys processes over ${ROWS} rows (2 sealed columns): ` +
        `${summaries.map((summary) => summary?.durationMs).join(' and ')} ms each ` +
        `(${Math.round(elapsed)} ms with process start), re-wrapping ` +
        `${summaries.map((summary) => summary?.columns.mobile_sealed.rewrapped).join(' + ')} ` +
        `mobiles, alongside ${reads} reads (slowest ${Math.round(slowestReadMs)} ms) ` +
        `and ${registrations} registrations`,
    );

    expect(runs.map((run) => run.code)).toEqual([0, 0]);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(registrations).toBeGreaterThan(0);
    for (const column of SEALED_COLUMNS) {
      // Between them the two runs re-wrap each old record exactly once.
      const rewrapped = summaries.map((summary) => summary?.columns[column].rewrapped ?? 0);
      expect(rewrapped[0]! + rewrapped[1]!).toBe(ROWS);
    }
    expect(await keyIds(db.pool)).toEqual({ [KEK2.id]: 2 * registered.size });
    await expectAllOpen(db.pool, vaultOf(KEK2), registered);
  });

  it('judges a value again, and leaves it, when another run re-wrapped it between this run reading and writing it', async () => {
    await using db = await identityDatabase();
    const registered: Registered = new Map();
    await register(db.pool, vaultOf(KEK1), 30, registered);
    let other: RotationReport | undefined;
    // This run's database: just before its first write, another run re-wraps everything.
    const racing: Queryable = {
      query: (async (text: string, values?: unknown[]) => {
        if (!other && text.trimStart().startsWith('UPDATE')) {
          other = await rotate(db.pool, keysOf(KEK2, KEK1));
        }
        return db.pool.query(text, values);
      }) as Queryable['query'],
    };

    const report = await rotate(racing, keysOf(KEK2, KEK1));

    for (const column of SEALED_COLUMNS) {
      expect(other?.columns[column]).toMatchObject({ examined: 30, rewrapped: 30 });
      expect(report.columns[column]).toEqual({
        examined: 30,
        rewrapped: 0,
        alreadyCurrent: 30,
        unknownKey: 0,
        damaged: 0,
      });
    }
    expect(await keyIds(db.pool)).toEqual({ [KEK2.id]: 60 });
    await expectAllOpen(db.pool, vaultOf(KEK2), registered);
  });

  it('counts records under a KEK it does not hold, leaves them as they are, and reports failure', async () => {
    await using db = await identityDatabase();
    const registered: Registered = new Map();
    await register(db.pool, vaultOf(KEK1), 20, registered);
    const lost: Registered = new Map();
    await register(db.pool, vaultOf(KEK0), 3, lost);
    const lostBefore = await sealedRows(db.pool, [...lost.keys()]);
    const logs = new MemoryLogSink();

    const report = await rotate(db.pool, keysOf(KEK2, KEK1), logs);

    expect(rotationComplete(report)).toBe(false);
    for (const column of SEALED_COLUMNS) {
      expect(report.columns[column]).toEqual({
        examined: 23,
        rewrapped: 20,
        alreadyCurrent: 0,
        unknownKey: 3,
        damaged: 0,
      });
    }
    expect(report.unknownKeyIds).toEqual({ [KEK0.id]: 6 });
    expect(await sealedRows(db.pool, [...lost.keys()])).toEqual(lostBefore);
    expect(await keyIds(db.pool)).toEqual({ [KEK2.id]: 40, [KEK0.id]: 6 });
    const raw = [...registered.values(), ...lost.values()].flatMap(({ mobile, pan }) => [
      mobile,
      pan,
    ]);
    expect(leaks(logs.text(), raw)).toEqual([]);
  });

  it('runs as the built task (dist/rotate-keys.js): a summary line, exit 0, and exit 1 while a record is under an unknown KEK', async () => {
    await using db = await identityDatabase();
    const registered: Registered = new Map();
    await register(db.pool, vaultOf(KEK1), 40, registered);
    const keysVariable = keysVariableOf(KEK2, KEK1);

    const done = await runRotateKeys({
      DATABASE_URL: db.url,
      IDENTITY_KEY_ENCRYPTION_KEYS: keysVariable,
    });
    expect(done.code).toBe(0);
    expect(summaryOf(done.stdout)).toMatchObject({
      level: 'info',
      msg: 'key rotation complete',
      task: 'rotate-keys',
      currentKeyId: KEK2.id,
      columns: {
        mobile_sealed: { examined: 40, rewrapped: 40, unknownKey: 0, damaged: 0 },
        photo_id_sealed: { examined: 40, rewrapped: 40, unknownKey: 0, damaged: 0 },
      },
    });

    await register(db.pool, vaultOf(KEK0), 1, registered);
    const refused = await runRotateKeys({
      DATABASE_URL: db.url,
      IDENTITY_KEY_ENCRYPTION_KEYS: keysVariable,
      LOG_LEVEL: 'warn',
    });
    expect(refused.code).toBe(1);
    expect(summaryOf(refused.stdout)).toMatchObject({
      level: 'error',
      msg: 'key rotation left records it cannot re-wrap',
      columns: {
        mobile_sealed: { examined: 41, alreadyCurrent: 40, unknownKey: 1 },
        photo_id_sealed: { examined: 41, alreadyCurrent: 40, unknownKey: 1 },
      },
      unknownKeyIds: { [KEK0.id]: 2 },
    });

    const output = done.stdout + done.stderr + refused.stdout + refused.stderr;
    for (const key of [KEK1, KEK2]) expect(output).not.toContain(key.key.toString('base64'));
    const raw = [...registered.values()].flatMap(({ mobile, pan }) => [mobile, pan]);
    expect(leaks(output, raw)).toEqual([]);

    const misconfigured = await runRotateKeys({ DATABASE_URL: db.url });
    expect(misconfigured.code).toBe(1);
    expect(misconfigured.stderr).toContain('IDENTITY_KEY_ENCRYPTION_KEYS: is required');
  });
});
