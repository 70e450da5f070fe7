import type { Logger } from '@vaxguard/logging';

/** A periodic task once started: `stop` ends it and waits for a run in progress. */
export interface PeriodicTask {
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs` (the first run one interval after the start) until
 * stopped; runs never overlap (the next is timed from the end of the last), a failed run
 * is logged and retried next time, and the timer never holds the process open. The one
 * way a service runs periodic work: `ServiceRuntime.every` stops it at shutdown. The
 * task's signal aborts when the stop begins, so a long run (a retention pass deleting
 * batch after batch) can end between two steps instead of holding the shutdown.
 */
export function startPeriodic(
  task: (signal: AbortSignal) => Promise<void>,
  intervalMs: number,
  logger: Logger,
): PeriodicTask {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const stopping = new AbortController();
  const tick = (): void => {
    running = task(stopping.signal)
      .catch((error: unknown) =>
        logger.warn('periodic task failed; retrying next interval', { err: error }),
      )
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  timer = setTimeout(tick, intervalMs).unref();
  return {
    async stop() {
      stopped = true;
      stopping.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
