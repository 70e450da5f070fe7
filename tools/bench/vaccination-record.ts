// `npm run bench`, vaccination-record: RecordDose sustained through the whole path, measured
// against the bare grpc-js unary echo served from its own process in the same run.
// Real PostgreSQL and Kafka (Testcontainers); the built OTP, identity and
// vaccination-record services as their own processes. Every RecordDose is a real first
// dose for a beneficiary registered beforehand through identity, under a consent grant
// from an OTP the bench read from the development SMS inbox, and looked up by its
// vaccinator first (FindBeneficiaryForVaccination), as at a centre: vaccination-record
// checks the staff session and the grant, then records the dose, its dose.recorded and
// record.accessed events in the outbox, in one transaction, with the beneficiary's year
// of birth read from its own copy (issue 17: no call to identity on the way); the relay
// sends them to Kafka, where the bench counts the dose.recorded events as they arrive.
// Prints figures, asserts nothing: these machines are shared and noisy.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { eventsV1 } from '@vaxguard/proto';
import { EVENTS } from '@vaxguard/event-catalogue';
import { eventually } from '@vaxguard/testing';
import { cpuMeter } from './cpu';
import {
  BENEFICIARIES_PER_MOBILE,
  printServiceLogs,
  refusalLines,
  startDosePlatform,
  type PreparedDose,
} from './dose-platform';
import { benchLimits, runBenchmark, startEcho, startRelayedEcho, startSignedEcho } from './harness';
import { formatResult, overloadRetryAfterMs, runLoad, type LoadResult } from './load';

const LIMITS = benchLimits();
/**
 * The goals: 1,000 doses/s closed-loop, and p99 under 50 ms when paced at half of
 * the closed loop's own rate (BENCH_PACED_RATE to fix the rate instead).
 */
const GOAL_PER_SECOND = 1_000;
const FIXED_PACED_RATE = process.env['BENCH_PACED_RATE']
  ? Number(process.env['BENCH_PACED_RATE'])
  : undefined;
const PACED_PER_SECOND = FIXED_PACED_RATE ?? GOAL_PER_SECOND / 2;
// Node options for the vaccination-record process alone, to profile it (as the identity
// bench's BENCH_IDENTITY_NODE_OPTIONS).
const RECORDS_NODE_OPTIONS = process.env['BENCH_RECORDS_NODE_OPTIONS'];
const IDENTITY_NODE_OPTIONS = process.env['BENCH_IDENTITY_NODE_OPTIONS'];
// Another build of vaccination-record to measure instead of the tree's (a copy of an
// earlier dist/main.js, to compare before and after a change in one run style).
const RECORDS_ENTRY =
  process.env['BENCH_RECORDS_ENTRY'] ?? 'services/vaccination-record/dist/main.js';
const WARM_UP_CALLS = 200;
// Enough first doses to hold the goal rate for a whole closed-loop phase, and the paced rate
// for a whole paced phase.
const DOSES =
  WARM_UP_CALLS +
  Math.min(LIMITS.maxCalls, GOAL_PER_SECOND * LIMITS.maxSeconds) +
  Math.min(LIMITS.maxCalls, PACED_PER_SECOND * LIMITS.maxSeconds);
const MOBILES = Math.ceil(DOSES / BENEFICIARIES_PER_MOBILE);
const RELAY_TIMEOUT_MS = 60_000;

/** Counts the dose.recorded events reaching Kafka, and when the latest arrived. */
async function startDoseCounter(brokers: readonly string[]) {
  const kafka = new Kafka({
    clientId: 'bench-dose-counter',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: `bench-dose-counter-${randomUUID()}` });
  const counter = { seen: 0, lastAt: 0 };
  await consumer.connect();
  const joined = new Promise<void>((resolve) =>
    consumer.on(consumer.events.GROUP_JOIN, () => resolve()),
  );
  await consumer.subscribe({ topics: [EVENTS.doseRecorded.topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      if (eventsV1.EventEnvelope.decode(message.value).type !== EVENTS.doseRecorded.name) return;
      counter.seen++;
      counter.lastAt = performance.now();
    },
  });
  await joined;
  return { counter, [Symbol.asyncDispose]: () => consumer.disconnect() };
}

