import { withTransaction, type Pool } from '@vaxguard/db';
import type { Actor } from '@vaxguard/event-catalogue';
import type { Logger } from '@vaxguard/logging';
import type { Alert } from '../domain/anomaly-model';
import type { Cosigner, CosignOutcome } from '../domain/cosigner';
import type { InstanceLock, LogAlarm, LogKeeper } from '../domain/log-keeper';
import type { Clock, LogStore } from '../domain/model';
import { raiseAlert } from './pg-alerts';

/**
 * The log's own alerts, stored and published like the anomaly rules' (ListAlerts,
 * `vaxguard alerts tail`, a `security.alert` event), and written to the service's log
 * at error level first, so they are seen even when the database is what failed.
 */
export class PgLogAlarm implements LogAlarm {
  constructor(
    private readonly options: {
      readonly pool: Pool;
      readonly actor: Actor;
      readonly clock: Clock;
      readonly logger: Logger;
    },
  ) {}

  async raise(alert: Alert, detail: string): Promise<void> {
    const { pool, actor, clock, logger } = this.options;
    logger.error('audit log alert', { rule: alert.rule, severity: alert.severity, detail });
    try {
      await withTransaction(pool, (tx) => raiseAlert(tx, alert, { actor, now: clock() }));
    } catch (error) {
      logger.error('the audit log alert could not be stored', { rule: alert.rule, err: error });
    }
  }
}

export interface LogPublication {
  /** One round: keep the newest stored checkpoint, have it cosigned, check for a stall. */
  round(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Publication, outside any append transaction, one round at a time (across instances
 * too, with `turn`): the newest
 * checkpoint signed in the database is kept (checked and saved outside it), then sent
 * to the witnesses (when there are any), and a stall of cosigning past
 * `notCosignedAlertAfterMs` raises its alert. A witness that does not answer holds up
 * only this loop; appends and checkpoints go on.
 */
export function startLogPublication(options: {
  readonly store: LogStore;
  readonly keeper: LogKeeper;
  readonly cosigner: Cosigner | undefined;
  readonly intervalMs: number;
  readonly notCosignedAlertAfterMs: number;
  readonly logger: Logger;
  /**
   * With several instances: one round at a time across all of them. The instance that
   * gets the turn takes the kept state as the last round left it and publishes; the
   * others only take the state (so what they serve follows). Absent: a lone instance.
   */
  readonly turn?: InstanceLock;
}): LogPublication {
  const { store, keeper, cosigner, logger } = options;
  let lastOutcome: CosignOutcome['kind'] | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function once(): Promise<void> {
    const latest = await store.latestCheckpoint();
    if (latest) await keeper.keep(store, latest);
    if (!cosigner) return;
    const outcome = await cosigner.cosign(store);
    // Said when it changes, not every round: a checkpoint a second is no news.
    if (outcome.kind === 'COSIGNED' && lastOutcome === 'WAITING') {
      logger.info('the witnesses cosign again', { treeSize: outcome.size });
    } else if (outcome.kind === 'WAITING' && lastOutcome !== 'WAITING') {
      for (const failure of outcome.failures) {
        logger.warn('a witness did not cosign; the checkpoint waits', {
          witness: failure.witness,
          err: failure.error,
        });
      }
    }
    if (outcome.kind !== 'NOTHING_TO_COSIGN') lastOutcome = outcome.kind;
    await keeper.checkCosigningStall(options.notCosignedAlertAfterMs);
  }

  const turn = options.turn;
  const exclusiveOnce = async (): Promise<void> => {
    if (!turn) return once();
    const ran = await turn.tryRun(async () => {
      await keeper.refresh();
      await once();
    });
    if (!ran) await keeper.refresh();
  };

  const round = (): Promise<void> => {
    running = running.then(exclusiveOnce).catch((error: unknown) => {
      logger.warn('checkpoint publication round failed', { err: error });
    });
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void round().then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    round,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
