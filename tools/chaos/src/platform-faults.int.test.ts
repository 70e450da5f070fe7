// Scenarios 1 to 3 of the chaos suite (issue 18), each under the steady mixed load
// (load.ts) and checked against its ledger (verify.ts), on one platform that they share
// (each its own staff and citizens), so that npm test pays for one start:
//
//   1. Kafka stopped, then started: writes go on into the services' outboxes (or are
//      refused UNAVAILABLE), and the audit log takes in every event once it is back.
//   2. PostgreSQL, where every service keeps its state and outbox, restarted (the
//      container: every connection dropped, the server away for seconds), and
//   3. paused (docker pause: connections hang, not refused). The services refuse what
//      they cannot do with a status a client retries, stay up, and recover by themselves.
//   4. Each service in turn killed with SIGKILL mid-load (mid-transaction, its outbox and
//      consumers mid-batch) and started again on the same address: what it acknowledged
//      it had committed; what it had not, the client retries with the same key.
//
// The short form (npm test) holds each fault for seconds; `npx nx run chaos:full`
// (CHAOS_FULL=1) for 60 seconds, with longer load around it, and prints the table.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { World } from '@vaxguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Ledger } from './ledger';
import { prepareActors, startChaosWorld, startLoad } from './load';
import { CHAOS_FORM, CHAOS_FULL, runScenario } from './scenario';
import { printTable } from './table';
import { verifyRun, type RunResult } from './verify';

const SERVICES = ['otp', 'identity', 'vaccination-record', 'audit'] as const;
/** The load between one service's restart and the next one's kill. */
const BETWEEN_KILLS_MS = CHAOS_FULL ? 15_000 : 1_500;
const TIMEOUT_MS = CHAOS_FULL ? 900_000 : 300_000;