async function main(): Promise<void> {
  process.stdout.write(
    `Vaccination-record benchmark: concurrency ${LIMITS.concurrency}, at most ${LIMITS.maxSeconds} s or ${LIMITS.maxCalls} calls per phase; ` +
      `${DOSES} beneficiaries on ${MOBILES} mobiles\n`,
  );
  const t0 = performance.now();
  const say = (line: string) =>
    process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
  await using platform = await startDosePlatform({
    beneficiaries: DOSES,
    concurrency: LIMITS.concurrency,
    ...(process.env['BENCH_VACCINATORS']
      ? { vaccinators: Number(process.env['BENCH_VACCINATORS']) }
      : {}),
    ...(RECORDS_ENTRY ? { recordsEntry: RECORDS_ENTRY } : {}),
    env: {
      ...(IDENTITY_NODE_OPTIONS ? { identity: { NODE_OPTIONS: IDENTITY_NODE_OPTIONS } } : {}),
      ...(RECORDS_NODE_OPTIONS ? { records: { NODE_OPTIONS: RECORDS_NODE_OPTIONS } } : {}),
    },
    say,
  });
  const { prepared, serviceLogs } = platform;
  try {
    await using echo = await startEcho();
    await using relayed = await startRelayedEcho();
    await using signedEcho = await startSignedEcho();
    await using doses = await startDoseCounter(platform.kafka.brokers);

    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: () => echo.call() });
    const baselineCpu = cpuMeter({ echo: echo.pids[0] });
    const baseline = await runLoad({ ...LIMITS, call: () => echo.call() });
    const baselineCpuLine = baselineCpu(baseline.calls);
    // The floor: what two services relaying a call, each checking a signature, cost alone.
    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: () => relayed.call() });
    const floorCpu = cpuMeter({ hop: relayed.pids[0], echo: relayed.pids[1] });
    const floor = await runLoad({ ...LIMITS, call: () => relayed.call() });
    const floorCpuLine = floorCpu(floor.calls);
    // The new design's floor (issue 17): one service, one signature checked.
    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: () => signedEcho.call() });
    const oneHopCpu = cpuMeter({ echo: signedEcho.pids[0] });
    const oneHop = await runLoad({ ...LIMITS, call: () => signedEcho.call() });
    const oneHopCpuLine = oneHopCpu(oneHop.calls);

    // ---- Consent: each mobile's grant to its vaccinator, then measure at once ----------
    await platform.grantConsents();
    const secondsLeft = () => Math.min(LIMITS.maxSeconds, platform.secondsLeft());

    // Every call records the next prepared first dose; none is recorded twice.
    // A dose refused for overload was not recorded: it is taken again by a later call.
    let nextDose = 0;
    const refusedDoses: PreparedDose[] = [];
    let recorded = 0;
    let firstError: string | undefined;
    const recordDose = async () => {
      const dose = refusedDoses.pop() ?? prepared[nextDose++];
      if (!dose) throw new Error('no prepared dose left');
      try {
        await platform.recordDose(dose);
        recorded++;
      } catch (error) {
        if (overloadRetryAfterMs(error) !== undefined) refusedDoses.push(dose);
        else firstError ??= error instanceof Error ? error.message : String(error);
        throw error;
      }
    };
    const dosesLeft = () => prepared.length - nextDose + refusedDoses.length;

    /** How long after a phase ended the relay had every dose it recorded on Kafka. */
    const relayDrain = async (endedAt: number): Promise<string> => {
      const backlog = recorded - doses.counter.seen;
      await eventually(
        () => {
          if (doses.counter.seen < recorded)
            throw new Error(`${doses.counter.seen} of ${recorded} dose.recorded events on Kafka`);
        },
        { timeoutMs: RELAY_TIMEOUT_MS, intervalMs: 10 },
      );
      const after = Math.max(0, doses.counter.lastAt - endedAt);
      return `  relay: ${backlog} of ${recorded} dose.recorded events not yet on Kafka when the phase ended; all ${doses.counter.seen} there ${after.toFixed(0)} ms after it ended`;
    };

    const { processes } = platform;
    const measure = async (
      name: string,
      options: { maxCalls: number; ratePerSecond?: number },
    ): Promise<{ result: LoadResult; lines: string[] }> => {
      const maxCalls = Math.min(options.maxCalls, dosesLeft());
      const cpu = cpuMeter(processes);
      const result = await runLoad({
        ...LIMITS,
        ...options,
        maxCalls,
        maxSeconds: secondsLeft(),
        call: recordDose,
      });
      const endedAt = performance.now();
      const cpuLine = cpu(result.calls);
      const capped =
        result.calls + result.errors >= maxCalls && result.seconds < secondsLeft()
          ? [
              `  capped at ${maxCalls} calls: the prepared beneficiaries ran out before the time did`,
            ]
          : [];
      say(`${name} done`);
      return {
        result,
        lines: [
          formatResult(name, result, baseline),
          `  ${(result.perSecond / oneHop.perSecond).toFixed(3)} x the one-hop floor, ${(result.perSecond / floor.perSecond).toFixed(3)} x the relayed floor`,
          ...capped,
          cpuLine,
          await relayDrain(endedAt),
        ],
      };
    };

    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: recordDose });
    await relayDrain(performance.now());
    const closed = await measure('vaccination-record RecordDose', { maxCalls: LIMITS.maxCalls });
    const pacedRate = FIXED_PACED_RATE ?? Math.max(1, Math.round(closed.result.perSecond / 2));
    const paced = await measure(`RecordDose paced at ${pacedRate}/s`, {
      maxCalls: LIMITS.maxCalls,
      ratePerSecond: pacedRate,
    });
    process.stdout.write(
      [
        '',
        formatResult('baseline: bare grpc-js unary echo', baseline),
        baselineCpuLine,
        formatResult('floor: relayed echo, 2 signatures', floor, baseline),
        floorCpuLine,
        formatResult('floor: one hop, 1 signature', oneHop, baseline),
        oneHopCpuLine,
        ...closed.lines,
        ...paced.lines,
        ...(firstError ? [`  first error: ${firstError}`] : []),
        ...refusalLines(serviceLogs),
        '',
        `Goal: ${GOAL_PER_SECOND} doses/s (got ${closed.result.perSecond.toFixed(0)}), ≥ 0.25 x the echo (got ${(closed.result.perSecond / baseline.perSecond).toFixed(3)}), and p99 under 50 ms at half of it, ${pacedRate}/s (got ${paced.result.p99Ms.toFixed(1)} ms).`,
        'Each RecordDose: the staff session and consent grant verified, then one transaction',
        'with the beneficiary’s year of birth read from the service’s own copy (filled by the',
        'look-up before; identity asked only for a beneficiary not looked up): the quota, the',
        'dose, its dose.recorded and record.accessed events in the outbox; the relay sends',
        'them to Kafka. Each call is a new first dose.',
        'The one-hop floor is the least of that: client → echo over gRPC, the server checking',
        'an Ed25519 signature over a 700-byte request first, nothing else. The relayed floor',
        '(client → hop → echo, two checks) was the design before issue 17.',
        'Reference (issue 8): CoWIN’s national peak was about 700 doses/s.',
        '',
      ].join('\n'),
    );
  } catch (error) {
    printServiceLogs(serviceLogs);
    throw error;
  }
}

runBenchmark(main);
