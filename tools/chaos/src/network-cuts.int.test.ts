// Scenario 4 of the chaos suite (issue 18): the network between one service and Kafka,
// and between one service and PostgreSQL, cut and restored under a steady mixed load.
// vaccination-record and audit reach Kafka, and vaccination-record reaches PostgreSQL,
// through fault proxies of the platform's (libs/testing's fault-proxy.ts; a Kafka proxy
// sits behind a broker listener of its own, advertised at the proxy, so no connection
// bypasses it). A cut is `refuse` (connections reset, new ones refused) or `blackhole`
// (a partition: connections go silent, new ones are never answered). In turn:
// vaccination-record ↔ Kafka refused, vaccination-record ↔ PostgreSQL refused, then
// partitioned, audit ↔ Kafka partitioned. The other services go on throughout.
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsTopic } from '@vaxguard/event-catalogue';
import { eventually, type CutMode, type FaultProxy, type World } from '@vaxguard/testing';
import { startChaosWorld } from './load';
import { CHAOS_FORM, CHAOS_FULL, runScenario } from './scenario';
import { tcpConnectionsOf } from './sockets';
import { printTable } from './table';
import type { RunResult } from './verify';

/** The audit log's consumer group (services/audit's AUDIT_LOG_CONSUMER_GROUP). */
const AUDIT_LOG_GROUP = 'audit-log';
/** How long each cut lasts: the full form's outage, or seconds in npm test. */
const CUT_MS = CHAOS_FULL ? CHAOS_FORM.outageMs : 2_500;
/** Between one cut's end and the next one's start. */
const BETWEEN_CUTS_MS = CHAOS_FULL ? 15_000 : 1_500;
/** The load after the last cut, for every kind of call to succeed again. */
const AFTER_MS = CHAOS_FULL ? CHAOS_FORM.afterMs : 5_000;
/** What was in flight when a cut began may still land this long into it. */
const IN_FLIGHT_MS = 1_000;

/** Offsets read at the start and the end of a cut (after IN_FLIGHT_MS). */
interface CutObservation {
  readonly label: string;
  /** What the cut-off service produces or consumes: must not move. */
  readonly cutOff: readonly [number, number];
  /** What another service produces meanwhile: must move. */
  readonly others: readonly [number, number];
}

