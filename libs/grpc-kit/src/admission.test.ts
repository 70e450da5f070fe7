import { describe, expect, it } from 'vitest';
import { Admission, OVERLOAD_RETRY_AFTER_MS, type AdaptiveLimitOptions } from './admission';

const A = '/vaxguard.test.v1.Test/A';
const B = '/vaxguard.test.v1.Test/B';

describe('Admission', () => {
  it('admits up to a method’s bound, refuses the next at once with a retry hint, and admits again after a release', () => {
    const admission = new Admission({ total: 10, perMethod: 2 });
    const first = admission.admit(A);
    const second = admission.admit(A);
    const third = admission.admit(A);
    expect('release' in first && 'release' in second).toBe(true);
    expect(third).toMatchObject({
      refusal: {
        code: 'RESOURCE_EXHAUSTED',
        reason: 'SERVER_BUSY',
        retryAfterMs: OVERLOAD_RETRY_AFTER_MS,
      },
    });
    // Another method is not held back by A's bound.
    expect('release' in admission.admit(B)).toBe(true);
    if ('release' in first) first.release();
    expect('release' in admission.admit(A)).toBe(true);
  });

  it('bounds the whole server, and a method by its own bound where one is given', () => {
    const admission = new Admission({ total: 3, perMethod: 3, methods: { [B]: 1 } });
    expect('release' in admission.admit(B)).toBe(true);
    expect('refusal' in admission.admit(B)).toBe(true);
    expect('release' in admission.admit(A)).toBe(true);
    expect('release' in admission.admit(A)).toBe(true);
    expect('refusal' in admission.admit(A)).toBe(true);
    expect(admission.load()).toBe(3);
  });

  it('releases a place once however often release is called', () => {
    const admission = new Admission({ total: 5, perMethod: 5 });
    const admitted = admission.admit(A);
    if (!('release' in admitted)) throw new Error('refused');
    admitted.release();
    admitted.release();
    expect([admission.load(), admission.load(A)]).toEqual([0, 0]);
  });

  it('refuses limits that are not whole numbers of at least 1', () => {
    expect(() => new Admission({ total: 0, perMethod: 1 })).toThrow(/total/);
    expect(() => new Admission({ total: 1, perMethod: 1, methods: { [A]: 1.5 } })).toThrow(A);
  });

  it('refuses adaptive limits that do not fit together', () => {
    const adaptive = { targetLatencyMs: 50, minLimit: 8, initialLimit: 64 };
    expect(
      () => new Admission({ total: 9, perMethod: 9, adaptive: { ...adaptive, minLimit: 65 } }),
    ).toThrow(/minLimit \(65\) must not exceed initialLimit/);
    expect(
      () =>
        new Admission({ total: 9, perMethod: 9, adaptive: { ...adaptive, targetLatencyMs: 0 } }),
    ).toThrow(/targetLatencyMs/);
  });
});

const TARGET = { targetLatencyMs: 50, minLimit: 4, initialLimit: 64 } as const;

/** A clock the test moves. */
function fakeClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/**
 * A service that serves `capacityPerMs` calls a millisecond between them (latency grows
 * with the calls in flight, as a CPU or a database shared by them makes it), offered
 * `arrivalsPerMs` calls a millisecond for `durationMs`. The latency of each admitted call
 * and the number refused, over the last `measuredFromMs`.
 */
function simulate(
  adaptive: AdaptiveLimitOptions,
  load: {
    arrivalsPerMs: number;
    capacityPerMs: number;
    baseLatencyMs: number;
    durationMs: number;
    measuredFromMs: number;
  },
) {
  const clock = fakeClock();
  const admission = new Admission({ total: 10_000, perMethod: 1_000, adaptive }, clock.now);
  const running: { doneAt: number; release: () => void; startedAt: number }[] = [];
  const latencies: number[] = [];
  let refused = 0;
  let owed = 0;
  for (let t = 0; t < load.durationMs; t++) {
    clock.advance(1);
    for (const call of running.filter((c) => c.doneAt <= t)) {
      call.release();
      if (t >= load.measuredFromMs) latencies.push(t - call.startedAt);
    }
    running.splice(0, running.length, ...running.filter((c) => c.doneAt > t));
    for (owed += load.arrivalsPerMs; owed >= 1; owed--) {
      const admitted = admission.admit(A);
      if ('refusal' in admitted) {
        if (t >= load.measuredFromMs) refused++;
        continue;
      }
      const latency = load.baseLatencyMs + (running.length + 1) / load.capacityPerMs;
      running.push({ doneAt: t + Math.ceil(latency), release: admitted.release, startedAt: t });
    }
  }
  latencies.sort((a, b) => a - b);
  const seconds = (load.durationMs - load.measuredFromMs) / 1000;
  return {
    admission,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    servedPerSecond: latencies.length / seconds,
    refusedPerSecond: refused / seconds,
  };
}

