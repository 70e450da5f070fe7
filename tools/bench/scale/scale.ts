// `npm run bench:scale`: how every hot call's cost grows with the data. The whole platform
// (the four built services, real PostgreSQL with its data on disk, Kafka; libs/testing's
// world) is seeded in bulk through the product's own code (identity-seeder.ts,
// records-seeder.ts, audit-seeder.ts), with COPY for identity and vaccination-record and
// the audit service's own writer and store for its log, to each size in turn, growing
// in place; at each size the hot calls are timed through the real services. Prints each
// call's median and p99 and their ratio to the smallest size, the seeding rates, and the
// bytes per row of each table. Asserts nothing: these machines are shared and noisy.
//
//   BENCH_SCALE_SIZES=1e5,1e6,1e7  beneficiaries (and audit entries) at each step
//   BENCH_SCALE_FULL=1             then the audit log alone to 10^8 entries
//   BENCH_SCALE_CALLS=300 BENCH_SCALE_CONCURRENCY=4 BENCH_SCALE_SECONDS=10  per call
import pg from 'pg';
import {
  serviceEnvironment,
  startWorld,
  type PlatformLayout,
  type PlatformService,
  type World,
} from '@vaxguard/testing';
import { runBenchmark } from '../harness';
import { type LoadResult } from '../load';
import { AuditSeeder } from './audit-seeder';
import { setUpCast, signedInStaff, timeCalls } from './calls';
import { copyRows } from './copy';
import { IdentitySeeder } from './identity-seeder';
import { Population } from './population';
import { RecordsSeeder } from './records-seeder';
import { databaseBytes, freeBytes, gb, tableSizes, type TableSize } from './storage';

const SIZES = (process.env['BENCH_SCALE_SIZES'] ?? '1e5,1e6,1e7')
  .split(',')
  .map((size) => Number(size.trim()))
  .filter((size) => Number.isSafeInteger(size) && size > 0);
const FULL_AUDIT_ENTRIES = process.env['BENCH_SCALE_FULL'] === '1' ? 100_000_000 : undefined;
const LIMITS = {
  concurrency: Number(process.env['BENCH_SCALE_CONCURRENCY'] ?? 4),
  maxCalls: Number(process.env['BENCH_SCALE_CALLS'] ?? 300),
  maxSeconds: Number(process.env['BENCH_SCALE_SECONDS'] ?? 10),
};
/** Beneficiaries per COPY transaction (and audit entries per step of the writer). */
const CHUNK = 10_000;
/** Entries per transaction of the audit writer, as a busy consumer's batches. */
const AUDIT_BATCH = 2_000;
/** The append rate is taken over this many entries: the first (an empty log) and the last. */
const APPEND_RATE_ENTRIES = 20_000;
/** Before anything is measured: what one beneficiary with its doses and log entries takes. */
const FIRST_GUESS_BYTES_PER_BENEFICIARY = 6_000;
/** WAL, index pages split while growing, free space not yet reused: on top of the estimate. */
const HEADROOM = 1.5;
/** Left free for everything else on the machine. */
const RESERVE_BYTES = 5e9;

const SEEDED_SERVICES = ['identity', 'vaccination-record', 'audit'] as const;
type SeededService = (typeof SEEDED_SERVICES)[number];

/** Each service's environment as the platform started it (its keys included). */
function environments(world: World): Record<SeededService, Record<string, string>> {
  const { platform } = world;
  const layout: PlatformLayout = {
    addresses: platform.description.services,
    databases: platform.databases as PlatformLayout['databases'],
    brokers: platform.description.kafkaBrokers,
    secrets: platform.secrets,
    operatorClientId: platform.operator.clientId,
    smsSink: platform.smsInbox,
    auditStateDir: '/nonexistent',
    admin: { username: platform.admin.username, passwordHash: '' },
    issuer: {
      url: platform.description.issuer.url,
      httpPort: Number(new URL(platform.description.issuer.url).port),
    },
    logLevel: 'warn',
  };
  const of = (service: SeededService) => {
    const environment = serviceEnvironment(service, layout);
    // Only the keys are read from it: no admin is bootstrapped by the seeder.
    delete environment['PLATFORM_ADMIN_BOOTSTRAP'];
    return environment;
  };
  return {
    identity: of('identity'),
    'vaccination-record': of('vaccination-record'),
    audit: of('audit'),
  };
}