describe('chaos: network cuts between one service and Kafka or PostgreSQL', () => {
  let world: World;
  let admin: Admin;
  const results: RunResult[] = [];

  beforeAll(async () => {
    world = await startChaosWorld({
      faultProxies: { postgres: ['vaccination-record'], kafka: ['vaccination-record', 'audit'] },
    });
    admin = new Kafka({
      clientId: 'chaos-observer',
      brokers: [...world.platform.kafka.brokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
  });

  afterAll(async () => {
    if (results.length > 0) printTable('network cuts', results);
    await admin?.disconnect();
    await world?.stop();
  });

  const proxy = (kind: 'postgres' | 'kafka', service: 'vaccination-record' | 'audit') => {
    const found = world.platform.proxies[kind][service];
    if (!found) throw new Error(`${service} has no ${kind} proxy`);
    return found;
  };

  /** Messages on a topic so far (the sum of its partitions' ends). */
  const published = async (topic: string) =>
    (await admin.fetchTopicOffsets(topic)).reduce((sum, { high }) => sum + Number(high), 0);
  /** Messages of a topic a consumer group has committed as consumed. */
  const consumed = async (groupId: string, topic: string) =>
    (await admin.fetchOffsets({ groupId, topics: [topic] }))
      .flatMap(({ partitions }) => partitions)
      .reduce((sum, { offset }) => sum + Math.max(0, Number(offset)), 0);

  /** Cuts the proxy for the form's outage, reading both offsets through it, and restores it. */
  async function cutAndWatch(
    label: string,
    cut: FaultProxy,
    mode: CutMode,
    cutOff: () => Promise<number>,
    others: () => Promise<number>,
  ): Promise<CutObservation> {
    await cut.cut(mode);
    try {
      await sleep(IN_FLIGHT_MS);
      const first = [await cutOff(), await others()] as const;
      await sleep(CUT_MS - IN_FLIGHT_MS);
      const last = [await cutOff(), await others()] as const;
      return { label, cutOff: [first[0], last[0]], others: [first[1], last[1]] };
    } finally {
      await cut.restore();
    }
  }

  it('vaccination-record and audit hold every connection to PostgreSQL and Kafka through their proxies, and no other service does', () => {
    const { platform } = world;
    const pid = (service: 'otp' | 'identity' | 'vaccination-record' | 'audit') => {
      const found = platform.processes[service]?.child.pid;
      if (!found) throw new Error(`no ${service} process`);
      return found;
    };
    const peers = (service: Parameters<typeof pid>[0]) =>
      tcpConnectionsOf(pid(service)).map(({ remote }) => remote);
    const postgres = new URL(platform.databases.otp ?? '').host;
    const broker = platform.kafka.brokers[0] ?? '';
    const records = {
      postgres: proxy('postgres', 'vaccination-record'),
      kafka: proxy('kafka', 'vaccination-record'),
    };
    const audit = proxy('kafka', 'audit');
    const direct = [postgres, broker, records.postgres.target, records.kafka.target, audit.target];

    expect(peers('vaccination-record')).toEqual(
      expect.arrayContaining([records.postgres.address, records.kafka.address]),
    );
    expect(peers('vaccination-record').filter((peer) => direct.includes(peer))).toEqual([]);
    expect(peers('audit')).toEqual(expect.arrayContaining([audit.address, postgres]));
    expect(peers('audit').filter((peer) => [broker, audit.target].includes(peer))).toEqual([]);
    const proxies = [records.postgres.address, records.kafka.address, audit.address];
    for (const service of ['otp', 'identity'] as const) {
      expect(peers(service)).toEqual(expect.arrayContaining([postgres, broker]));
      expect(peers(service).filter((peer) => proxies.includes(peer))).toEqual([]);
    }
  });

  it(`under load, cut in turn for ${CUT_MS / 1_000} s each: vaccination-record ↔ Kafka, vaccination-record ↔ PostgreSQL (refused, then partitioned), audit ↔ Kafka; nothing acknowledged lost or doubled, every refusal retryable, each recovery measured`, async () => {
    const identityEvents = eventsTopic('identity');
    const recordsEvents = eventsTopic('vaccination-record');
    const observations: CutObservation[] = [];
    const result = await runScenario(world, {
      scenario: `network cuts ${CUT_MS / 1_000} s`,
      afterMs: AFTER_MS,
      inject: async (faults) => {
        // Doses recorded and published before the first cut, so that what stands still
        // through it had been moving.
        await eventually(async () => expect(await published(recordsEvents)).toBeGreaterThan(0), {
          timeoutMs: 60_000,
          intervalMs: 200,
        });
        await faults.fault('vaccination-record ↔ Kafka refused', async () => {
          observations.push(
            await cutAndWatch(
              "vaccination-record's events published",
              proxy('kafka', 'vaccination-record'),
              'refuse',
              () => published(recordsEvents),
              () => published(identityEvents),
            ),
          );
        });
        await sleep(BETWEEN_CUTS_MS);
        for (const mode of ['refuse', 'blackhole'] as const) {
          await faults.fault(`vaccination-record ↔ PostgreSQL ${mode}`, async () => {
            await proxy('postgres', 'vaccination-record').cut(mode);
            await sleep(CUT_MS);
            await proxy('postgres', 'vaccination-record').restore();
          });
          await sleep(BETWEEN_CUTS_MS);
        }
        await faults.fault('audit ↔ Kafka partitioned', async () => {
          observations.push(
            await cutAndWatch(
              "identity's events the audit log took in",
              proxy('kafka', 'audit'),
              'blackhole',
              () => consumed(AUDIT_LOG_GROUP, identityEvents),
              () => published(identityEvents),
            ),
          );
        });
      },
    });
    results.push(result);
    console.log(
      observations
        .map(
          ({ label, cutOff, others }) =>
            `${label} during the cut: ${cutOff[0]} -> ${cutOff[1]} (identity's events published meanwhile ${others[0]} -> ${others[1]})`,
        )
        .join('\n'),
    );
    // The cuts were real: what the cut-off service produces or consumes stood still while
    // the others' traffic went on.
    for (const { cutOff, others } of observations) {
      // (Doses were recorded and published before the cut, and the audit log had taken
      // events in: what stands still had been moving.)
      expect(cutOff[0]).toBeGreaterThan(0);
      expect(cutOff[1]).toBe(cutOff[0]);
      expect(others[1]).toBeGreaterThan(others[0]);
    }
    // … and went on once it was restored.
    expect(observations).toHaveLength(2);
    expect(await published(recordsEvents)).toBeGreaterThan(observations[0]?.cutOff[1] ?? 0);
    expect(await consumed(AUDIT_LOG_GROUP, identityEvents)).toBeGreaterThan(
      observations[1]?.cutOff[1] ?? 0,
    );
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.faultRecoveries?.every((recovery) => recovery.ms !== undefined)).toBe(true);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 900_000);
});
