import { setTimeout as sleep } from 'node:timers/promises';

/** Closed-loop load: `concurrency` callers, each starting its next call when the last ends. */
export interface LoadResult {
  readonly calls: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export async function runLoad(options: {
  readonly concurrency: number;
  /** Stops after this many calls or this long, whichever comes first. */
  readonly maxCalls: number;
  readonly maxSeconds: number;
  /**
   * Paced instead of closed-loop: call i is due `i / ratePerSecond` seconds after the
   * start, at most `concurrency` in flight, and its latency counts from when it was due,
   * so a call that waited for a free caller is not flattered.
   */
  readonly ratePerSecond?: number;
  readonly call: (index: number) => Promise<unknown>;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  const begin = performance.now();
  const deadline = begin + options.maxSeconds * 1000;
  const worker = async (): Promise<void> => {
    while (started < options.maxCalls && performance.now() < deadline) {
      const index = started++;
      const due =
        options.ratePerSecond === undefined
          ? undefined
          : begin + (index * 1000) / options.ratePerSecond;
      if (due !== undefined) {
        if (due >= deadline) break;
        if (due > performance.now()) await sleep(due - performance.now());
      }
      const t0 = due ?? performance.now();
      try {
        await options.call(index);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - begin) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    calls: latencies.length,
    errors,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

export function formatResult(name: string, result: LoadResult, baseline?: LoadResult): string {
  const ratio = baseline
    ? `  ${(result.perSecond / baseline.perSecond).toFixed(3)} x baseline`
    : '';
  return `${name.padEnd(34)} ${result.perSecond.toFixed(0).padStart(7)} calls/s  p50 ${result.p50Ms
    .toFixed(1)
    .padStart(
      6,
    )} ms  p99 ${result.p99Ms.toFixed(1).padStart(6)} ms  (${result.calls} ok, ${result.errors} errors, ${result.seconds.toFixed(1)} s)${ratio}`;
}
