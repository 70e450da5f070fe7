import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { status, type ServiceError } from '@grpc/grpc-js';
import { readStatusDetails } from '@vaxguard/grpc-kit';

/**
 * The retry hint of an overload refusal (RESOURCE_EXHAUSTED SERVER_BUSY, refused before
 * any work), or undefined for any other outcome.
 */
export function overloadRetryAfterMs(error: unknown): number | undefined {
  const grpcError = error as Partial<ServiceError> | undefined;
  if (grpcError?.code !== status.RESOURCE_EXHAUSTED) return undefined;
  const details = readStatusDetails(grpcError);
  return details.reason === 'SERVER_BUSY' ? (details.retryAfterMs ?? 0) : undefined;
}

/**
 * `call` until it is not refused for overload, each time after the hint the refusal gave:
 * what a client of the kit does (retry.ts), for set-up calls made with raw clients.
 */
export async function untilAdmitted<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const retryAfterMs = overloadRetryAfterMs(error);
      if (retryAfterMs === undefined) throw error;
      await sleep(retryAfterMs + Math.random() * 100);
    }
  }
}

/** Closed-loop load: `concurrency` callers, each starting its next call when the last ends. */
export interface LoadResult {
  readonly calls: number;
  readonly errors: number;
  /** Calls refused for overload (SERVER_BUSY); the caller waited out the hint before its next. */
  readonly refused: number;
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
  let refused = 0;
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
      } catch (error) {
        const retryAfterMs = overloadRetryAfterMs(error);
        if (retryAfterMs === undefined) {
          errors++;
        } else {
          // A caller told to come back later does, instead of spinning on refusals.
          refused++;
          await sleep(retryAfterMs);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - begin) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    calls: latencies.length,
    errors,
    refused,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

/** The `q` quantile of ascending `sorted` (0 when empty). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

export function formatResult(name: string, result: LoadResult, baseline?: LoadResult): string {
  const ratio = baseline
    ? `  ${(result.perSecond / baseline.perSecond).toFixed(3)} x baseline`
    : '';
  const refused = result.refused > 0 ? `, ${result.refused} refused SERVER_BUSY` : '';
  return `${name.padEnd(34)} ${result.perSecond.toFixed(0).padStart(7)} calls/s  p50 ${result.p50Ms
    .toFixed(1)
    .padStart(
      6,
    )} ms  p99 ${result.p99Ms.toFixed(1).padStart(6)} ms  (${result.calls} ok, ${result.errors} errors${refused}, ${result.seconds.toFixed(1)} s)${ratio}`;
}

/** What an open-loop phase saw: each call's outcome and latency from when it was due. */
export interface OpenLoopResult {
  readonly seconds: number;
  /** Calls due in the phase, and those actually sent (a cap on in flight may hold some). */
  readonly due: number;
  readonly sent: number;
  /** Latencies in ms by outcome: `OK`, or the gRPC status name of the failure. */
  readonly latencies: ReadonlyMap<string, readonly number[]>;
  /** Latencies of the calls refused for overload (SERVER_BUSY), a subset of theirs. */
  readonly overloadRefusals: readonly number[];
  /**
   * The same latencies counted from when each call was actually sent: what the service
   * and the network took, without the generator's own lag.
   */
  readonly fromSent: {
    readonly admitted: readonly number[];
    readonly overloadRefusals: readonly number[];
  };
  /** How late the generator sent calls (ms after they were due): its own lag. */
  readonly sendLagP99Ms: number;
  readonly maxInFlight: number;
  /** Calls answered OK in each second of the phase, by when they were answered. */
  readonly okBySecond: readonly number[];
  /** The generator's own event-loop delay over the phase (ms): how long it was held up. */
  readonly eventLoopDelayMs: { readonly p99: number; readonly max: number };
}

/**
 * Open-loop load: call i is due `i / ratePerSecond` seconds after the start and is sent
 * then, whatever is in flight (arrivals do not wait for answers, as real users' do not),
 * up to `maxInFlight` as a safety cap (a call due beyond it is counted, not sent). A
 * call's latency counts from when it was due, so a generator falling behind shows as
 * latency, and its lag is reported on its own.
 */
export async function runOpenLoop(options: {
  readonly ratePerSecond: number;
  readonly seconds: number;
  readonly maxInFlight: number;
  readonly call: (index: number) => Promise<unknown>;
}): Promise<OpenLoopResult> {
  const latencies = new Map<string, number[]>();
  const overloadRefusals: number[] = [];
  const fromSent = { admitted: [] as number[], overloadRefusals: [] as number[] };
  const lags: number[] = [];
  const total = Math.floor(options.ratePerSecond * options.seconds);
  let sent = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const pending = new Set<Promise<void>>();
  const record = (outcome: string, latency: number) => {
    const list = latencies.get(outcome) ?? [];
    list.push(latency);
    latencies.set(outcome, list);
  };
  const okBySecond = Array.from({ length: Math.ceil(options.seconds) + 1 }, () => 0);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const begin = performance.now();
  for (let index = 0; index < total;) {
    const now = performance.now();
    // Every call due by now goes out in this turn of the loop.
    for (; index < total && begin + (index * 1000) / options.ratePerSecond <= now; index++) {
      if (inFlight >= options.maxInFlight) continue;
      const due = begin + (index * 1000) / options.ratePerSecond;
      lags.push(now - due);
      sent++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const sentAt = performance.now();
      const done = options.call(index).then(
        () => {
          record('OK', performance.now() - due);
          const second = Math.floor((performance.now() - begin) / 1000);
          if (second < okBySecond.length) okBySecond[second] = (okBySecond[second] ?? 0) + 1;
          fromSent.admitted.push(performance.now() - sentAt);
        },
        (error: unknown) => {
          const latency = performance.now() - due;
          const code = (error as Partial<ServiceError>).code;
          record(code === undefined ? 'client error' : (status[code] ?? String(code)), latency);
          if (overloadRetryAfterMs(error) !== undefined) {
            overloadRefusals.push(latency);
            fromSent.overloadRefusals.push(performance.now() - sentAt);
          }
        },
      );
      const settled = done.finally(() => {
        inFlight--;
        pending.delete(settled);
      });
      pending.add(settled);
    }
    const next = begin + (index * 1000) / options.ratePerSecond;
    await sleep(Math.max(0, next - performance.now()));
  }
  const seconds = (performance.now() - begin) / 1000;
  loopDelay.disable();
  await Promise.all(pending);
  for (const list of latencies.values()) list.sort((a, b) => a - b);
  overloadRefusals.sort((a, b) => a - b);
  fromSent.admitted.sort((a, b) => a - b);
  fromSent.overloadRefusals.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    seconds,
    due: total,
    sent,
    latencies,
    overloadRefusals,
    fromSent,
    sendLagP99Ms: quantile(lags, 0.99),
    maxInFlight,
    okBySecond,
    eventLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
  };
}
