// Scenario 2 of the chaos suite (issue 18): each service in turn killed with SIGKILL in
// the middle of the load (mid-transaction, its outbox and consumers mid-batch) and
// started again on the same address. What a killed process acknowledged it had
// committed; what it had not, the client was told UNAVAILABLE (or ran out its deadline)
// and retried with the same key.
import { setTimeout as sleep } from 'node:timers/promises';
import type { World } from '@vaxguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChaosWorld } from './load';
import { CHAOS_FORM, CHAOS_FULL, runScenario } from './scenario';
import { printTable } from './table';
import type { RunResult } from './verify';

const SERVICES = ['otp', 'identity', 'vaccination-record', 'audit'] as const;
/** The load between one service's restart and the next one's kill. */
const BETWEEN_KILLS_MS = CHAOS_FULL ? 15_000 : 2_500;

describe('chaos: services killed', () => {
  let world: World;
  const results: RunResult[] = [];

  beforeAll(async () => {
    world = await startChaosWorld();
  });

  afterAll(async () => {
    if (results.length > 0) printTable('services killed with SIGKILL', results);
    await world?.stop();
  });

  it('each service in turn killed with SIGKILL under load and restarted: nothing acknowledged lost or doubled, every refusal retryable, each recovery measured', async () => {
    const result = await runScenario(world, {
      scenario: 'SIGKILL each service in turn',
      inject: async (faults) => {
        for (const [i, service] of SERVICES.entries()) {
          if (i > 0) await sleep(BETWEEN_KILLS_MS);
          await faults.fault(`${service} killed`, async () => {
            await world.platform.restart(service, 'SIGKILL');
          });
        }
      },
    });
    results.push(result);
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.faultRecoveries?.every((recovery) => recovery.ms !== undefined)).toBe(true);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 900_000);
});