describe('Admission with an adaptive limit', () => {
  it('under a flood at twice its capacity, admits what it serves near the latency target and refuses the rest', () => {
    const run = simulate(TARGET, {
      arrivalsPerMs: 1.2,
      capacityPerMs: 0.6,
      baseLatencyMs: 5,
      durationMs: 10_000,
      measuredFromMs: 3_000,
    });
    // Near the target, well under the 200 ms a fixed limit of 64 would have let a
    // call wait here, with most of the capacity still used.
    expect(run.p99Ms).toBeLessThan(2 * TARGET.targetLatencyMs);
    expect(run.servedPerSecond).toBeGreaterThan(0.8 * 600);
    expect(run.refusedPerSecond).toBeGreaterThan(0.4 * 1_200);
    expect(run.admission.limitOf(A)).toBeLessThan(TARGET.initialLimit);
  });

  it('grows the limit while calls stay fast and the limit is reached, up to the ceiling', () => {
    const run = simulate(
      { ...TARGET, initialLimit: 8 },
      {
        arrivalsPerMs: 5,
        capacityPerMs: 50,
        baseLatencyMs: 4,
        durationMs: 5_000,
        measuredFromMs: 0,
      },
    );
    // 5 calls a millisecond lasting about 5 ms each need about 25 places.
    expect(run.admission.limitOf(A)).toBeGreaterThan(25);
    expect(run.p99Ms).toBeLessThan(TARGET.targetLatencyMs);
  });

  it('keeps its limit while calls are fast and the load never reaches it', () => {
    const clock = fakeClock();
    const admission = new Admission({ total: 100, perMethod: 100, adaptive: TARGET }, clock.now);
    for (let round = 0; round < 50; round++) {
      const calls = Array.from({ length: 8 }, () => admission.admit(A));
      clock.advance(10);
      for (const call of calls) if ('release' in call) call.release();
    }
    expect(admission.limitOf(A)).toBe(TARGET.initialLimit);
  });

  it('cuts its limit towards what the calls in flight serve at the target when they are slow', () => {
    const clock = fakeClock();
    const admission = new Admission({ total: 100, perMethod: 100, adaptive: TARGET }, clock.now);
    const calls = Array.from({ length: 16 }, () => admission.admit(A));
    // 100 ms against a target of 50: half as many in flight would have served as much.
    clock.advance(2 * TARGET.targetLatencyMs);
    for (const call of calls) if ('release' in call) call.release();
    expect(admission.limitOf(A)).toBeLessThan(16);
    expect(admission.limitOf(A)).toBeGreaterThanOrEqual(TARGET.minLimit);
  });

  it('never falls below its floor, and does not cut twice for a backlog admitted before a cut', () => {
    const clock = fakeClock();
    const admission = new Admission(
      { total: 1_000, perMethod: 1_000, adaptive: { ...TARGET, minLimit: 10 } },
      clock.now,
    );
    const backlog = Array.from({ length: 64 }, () => admission.admit(A));
    expect('refusal' in admission.admit(A)).toBe(true);
    clock.advance(1_000);
    // The first window of slow calls cuts the limit; the rest of the same backlog,
    // admitted under the old limit, finishing as slowly, does not cut it again.
    for (const call of backlog) if ('release' in call) call.release();
    const afterCut = admission.limitOf(A);
    expect(afterCut).toBeLessThan(64);
    expect(afterCut).toBeGreaterThanOrEqual(10);
    for (let window = 0; window < 10; window++) {
      const calls = Array.from({ length: 10 }, () => admission.admit(A));
      clock.advance(10_000);
      for (const call of calls) if ('release' in call) call.release();
    }
    expect(admission.limitOf(A)).toBe(10);
  });

  it('holds a stream to the ceilings only, and a method to its own limit', () => {
    const clock = fakeClock();
    const admission = new Admission(
      { total: 1_000, perMethod: 100, adaptive: { ...TARGET, minLimit: 2, initialLimit: 2 } },
      clock.now,
    );
    expect('release' in admission.admit(A)).toBe(true);
    expect('release' in admission.admit(A)).toBe(true);
    expect(admission.admit(A)).toMatchObject({
      refusal: {
        code: 'RESOURCE_EXHAUSTED',
        reason: 'SERVER_BUSY',
        retryAfterMs: OVERLOAD_RETRY_AFTER_MS,
      },
    });
    expect('release' in admission.admit(B)).toBe(true);
    const streams = Array.from({ length: 10 }, () => admission.admit(A, { measured: false }));
    expect(streams.every((stream) => 'release' in stream)).toBe(true);
  });
});