describe('chaos: Kafka, PostgreSQL and the services themselves fail under load', () => {
  let world: World;
  const results: RunResult[] = [];

  /** Each service's process id now. */
  function processIds(): Record<string, number | undefined> {
    return Object.fromEntries(
      SERVICES.map((service) => [service, world.platform.processes[service]?.child.pid]),
    );
  }

  /** The services whose process has exited, with the end of what it wrote. */
  function exited(): string[] {
    return SERVICES.filter((service) => {
      const child = world.platform.processes[service]?.child;
      return !child || child.exitCode !== null || child.signalCode !== null;
    }).map((service) => `${service}: ${world.platform.processes[service]?.output().slice(-2_000)}`);
  }

  /** With CHAOS_LEDGER_DIR, what a process wrote before it was killed (the ledger's logs are the new one's). */
  async function keepOutput(name: string, output: string): Promise<void> {
    const dir = process.env['CHAOS_LEDGER_DIR'];
    if (dir) await writeFile(join(dir, `${name}.log`), output);
  }

  /** The checks every scenario's result is held to. */
  function expectHeld(result: RunResult): void {
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }

  beforeAll(async () => {
    // A restart of PostgreSQL's container keeps the data only off tmpfs (the fixture's
    // restartable form, chosen through the environment the platform's fixture reads).
    process.env['TEST_POSTGRES_RESTARTABLE'] = '1';
    try {
      world = await startChaosWorld();
    } finally {
      delete process.env['TEST_POSTGRES_RESTARTABLE'];
    }
  });

  afterAll(async () => {
    if (results.length > 0) printTable('Kafka, PostgreSQL and services failing', results);
    await world?.stop();
  });

  /**
   * One fault that every service lives through: the scenario run, the result kept for
   * the table, no process exited or replaced, and the result held to every check.
   */
  async function livedThrough(scenario: string, inject: () => Promise<void>): Promise<void> {
    const before = processIds();
    const result = await runScenario(world, { scenario, inject });
    results.push(result);
    expect(exited()).toEqual([]);
    expect(processIds()).toEqual(before);
    expectHeld(result);
  }

  /** An outage of CHAOS_FORM.outageMs between `stop` and `start`, which always runs. */
  const outage = (stop: () => Promise<void>, start: () => Promise<void>) => async () => {
    await stop();
    try {
      await sleep(CHAOS_FORM.outageMs);
    } finally {
      await start();
    }
  };

  it(
    `1. Kafka stopped for ${CHAOS_FORM.outageMs / 1_000} s under load, then started: no service crashes, nothing acknowledged lost or doubled, every refusal retryable, recovery measured`,
    () =>
      livedThrough(
        `Kafka stopped ${CHAOS_FORM.outageMs / 1_000} s`,
        outage(
          () => world.platform.kafka.pause(),
          () => world.platform.kafka.resume(),
        ),
      ),
    TIMEOUT_MS,
  );

  it(
    '2. PostgreSQL restarted under load: no service crashes, nothing acknowledged lost or doubled, every refusal retryable, recovery measured',
    () => livedThrough('PostgreSQL container restarted', () => world.platform.postgres.restart()),
    TIMEOUT_MS,
  );

  it(
    `3. PostgreSQL paused ${CHAOS_FORM.outageMs / 1_000} s under load (connections hang): no service crashes, nothing acknowledged lost or doubled, every refusal retryable, recovery measured`,
    () =>
      livedThrough(
        `PostgreSQL paused ${CHAOS_FORM.outageMs / 1_000} s`,
        outage(
          () => world.platform.postgres.pause(),
          () => world.platform.postgres.unpause(),
        ),
      ),
    TIMEOUT_MS,
  );

  it(
    '4. each service in turn killed with SIGKILL under load and restarted: nothing acknowledged lost or doubled, every refusal retryable, each recovery measured',
    async () => {
      const result = await runScenario(world, {
        scenario: 'SIGKILL each service in turn',
        inject: async (faults) => {
          for (const [i, service] of SERVICES.entries()) {
            if (i > 0) await sleep(BETWEEN_KILLS_MS);
            await faults.fault(`${service} killed`, async () => {
              const killed = world.platform.processes[service];
              await world.platform.restart(service, 'SIGKILL');
              await keepOutput(`${service}-before-sigkill`, killed?.output() ?? '');
            });
          }
        },
      });
      results.push(result);
      expect(result.faultRecoveries?.map((recovery) => recovery.ms !== undefined)).toEqual(
        SERVICES.map(() => true),
      );
      expectHeld(result);
    },
    TIMEOUT_MS,
  );

  it(
    "5. the checks are not blind: a dose deleted behind the platform's back is lost, one recorded twice for a beneficiary is duplicated",
    async () => {
      const actors = await prepareActors(world);
      const load = startLoad(world, actors, { callsPerSecond: CHAOS_FORM.callsPerSecond });
      let ledger: Ledger;
      try {
        await load.acknowledgedMore(CHAOS_FORM.warmupCalls);
        await load.everyKindAcknowledgedSince(Date.now(), CHAOS_FORM.recoveryWaitMs);
      } finally {
        ledger = await load.stop();
      }
      const [gone, doubled] = ledger.acknowledged('record-dose');
      const goneDose = gone?.outcome.ids.doseId ?? '';
      const doubledDose = doubled?.outcome.ids.doseId ?? '';
      expect(goneDose).not.toBe('');
      expect(doubledDose).not.toBe('');
      const records = new pg.Client({
        connectionString: world.platform.databases['vaccination-record'],
      });
      await records.connect();
      try {
        await records.query('DELETE FROM dose_versions WHERE dose_id = $1', [goneDose]);
        await records.query('DELETE FROM doses WHERE dose_id = $1', [goneDose]);
        await records.query(
          `INSERT INTO doses (dose_id, beneficiary_ref, client_request_id, vaccine_code, dose_number, series,
             batch_number, administered_on, centre_id, vaccinator_id, birth_year, recorded_at, version)
           SELECT dose_id || 'x', beneficiary_ref, client_request_id || '-again', vaccine_code, dose_number,
             series, batch_number, administered_on, centre_id, vaccinator_id, birth_year, recorded_at, version
           FROM doses WHERE dose_id = $1`,
          [doubledDose],
        );
      } finally {
        await records.end();
      }
      const result = await verifyRun({
        world,
        actors,
        ledger,
        fault: { start: Date.now(), end: Date.now() },
        scenario: 'checks: a dose deleted, one doubled',
        settleMs: 30_000,
      });
      expect(result.lost).toBeGreaterThanOrEqual(1);
      expect(result.duplicated).toBeGreaterThanOrEqual(1);
      expect(result.problems).toEqual(
        expect.arrayContaining([
          expect.stringContaining(`dose ${goneDose}`),
          expect.stringMatching(/^beneficiary bnf_\w+ has 2 doses/),
        ]),
      );
    },
    TIMEOUT_MS,
  );
});
