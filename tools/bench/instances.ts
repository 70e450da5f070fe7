// `npm run bench:instances`: RecordDose, closed loop, with one and with two instances of
// each service (issue 19), measured in the same run and printed side by side with the
// ratio. Each count gets its own platform (dose-platform.ts: real PostgreSQL and Kafka,
// the built OTP, identity and vaccination-record services as processes, every caller
// balancing over the instances with round_robin), the same beneficiaries' worth of first
// doses, warmed up first. BENCH_INSTANCES=1,2 (the default) says which counts. Prints
// figures, asserts nothing: on a 2-core machine a second instance of everything shares
// the same two cores with PostgreSQL, Kafka and the bench itself.
import { cpus, loadavg } from 'node:os';
import { cpuMeter } from './cpu';
import {
  BENEFICIARIES_PER_MOBILE,
  printServiceLogs,
  startDosePlatform,
  type PreparedDose,
} from './dose-platform';
import { benchLimits, runBenchmark } from './harness';
import { formatResult, overloadRetryAfterMs, runLoad, type LoadResult } from './load';

const LIMITS = benchLimits();
const WARM_UP_CALLS = 200;
const COUNTS = (process.env['BENCH_INSTANCES'] ?? '1,2').split(',').map(Number);
/** First doses enough for the warm-up and a whole phase at up to 1,000 doses/s. */
const DOSES = WARM_UP_CALLS + Math.min(LIMITS.maxCalls, 1_000 * LIMITS.maxSeconds);

async function measure(
  instances: number,
  say: (line: string) => void,
): Promise<{ result: LoadResult; cpuLine: string }> {
  await using platform = await startDosePlatform({
    beneficiaries: DOSES,
    concurrency: LIMITS.concurrency,
    instances,
    say: (line) => say(`${instances} instance${instances === 1 ? '' : 's'}: ${line}`),
  });
  try {
    await platform.grantConsents();
    let next = 0;
    const refused: PreparedDose[] = [];
    const recordDose = async () => {
      const dose = refused.pop() ?? platform.prepared[next++];
      if (!dose) throw new Error('no prepared dose left');
      try {
        await platform.recordDose(dose);
      } catch (error) {
        // Refused for overload, not recorded: taken again by a later call.
        if (overloadRetryAfterMs(error) !== undefined) refused.push(dose);
        throw error;
      }
    };
    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: recordDose });
    const cpu = cpuMeter(platform.processes);
    const result = await runLoad({
      ...LIMITS,
      maxCalls: Math.min(LIMITS.maxCalls, platform.prepared.length - next),
      maxSeconds: Math.min(LIMITS.maxSeconds, platform.secondsLeft()),
      call: recordDose,
    });
    return { result, cpuLine: cpu(result.calls) };
  } catch (error) {
    printServiceLogs(platform.serviceLogs);
    throw error;
  }
}

async function main(): Promise<void> {
  if (COUNTS.some((count) => !Number.isInteger(count) || count < 1)) {
    throw new Error(`BENCH_INSTANCES must be whole numbers of instances, such as 1,2`);
  }
  process.stdout.write(
    `RecordDose with ${COUNTS.join(' and ')} instances of each service: concurrency ${LIMITS.concurrency}, ` +
      `at most ${LIMITS.maxSeconds} s or ${LIMITS.maxCalls} calls; ${DOSES} beneficiaries on ` +
      `${Math.ceil(DOSES / BENEFICIARIES_PER_MOBILE)} mobiles per platform; ${cpus().length} cores\n`,
  );
  const t0 = performance.now();
  const say = (line: string) =>
    process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
  const measured: { instances: number; result: LoadResult; cpuLine: string; load: string }[] = [];
  for (const instances of COUNTS) {
    const { result, cpuLine } = await measure(instances, say);
    measured.push({
      instances,
      result,
      cpuLine,
      load: loadavg()
        .map((value) => value.toFixed(2))
        .join(' '),
    });
  }
  const base = measured[0];
  process.stdout.write(
    [
      '',
      ...measured.flatMap(({ instances, result, cpuLine, load }) => [
        formatResult(
          `RecordDose, ${instances} instance${instances === 1 ? '' : 's'} of each`,
          result,
        ),
        `  ${base ? (result.perSecond / base.result.perSecond).toFixed(2) : '-'} x ${base?.instances ?? '-'} instance(s); load average after it ${load}`,
        cpuLine,
      ]),
      '',
      'Each platform is its own PostgreSQL, Kafka and services; every call balances over the',
      'instances (round_robin). On this shared 2-core machine the instances, PostgreSQL, Kafka',
      'and the load generator compete for the same cores: a second instance adds no CPU, so the',
      'ratio shows what the extra processes cost or save, not what two machines would give.',
      '',
    ].join('\n'),
  );
}

runBenchmark(main);
