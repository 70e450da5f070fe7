import type { Logger } from '@vaxguard/logging';

/** Runs `task` every `intervalMs` until stopped; a failed run is logged and retried next time. */
export function startPeriodic(
  task: () => Promise<void>,
  intervalMs: number,
  logger: Logger,
): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = (): void => {
    running = task()
      .catch((error: unknown) =>
        logger.warn('periodic task failed; retrying next interval', { err: error }),
      )
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
