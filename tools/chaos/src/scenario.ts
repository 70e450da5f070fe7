// One scenario run, the same for every fault: fresh staff, the load started and seen
// working, the fault injected (its window noted), the load kept on after it, stopped,
// and the platform checked against the ledger.
//
//   const result = await runScenario(world, {
//     scenario: 'Kafka stopped 60 s',
//     inject: async () => {
//       await world.platform.kafka.pause();
//       await sleep(CHAOS_FORM.outageMs);
//       await world.platform.kafka.resume();
//     },
//   });
//   results.push(result);
//   expect(result.problems).toEqual([]);
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { World } from '@vaxguard/testing';
import { prepareActors, startLoad, type LoadOptions } from './load';
import { verifyRun, type RunResult, type VerifyOptions } from './verify';

/**
 * The short form (npm test: outages of seconds) or the full form (`npx nx run
 * chaos:full`, CHAOS_FULL=1: the 60-second outages), and how long the load runs
 * around the fault.
 */
export const CHAOS_FULL = process.env['CHAOS_FULL'] === '1';
export const CHAOS_FORM = CHAOS_FULL
  ? {
      /** A fault that lasts: Kafka stopped, PostgreSQL paused. */
      outageMs: 60_000,
      /** Acknowledged calls the load must have made before the fault. */
      warmupCalls: 100,
      /** How long the load goes on once every kind of call succeeded again after the fault. */
      afterMs: 30_000,
      /** The longest the load waits for every kind of call to succeed again. */
      recoveryWaitMs: 180_000,
      callsPerSecond: 30,
    }
  : {
      outageMs: 4_000,
      warmupCalls: 20,
      afterMs: 2_000,
      recoveryWaitMs: 60_000,
      callsPerSecond: 25,
    };

/** Where a scenario that injects several faults in turn notes each one's window. */
export interface FaultLog {
  /** Runs one fault (resolving when it is over) and notes its window under `label`. */
  fault(label: string, inject: () => Promise<void>): Promise<void>;
}

export interface ScenarioOptions {
  /** The scenario's name in the table. */
  readonly scenario: string;
  /**
   * Injects the fault and resolves once it is over (the platform's part is then
   * recovery). A scenario of several faults in turn runs each through `faults.fault`,
   * and gets each one's recovery; the whole run is then the fault window.
   */
  readonly inject: (faults: FaultLog) => Promise<void>;
  /** How long the load goes on once it recovered from the fault (default CHAOS_FORM.afterMs). */
  readonly afterMs?: number;
  readonly load?: LoadOptions;
  readonly verify?: Pick<VerifyOptions, 'settleMs' | 'databases'>;
}

/** Runs one scenario on a world; see the file's header. Problems are in the result. */
export async function runScenario(world: World, options: ScenarioOptions): Promise<RunResult> {
  const actors = await prepareActors(world);
  const load = startLoad(world, actors, {
    callsPerSecond: CHAOS_FORM.callsPerSecond,
    ...options.load,
  });
  let start = Date.now();
  let end = start;
  const windows: { label: string; start: number; end: number }[] = [];
  const faults: FaultLog = {
    async fault(label, inject) {
      const faultStart = Date.now();
      await inject();
      windows.push({ label, start: faultStart, end: Date.now() });
    },
  };
  const began = Date.now();
  let stopping = began;
  try {
    await load.acknowledgedMore(CHAOS_FORM.warmupCalls);
    start = Date.now();
    await options.inject(faults);
    end = Date.now();
    // The load goes on until each kind of call succeeded again (the first success is the
    // recovery; one that does not come is a problem the checks name), then a while more.
    await load.everyKindAcknowledgedSince(end, CHAOS_FORM.recoveryWaitMs);
    await sleep(options.afterMs ?? CHAOS_FORM.afterMs);
  } finally {
    stopping = Date.now();
    await load.stop();
  }
  const verifying = Date.now();
  const result = await verifyRun({
    world,
    actors,
    ledger: load.ledger,
    fault: { start, end },
    ...(windows.length > 0 ? { faults: windows } : {}),
    scenario: options.scenario,
    ...options.verify,
  });
  const seconds = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;
  // CHAOS_LEDGER_DIR keeps each run's ledger, for reading what a problem was about.
  const ledgerDir = process.env['CHAOS_LEDGER_DIR'];
  if (ledgerDir) {
    const file = join(ledgerDir, `${options.scenario.replace(/[^A-Za-z0-9]+/g, '-')}.json`);
    await writeFile(
      file,
      JSON.stringify({ fault: { start, end }, faults: windows, entries: load.ledger.entries }),
    );
    for (const [service, process] of Object.entries(world.platform.processes)) {
      if (process) await writeFile(file.replace(/\.json$/, `.${service}.log`), process.output());
    }
  }
  return {
    ...result,
    notes: [
      ...result.notes,
      `time: warm-up ${seconds(start - began)}, fault ${seconds(end - start)}, after ${seconds(stopping - end)}, drain ${seconds(verifying - stopping)}, checks ${seconds(Date.now() - verifying)}`,
    ],
  };
}
