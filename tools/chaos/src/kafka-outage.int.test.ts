// Scenario 1 of the chaos suite (issue 18): Kafka stopped under a steady mixed load, then
// started again. Writes go on into the services' outboxes while the broker is away (or
// are refused UNAVAILABLE); nothing acknowledged is lost or applied twice once it is
// back, and the audit log takes in every event exactly once.
import { setTimeout as sleep } from 'node:timers/promises';
import type { World } from '@vaxguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChaosWorld } from './load';
import { CHAOS_FORM, runScenario } from './scenario';
import { printTable } from './table';
import type { RunResult } from './verify';

describe('chaos: Kafka outage', () => {
  let world: World;
  const results: RunResult[] = [];

  beforeAll(async () => {
    world = await startChaosWorld();
  });

  afterAll(async () => {
    if (results.length > 0) printTable('Kafka outage', results);
    await world?.stop();
  });

  it(`Kafka stopped for ${CHAOS_FORM.outageMs / 1_000} s under load, then started: nothing acknowledged lost or doubled, every refusal retryable, recovery measured`, async () => {
    const result = await runScenario(world, {
      scenario: `Kafka stopped ${CHAOS_FORM.outageMs / 1_000} s`,
      inject: async () => {
        await world.platform.kafka.pause();
        await sleep(CHAOS_FORM.outageMs);
        await world.platform.kafka.resume();
      },
    });
    results.push(result);
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 600_000);
});