interface SizeReport {
  readonly beneficiaries: number;
  readonly entries: number;
  readonly calls: Map<string, LoadResult>;
  /** The audit writer's rate over the last entries appended to reach this size. */
  readonly appendPerSecond: number;
  readonly tables: Record<SeededService, TableSize[]>;
  readonly databases: Record<SeededService, number>;
}

const rate = (rows: number, ms: number) =>
  `${Math.round(rows / (ms / 1000)).toLocaleString('en')} rows/s`;

async function main(): Promise<void> {
  if (SIZES.length === 0) throw new Error('BENCH_SCALE_SIZES names no size');
  const t0 = performance.now();
  const say = (line: string) =>
    process.stdout.write(
      `[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${line}\n`,
    );
  say(
    `Scale benchmark: sizes ${SIZES.map((s) => s.toLocaleString('en')).join(', ')}` +
      (FULL_AUDIT_ENTRIES
        ? `, then the audit log to ${FULL_AUDIT_ENTRIES.toLocaleString('en')}`
        : '') +
      `; each call ${LIMITS.maxCalls} times at most (${LIMITS.concurrency} at once, ${LIMITS.maxSeconds} s at most). ` +
      'A shared, noisy machine: read the ratios, not the milliseconds.',
  );
  if (process.env['TEST_POSTGRES_RESTARTABLE'] !== '1') {
    say('  TEST_POSTGRES_RESTARTABLE is not 1: PostgreSQL keeps its data on tmpfs, in memory');
  }
  const world = await startWorld({
    env: {
      otp: { OTP_CLIENT_QUOTA_PER_MINUTE: '1000000' },
      'vaccination-record': { STAFF_BENEFICIARIES_PER_HOUR: '10000' },
      // Citizens and vaccinators read far more than a person would: no alert, no suspension.
      audit: {
        AUDIT_ANOMALY_STAFF_READS_PER_HOUR: '100000',
        AUDIT_ANOMALY_STAFF_READS_PER_DAY: '1000000',
        AUDIT_ANOMALY_OFF_HOURS_READS_PER_HOUR: '1000000',
        AUDIT_ANOMALY_CONSENT_REQUESTS_PER_HOUR: '1000000',
      },
    },
  });
  const { platform } = world;
  say('platform up');
  const pools = Object.fromEntries(
    SEEDED_SERVICES.map((service) => [
      service,
      new pg.Pool({ connectionString: platform.databases[service], max: 2 }),
    ]),
  ) as Record<SeededService, pg.Pool>;
  try {
    const { rows: keys } = await pools['vaccination-record'].query<{ kid: string }>(
      'SELECT kid FROM issuer_keys ORDER BY created_at DESC LIMIT 1',
    );
    const kid = keys[0]?.kid;
    if (!kid) throw new Error('vaccination-record holds no issuer key');
    const cast = await setUpCast(world, platform.description.issuer.url, kid);
    const env = environments(world);
    const population = new Population();
    const identity = new IdentitySeeder(population, env.identity);
    const records = new RecordsSeeder(population, env['vaccination-record'], {
      centreId: cast.centreId,
      vaccinatorId: cast.vaccinators[0]!.id,
      kid,
    });
    const audit = new AuditSeeder({
      population,
      environment: env.audit,
      pool: pools.audit,
      mobileIndex: (n) => identity.mobileIndex(n),
      centreId: cast.centreId,
    });
    say(`staff, centre and issuer key ready (kid ${kid})`);

    let beneficiaries = 0;
    let entries = await audit.size();
    let emptyLogAppendPerSecond: number | undefined;
    const reports: SizeReport[] = [];
    const seededMs = { identity: 0, 'vaccination-record': 0, audit: 0 };
    const seededRows = { identity: 0, 'vaccination-record': 0, audit: 0 };

    /** Refuses a step whose estimated bytes would not fit in the space left. */
    const checkDisk = (addBeneficiaries: number, addEntries: number) => {
      const last = reports.at(-1);
      const perBeneficiary = last
        ? (last.databases.identity + last.databases['vaccination-record']) / last.beneficiaries
        : FIRST_GUESS_BYTES_PER_BENEFICIARY / 2;
      const perEntry = last
        ? last.databases.audit / last.entries
        : FIRST_GUESS_BYTES_PER_BENEFICIARY / 2;
      const needed = (addBeneficiaries * perBeneficiary + addEntries * perEntry) * HEADROOM;
      const free = freeBytes() - RESERVE_BYTES;
      say(
        `  disk: this step needs about ${gb(needed)} (${Math.round(perBeneficiary)} B per beneficiary, ${Math.round(perEntry)} B per entry${last ? ', measured' : ', a first guess'}, ×${HEADROOM}); ${gb(free)} free beyond a ${gb(RESERVE_BYTES)} reserve`,
      );
      if (needed > free) {
        throw new Error(
          `not enough disk for this step: about ${gb(needed)} needed, ${gb(free)} free (beyond ${gb(RESERVE_BYTES)} kept free); stop at a smaller BENCH_SCALE_SIZES`,
        );
      }
    };

    /** Runs `work` in one transaction of the service's database; what it returns. */
    const inTransaction = async (
      service: SeededService,
      work: (client: pg.PoolClient) => Promise<number>,
    ) => {
      const client = await pools[service].connect();
      try {
        await client.query('BEGIN');
        const copied = await work(client);
        await client.query('COMMIT');
        return copied;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    };
    const timed = async <T>(service: SeededService, work: () => Promise<T>) => {
      const started = performance.now();
      const result = await work();
      seededMs[service] += performance.now() - started;
      return result;
    };
    /** Appends entries up to `target`; the writer's rate over the last APPEND_RATE_ENTRIES. */
    const recentAppends: { entries: number; ms: number }[] = [];
    const appendUpTo = async (target: number) => {
      while (entries < target) {
        const to = Math.min(target, entries + AUDIT_BATCH);
        const started = performance.now();
        await timed('audit', () => audit.append(entries, to));
        recentAppends.push({ entries: to - entries, ms: performance.now() - started });
        seededRows.audit += to - entries;
        entries = to;
        // Only the latest APPEND_RATE_ENTRIES count.
        while (
          recentAppends.length > 1 &&
          recentAppends.reduce((sum, a) => sum + a.entries, 0) - recentAppends[0]!.entries >=
            APPEND_RATE_ENTRIES
        ) {
          recentAppends.shift();
        }
        if (emptyLogAppendPerSecond === undefined && entries >= APPEND_RATE_ENTRIES) {
          emptyLogAppendPerSecond = appendRate();
        }
      }
    };
    const appendRate = () => {
      const total = recentAppends.reduce((sum, a) => sum + a.entries, 0);
      const ms = recentAppends.reduce((sum, a) => sum + a.ms, 0);
      return total / (ms / 1000);
    };

    const restart = async (...services: PlatformService[]) => {
      for (const service of services) await platform.restart(service);
    };
    const stop = async (...services: PlatformService[]) => {
      for (const service of services) await platform.processes[service]?.stop();
    };

    const steps: { beneficiaries: number; entries: number }[] = SIZES.map((size) => ({
      beneficiaries: size,
      entries: size,
    }));
    if (FULL_AUDIT_ENTRIES) {
      steps.push({ beneficiaries: Math.max(...SIZES), entries: FULL_AUDIT_ENTRIES });
    }
    for (const step of steps) {
      say(
        `---- growing to ${step.beneficiaries.toLocaleString('en')} beneficiaries and ${step.entries.toLocaleString('en')} audit entries`,
      );
      checkDisk(
        Math.max(0, step.beneficiaries - beneficiaries),
        Math.max(0, step.entries - entries),
      );
      // The services whose state the seeder changes behind them are stopped, and started
      // again on it (audit's writer holds the tree's frontier; the issuer caches its lists).
      await stop('vaccination-record', 'audit');
      audit.beginStep(step.entries);
      const stepStarted = performance.now();
      let lastSaid = performance.now();
      while (beneficiaries < step.beneficiaries || entries < step.entries) {
        const to = Math.min(step.beneficiaries, beneficiaries + CHUNK);
        const now = new Date();
        const from = beneficiaries;
        await Promise.all([
          from < to
            ? timed('identity', async () => {
                const rows = await identity.beneficiaries(from, to, now);
                return inTransaction('identity', (client) => copyRows(client, rows));
              }).then((copied) => (seededRows.identity += copied))
            : undefined,
          from < to
            ? timed('vaccination-record', () =>
                inTransaction('vaccination-record', (client) =>
                  records.seed(client, from, to, now),
                ),
              ).then((copied) => (seededRows['vaccination-record'] += copied))
            : undefined,
          appendUpTo(Math.min(step.entries, entries + CHUNK)),
        ]);
        beneficiaries = to;
        if (performance.now() - lastSaid > 30_000) {
          lastSaid = performance.now();
          say(
            `  ${beneficiaries.toLocaleString('en')} beneficiaries, ${entries.toLocaleString('en')} entries (${((performance.now() - stepStarted) / 1000).toFixed(0)} s into this step)`,
          );
        }
      }
      say(
        `  seeded in ${((performance.now() - stepStarted) / 1000).toFixed(0)} s; so far identity ${rate(seededRows.identity, seededMs.identity)}, ` +
          `vaccination-record ${rate(seededRows['vaccination-record'], seededMs['vaccination-record'])}, audit ${rate(seededRows.audit, seededMs.audit)} ` +
          '(each its own time; the three run side by side)',
      );
      for (const service of SEEDED_SERVICES) await pools[service].query('ANALYZE');
      await restart('vaccination-record', 'audit');
      say('  vaccination-record and audit started again on the seeded data');

      const tables = {} as Record<SeededService, TableSize[]>;
      const databases = {} as Record<SeededService, number>;
      for (const service of SEEDED_SERVICES) {
        tables[service] = await tableSizes(pools[service]);
        databases[service] = await databaseBytes(pools[service]);
        say(
          `  ${service}: ${gb(databases[service])}; ` +
            tables[service]
              .map(
                (t) =>
                  `${t.table} ${t.rows.toLocaleString('en')} rows ${t.rows > 0 ? Math.round(t.bytes / t.rows) : '-'} B/row`,
              )
              .join(', '),
        );
      }
      const calls = await timeCalls({
        world,
        population,
        cast: { ...cast, ...(await signedInStaff(world, cast.centreId)) },
        beneficiaries,
        entries,
        limits: LIMITS,
        say: (line) => say(`  ${line}`),
      });
      const appendPerSecond = appendRate();
      say(
        `  audit append (the service's writer and store, ${AUDIT_BATCH.toLocaleString('en')} a transaction): ${Math.round(appendPerSecond).toLocaleString('en')} entries/s over the last ${APPEND_RATE_ENTRIES.toLocaleString('en')}` +
          (emptyLogAppendPerSecond
            ? `; ${Math.round(emptyLogAppendPerSecond).toLocaleString('en')} on an empty log`
            : ''),
      );
      reports.push({ beneficiaries, entries, calls, appendPerSecond, tables, databases });
      printSummary(reports, emptyLogAppendPerSecond, say);
    }
  } finally {
    for (const pool of Object.values(pools)) await pool.end();
    await world.stop();
  }
}

/** Every call at every size so far: median and p99, and each as a ratio to the first size. */
function printSummary(
  reports: readonly SizeReport[],
  emptyLogAppendPerSecond: number | undefined,
  say: (line: string) => void,
): void {
  const first = reports[0];
  if (!first) return;
  const sizes = reports.map((r) =>
    r.beneficiaries === r.entries
      ? r.beneficiaries.toExponential(0)
      : `${r.beneficiaries.toExponential(0)}/${r.entries.toExponential(0)}`,
  );
  say(`==== summary: p50 / p99 in ms (×p50 of the first size) at ${sizes.join(', ')}`);
  for (const name of first.calls.keys()) {
    const base = first.calls.get(name);
    const cells = reports.map((report) => {
      const result = report.calls.get(name);
      if (!result || result.calls === 0) return 'failed'.padStart(26);
      const ratio = base && base.p50Ms > 0 ? ` (×${(result.p50Ms / base.p50Ms).toFixed(2)})` : '';
      return `${result.p50Ms.toFixed(1)} / ${result.p99Ms.toFixed(1)}${ratio}`.padStart(26);
    });
    say(`  ${name.padEnd(36)}${cells.join('')}`);
  }
  const appends = reports.map((r) => {
    const ratio = emptyLogAppendPerSecond
      ? ` (×${(emptyLogAppendPerSecond / r.appendPerSecond).toFixed(2)})`
      : '';
    return `${Math.round(r.appendPerSecond).toLocaleString('en')}/s${ratio}`.padStart(26);
  });
  say(`  ${'audit append, entries/s (×empty log)'.padEnd(36)}${appends.join('')}`);
}

runBenchmark(main);
