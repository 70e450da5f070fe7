// Scenario 6 of the chaos suite (issue 23): PostgreSQL as a primary and a standby with
// automatic failover (pg_auto_failover, libs/testing's postgres-pair), every service's
// DATABASE_URL naming both nodes (libs/db follows the one that takes writes). Under the
// steady mixed load (load.ts) the primary's container is killed with SIGKILL: the monitor
// promotes the standby, the services' pools find it, and the load's ledger is checked
// (verify.ts): nothing acknowledged lost (a write is acknowledged only once the standby
// has it: synchronous replication), nothing doubled, every refusal retryable (the writes
// between the kill and the promotion are refused UNAVAILABLE), recovery measured.
//
// The short form (npm test) is one kill; `npx nx run chaos:full` (CHAOS_FULL=1) runs the
// load longer around it and prints the suite's table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PairNode, PostgresPairFixture, World } from '@vaxguard/testing';
import type { CallKind } from './ledger';
import { startChaosWorld } from './load';
import { CHAOS_FORM, CHAOS_FULL, runScenario } from './scenario';
import { printTable } from './table';
import type { RunResult } from './verify';

const SERVICES = ['otp', 'identity', 'vaccination-record', 'audit'] as const;
const TIMEOUT_MS = CHAOS_FULL ? 600_000 : 240_000;
/** The pair (a monitor, a primary, a standby's copy) starts beside Kafka, then the services. */
const START_TIMEOUT_MS = 300_000;
/** Calls that write to a service's database: the first acknowledged after the kill ends the outage for writes. */
const WRITES: ReadonlySet<CallKind> = new Set([
  'otp.generate',
  'register',
  'consent',
  'record-dose',
]);

const seconds = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;

describe('chaos: PostgreSQL loses its primary under load (primary and standby, automatic failover)', () => {
  let world: World;
  let pair: PostgresPairFixture;
  const results: RunResult[] = [];

  beforeAll(async () => {
    world = await startChaosWorld({ postgres: 'pair' });
    const started = world.platform.postgresPair;
    if (!started) throw new Error('the platform did not start on the PostgreSQL pair');
    pair = started;
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    if (results.length > 0) printTable('PostgreSQL primary killed, standby promoted', results);
    await world?.stop();
  });

  it(
    '6. the primary killed with SIGKILL under load: the standby is promoted and the services follow it; nothing acknowledged lost or doubled, every refusal retryable, time to recovery measured',
    async () => {
      const before = await pair.primary();
      expect(before?.name).toBe('a');
      const pids = SERVICES.map((service) => world.platform.processes[service]?.child.pid);
      let killed: PairNode | undefined;
      let promoted: PairNode | undefined;
      let promotion: Promise<unknown> = Promise.resolve();
      const at = { kill: 0, killed: 0, promoted: 0 };
      const result = await runScenario(world, {
        scenario: 'PostgreSQL primary killed (failover)',
        // The fault is the kill; the table's recovery runs from it to every kind of call
        // succeeding again, the standby's promotion included.
        inject: async () => {
          const kill = await pair.killPrimary();
          at.kill = kill.at;
          at.killed = Date.now();
          killed = kill.node;
          promotion = pair.waitForPrimary({ not: kill.node }).then((next) => {
            promoted = next;
            at.promoted = Date.now();
          });
        },
        verify: {
          // Read back on the node that took over (the checker's plain client takes one host).
          databases: {
            get records() {
              if (!promoted) throw new Error('no node was promoted');
              return pair.urlOn(promoted, world.platform.databases['vaccination-record'] ?? '');
            },
          },
        },
      });
      await promotion;
      // The first write any service acknowledged for a call made after the kill.
      const firstWriteMs =
        Math.min(...[...WRITES].map((kind) => result.recoveryMs[kind] ?? Infinity)) +
        (at.killed - at.kill);
      results.push({
        ...result,
        notes: [
          ...result.notes,
          `failover: primary ${killed?.name} killed; ${promoted?.name} took writes ${seconds(at.promoted - at.kill)} after the kill; the first write acknowledged ${seconds(firstWriteMs)} after it`,
        ],
      });
      console.log(await pair.state());

      expect(killed?.name).toBe('a');
      // The standby took over: the former standby is the primary now.
      expect(promoted?.name).toBe('b');
      expect(await pair.primary()).toBe(promoted);
      // No service exited or was replaced: each lived through the failover.
      expect(SERVICES.map((service) => world.platform.processes[service]?.child.pid)).toEqual(pids);
      expect(result.problems).toEqual([]);
      expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
      expect(result.lost).toBe(0);
      expect(result.duplicated).toBe(0);
      expect(Number.isFinite(firstWriteMs)).toBe(true);
    },
    TIMEOUT_MS,
  );
});
