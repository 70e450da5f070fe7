import { describe, expect, it } from 'vitest';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPeriodic } from './periodic';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startPeriodic', () => {
  it('runs the task every interval, never two runs at once, and logs a failure and goes on', async () => {
    const logs = new MemoryLogSink();
    let runs = 0;
    let running = 0;
    let overlapped = false;
    const task = startPeriodic(
      async () => {
        running++;
        overlapped ||= running > 1;
        runs++;
        await sleep(15);
        running--;
        if (runs === 2) throw new Error('the database went away');
      },
      5,
      createLogger({ service: 'runtime-test', sink: logs }),
    );
    await sleep(150);
    await task.stop();
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(overlapped).toBe(false);
    expect(logs.text()).toContain('periodic task failed; retrying next interval');
  });

  it('stops: waits for the run in progress and starts none after', async () => {
    let runs = 0;
    let finished = 0;
    const task = startPeriodic(
      async () => {
        runs++;
        await sleep(40);
        finished++;
      },
      5,
      createLogger({ service: 'runtime-test', sink: new MemoryLogSink() }),
    );
    await sleep(20);
    await task.stop();
    expect([runs, finished]).toEqual([1, 1]);
    await sleep(30);
    expect(runs).toBe(1);
  });

  it('aborts the signal of the run when the stop begins, so a long run ends between two steps', async () => {
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    let steps = 0;
    const task = startPeriodic(
      async (signal) => {
        started();
        // A pass of many steps that would outlast any shutdown unless it looks.
        while (!signal.aborted && steps < 1_000_000) {
          steps++;
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
      1,
      createLogger({ service: 'runtime-test', sink: new MemoryLogSink() }),
    );
    await running;
    await task.stop();
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThan(1_000_000);
  });
});
