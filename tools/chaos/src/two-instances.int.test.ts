// Scenario 5 of the chaos suite (issue 18): two instances of vaccination-record at once
// (same database, same consumer groups, each its own process and port), the load spread
// over both. The one that holds the outbox relay (its leadership lock) is frozen
// (SIGSTOP) until rows both instances wrote wait in the outbox for it, then killed with
// SIGKILL while it holds them and its share of the centres consumer group's partitions.
// The survivor must take over the relay and the partitions: nothing acknowledged lost,
// nothing published or applied twice, every refusal retryable, recovery measured.
import { setTimeout as sleep } from 'node:timers/promises';
import { AssignerProtocol, Kafka, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type ServiceProcess, type World } from '@vaxguard/testing';
import { startChaosWorld } from './load';
import { CHAOS_FORM, CHAOS_FULL, runScenario } from './scenario';
import { tcpConnectionsOf } from './sockets';
import { printTable } from './table';
import type { RunResult } from './verify';

const SERVICE = 'vaccination-record';
/** vaccination-record's consumer group of identity's centre announcements. */
const CENTRES_GROUP = 'vaccination-record-centres';
/** Centres announced after the kill: some fall on the partitions the killed instance held. */
const CENTRES_AFTER_KILL = 4;

describe('chaos: two instances of vaccination-record, the one relaying killed', () => {
  let world: World;
  let second: ServiceProcess;
  let admin: Admin;
  let records: pg.Client;
  const results: RunResult[] = [];

  beforeAll(async () => {
    world = await startChaosWorld();
    second = await world.platform.startInstance(SERVICE);
    admin = new Kafka({
      clientId: 'chaos-observer',
      brokers: [...world.platform.kafka.brokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    records = new pg.Client({ connectionString: world.platform.databases[SERVICE] });
    await records.connect();
  });

  afterAll(async () => {
    if (results.length > 0) printTable('two instances, one killed', results);
    await records?.end();
    await admin?.disconnect();
    await world?.stop();
  });

  const count = async (sql: string, values: unknown[] = []) =>
    (await records.query<{ n: number }>(sql, values)).rows[0]?.n ?? 0;

  /** Partitions each member of the centres group holds. */
  async function centresGroupShares(): Promise<number[]> {
    const { groups } = await admin.describeGroups([CENTRES_GROUP]);
    return (groups[0]?.members ?? []).map((member) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return Object.values(decoded?.assignment ?? {}).reduce((n, parts) => n + parts.length, 0);
    });
  }

  /**
   * The instance whose relay holds the leadership: the session that took the lock then
   * LISTENs on the outbox (the others give theirs up), found by its client port among
   * each process's connections.
   */
  async function relayLeader(instances: Record<'first' | 'second', ServiceProcess>) {
    const { rows } = await records.query<{ client_port: number }>(
      `SELECT client_port FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN outbox'`,
    );
    const ports = rows.map((row) => `:${row.client_port}`);
    const holders = (['first', 'second'] as const).filter((name) => {
      const pid = instances[name].child.pid;
      return (
        pid !== undefined &&
        tcpConnectionsOf(pid).some(({ local }) => ports.some((port) => local.endsWith(port)))
      );
    });
    if (holders.length !== 1) throw new Error(`relay leaders: ${holders.join(', ') || 'none'}`);
    return holders[0] as 'first' | 'second';
  }

  it(`the relaying instance killed with SIGKILL under load while it holds outbox rows and consumer partitions; the other alone ${CHAOS_FORM.outageMs / 1_000} s: nothing acknowledged lost or doubled, every refusal retryable, relay and partitions taken over`, async () => {
    const first = world.platform.processes[SERVICE];
    if (!first) throw new Error('no vaccination-record');
    const instances = { first, second };
    // Both instances consume: each holds partitions of the centres group.
    await eventually(
      async () => {
        const shares = await centresGroupShares();
        expect(shares).toHaveLength(2);
        expect(shares.every((partitions) => partitions > 0)).toBe(true);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const atKill = { victim: '', pendingRows: 0, groupShares: [] as number[] };
    let takeover: Promise<{ relayMs: number; partitionsMs: number }> | undefined;

    const result = await runScenario(world, {
      scenario: 'two instances, relay leader SIGKILLed',
      load: { addresses: { [SERVICE]: [first.address, second.address] } },
      afterMs: CHAOS_FULL ? CHAOS_FORM.afterMs : 5_000,
      inject: async () => {
        const victim = await relayLeader(instances);
        // Frozen, it relays nothing while both instances go on writing to the outbox (the
        // survivor cannot take the relay: the frozen one's session holds the lock).
        instances[victim].child.kill('SIGSTOP');
        await eventually(
          async () =>
            expect(
              await count('SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL'),
            ).toBeGreaterThan(0),
          { timeoutMs: 30_000, intervalMs: 50 },
        );
        atKill.victim = victim;
        atKill.groupShares = await centresGroupShares();
        atKill.pendingRows = await count(
          'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL',
        );
        const writtenBeforeKill = await count('SELECT coalesce(max(id), 0)::int AS n FROM outbox');
        await instances[victim].stop('SIGKILL');
        const killedAt = Date.now();
        // New centres: their announcements reach the survivor once the group has given it
        // the dead instance's partitions.
        const centres: string[] = [];
        for (let i = 0; i < CENTRES_AFTER_KILL; i++) centres.push(await world.centre());
        takeover = (async () => {
          await eventually(
            async () =>
              expect(
                await count(
                  'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL AND id <= $1',
                  [writtenBeforeKill],
                ),
              ).toBe(0),
            { timeoutMs: 120_000, intervalMs: 100 },
          );
          const relayMs = Date.now() - killedAt;
          await eventually(
            async () =>
              expect(
                await count('SELECT count(*)::int AS n FROM centres WHERE centre_id = ANY($1)', [
                  centres,
                ]),
              ).toBe(centres.length),
            { timeoutMs: 120_000, intervalMs: 200 },
          );
          return { relayMs, partitionsMs: Date.now() - killedAt };
        })();
        await sleep(CHAOS_FORM.outageMs);
        // A replacement for the platform's own instance, on its address (the checks call
        // there); the second instance, if it was the one, stays dead.
        if (victim === 'first') await world.platform.restart(SERVICE);
      },
    });
    results.push(result);
    const taken = await takeover;
    console.log(
      `killed the ${atKill.victim} instance (the relay's leader) with ${atKill.pendingRows} outbox rows unsent and the centres group's partitions shared ${atKill.groupShares.join('/')}; ` +
        `the survivor published every row written before the kill ${((taken?.relayMs ?? 0) / 1_000).toFixed(1)} s after it, ` +
        `and applied the centres announced after it ${((taken?.partitionsMs ?? 0) / 1_000).toFixed(1)} s after it`,
    );
    expect(atKill.pendingRows).toBeGreaterThan(0);
    expect(atKill.groupShares).toHaveLength(2);
    expect(taken).toBeDefined();
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.recoveryMaxMs).toBeDefined();
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 900_000);
});
