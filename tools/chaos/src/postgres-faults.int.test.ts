// Scenario 3 of the chaos suite (issue 18): PostgreSQL, which every service keeps its
// state and its outbox in, restarted (the container: every connection dropped, the
// server away for seconds), and separately paused (docker pause: connections hang, not
// refused). The services must refuse what they cannot do with a status a client
// retries, stay up, and take up their work again by themselves.
import { setTimeout as sleep } from 'node:timers/promises';
import type { World } from '@vaxguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChaosWorld } from './load';
import { CHAOS_FORM, runScenario } from './scenario';
import { printTable } from './table';
import type { RunResult } from './verify';

const SERVICES = ['otp', 'identity', 'vaccination-record', 'audit'] as const;

describe('chaos: PostgreSQL restarted and paused', () => {
  let world: World;
  const results: RunResult[] = [];

  /** Every service still the process the scenario began with: none crashed. */
  function processIds(): Record<string, number | undefined> {
    return Object.fromEntries(
      SERVICES.map((service) => [service, world.platform.processes[service]?.child.pid]),
    );
  }
  function exited(): string[] {
    return SERVICES.filter((service) => {
      const child = world.platform.processes[service]?.child;
      return !child || child.exitCode !== null || child.signalCode !== null;
    }).map((service) => `${service}: ${world.platform.processes[service]?.output().slice(-2_000)}`);
  }

  beforeAll(async () => {
    // Restarting the container keeps the data only off tmpfs (the fixture's option).
    process.env['TEST_POSTGRES_RESTARTABLE'] = '1';
    try {
      world = await startChaosWorld();
    } finally {
      delete process.env['TEST_POSTGRES_RESTARTABLE'];
    }
  });

  afterAll(async () => {
    if (results.length > 0) printTable('PostgreSQL restarted and paused', results);
    await world?.stop();
  });

  it('PostgreSQL restarted under load: no service crashes, nothing acknowledged lost or doubled, every refusal retryable, recovery measured', async () => {
    const before = processIds();
    const result = await runScenario(world, {
      scenario: 'PostgreSQL container restarted',
      inject: () => world.platform.postgres.restart(),
    });
    results.push(result);
    expect(exited()).toEqual([]);
    expect(processIds()).toEqual(before);
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 900_000);

  it(`PostgreSQL paused ${CHAOS_FORM.outageMs / 1_000} s under load (connections hang): no service crashes, nothing acknowledged lost or doubled, every refusal retryable, recovery measured`, async () => {
    const before = processIds();
    const result = await runScenario(world, {
      scenario: `PostgreSQL paused ${CHAOS_FORM.outageMs / 1_000} s`,
      inject: async () => {
        await world.platform.postgres.pause();
        try {
          await sleep(CHAOS_FORM.outageMs);
        } finally {
          await world.platform.postgres.unpause();
        }
      },
    });
    results.push(result);
    expect(exited()).toEqual([]);
    expect(processIds()).toEqual(before);
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 900_000);
});
