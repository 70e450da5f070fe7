import { withTransaction, type Pool } from '@vaxguard/db';
import { buildEvent, EVENTS, PRINCIPAL_KIND, type Actor } from '@vaxguard/event-catalogue';
import { isVaxGuardError } from '@vaxguard/errors';
import { enqueueEvent } from '@vaxguard/events';
import type { ServiceClient } from '@vaxguard/grpc-kit';
import type { Logger } from '@vaxguard/logging';
import type { identityV1 } from '@vaxguard/proto';
import {
  isFinalRefusal,
  RESPONSE_CALL_DEADLINE_MS,
  RESPONSE_LEASE_MS,
  RESPONSE_POLL_INTERVAL_MS,
  responseRetryDelayMs,
  type ResponseOutcome,
} from '../domain/alert-desk';
import type { Alert } from '../domain/anomaly-model';
import type { Clock } from '../domain/model';
import {
  ALERT_PRINCIPAL_KIND,
  AUTOMATIC_RESPONSE,
  RESPONSE_OUTCOME,
  subjectOfPrincipal,
} from './alert-messages';

/** What identity's SuspendPrincipal needs of the audit service's client. */
export type IdentitySuspender = Pick<
  ServiceClient<typeof identityV1.IdentityServiceService>,
  'call'
>;

interface DueResponse {
  alert_id: string;
  attempts: number;
  alert: Alert;
}

/** Responses claimed per poll: a burst of alerts is worked through a few at a time. */
const CLAIM_BATCH = 10;

/**
 * Carries out the automatic responses queued with high-severity alerts, after the
 * ingestion that raised them has committed: claims due responses (a lease, so another
 * instance may take them over if this one dies), asks identity to suspend the staff
 * member or client application with the audit service's own credentials, and marks each
 * done with a `security.response` event when identity has answered. A client is
 * suspended by its client id, registered with identity or configured at a service alike;
 * identity refuses (for good) to let this stop a platform service's own client.
 * Identity's suspension is idempotent, so a response carried out twice does no harm.
 */
export class IdentityResponder {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly options: {
      readonly pool: Pool;
      readonly identity: IdentitySuspender;
      readonly actor: Actor;
      readonly clock: Clock;
      readonly logger: Logger;
      readonly pollIntervalMs?: number;
    },
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.drain()
        .then(() => undefined)
        .catch((error: unknown) => this.options.logger.warn('responses failed', { err: error }))
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(tick, this.options.pollIntervalMs ?? RESPONSE_POLL_INTERVAL_MS);
          }
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Carries out every response due now; returns how many were settled. */
  async drain(): Promise<number> {
    let settled = 0;
    for (;;) {
      const due = await this.claim();
      if (due.length === 0) return settled;
      const results = await Promise.all(due.map((response) => this.carryOut(response)));
      settled += results.filter(Boolean).length;
      if (due.length < CLAIM_BATCH) return settled;
    }
  }

  private async claim(): Promise<DueResponse[]> {
    const now = this.options.clock();
    const { rows } = await this.options.pool.query<DueResponse>(
      `UPDATE anomaly_responses r
         SET attempts = r.attempts + 1, next_attempt_at = $2
       FROM anomaly_alerts a
       WHERE a.alert_id = r.alert_id AND r.alert_id IN (
         SELECT alert_id FROM anomaly_responses
         WHERE done_at IS NULL AND next_attempt_at <= $1
         ORDER BY next_attempt_at LIMIT ${CLAIM_BATCH}
         FOR UPDATE SKIP LOCKED)
       RETURNING r.alert_id, r.attempts, a.alert`,
      [now, new Date(now.getTime() + RESPONSE_LEASE_MS)],
    );
    return rows;
  }

  /** True when the response is settled (done or refused for good). */
  private async carryOut(response: DueResponse): Promise<boolean> {
    const { alert } = response;
    const kind = alert.principal.kind;
    if (kind !== 'STAFF' && kind !== 'PARTNER_CLIENT') {
      return this.settle(response, 'REFUSED', 'NOT_A_PRINCIPAL');
    }
    try {
      await this.options.identity.call(
        'suspendPrincipal',
        {
          principal: { kind: PRINCIPAL_KIND.toProto(kind), id: alert.principal.id },
          reason: alert.rule,
        },
        { idempotent: true, deadlineMs: RESPONSE_CALL_DEADLINE_MS },
      );
      return this.settle(response, 'DONE', '');
    } catch (error) {
      if (isVaxGuardError(error) && isFinalRefusal(error.code)) {
        this.options.logger.warn('identity refused an automatic response', {
          alertId: response.alert_id,
          code: error.code,
          reason: error.reason,
        });
        return this.settle(response, 'REFUSED', error.reason ?? error.code);
      }
      const delayMs = responseRetryDelayMs(response.attempts);
      this.options.logger.warn('automatic response failed; will try again', {
        alertId: response.alert_id,
        attempts: response.attempts,
        delayMs,
        err: error,
      });
      await this.options.pool.query(
        `UPDATE anomaly_responses SET next_attempt_at = $2 WHERE alert_id = $1 AND done_at IS NULL`,
        [response.alert_id, new Date(this.options.clock().getTime() + delayMs)],
      );
      return false;
    }
  }

  private async settle(
    response: DueResponse,
    outcome: ResponseOutcome,
    refusal: string,
  ): Promise<boolean> {
    const { alert } = response;
    const now = this.options.clock();
    await withTransaction(this.options.pool, async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE anomaly_responses SET done_at = $2 WHERE alert_id = $1 AND done_at IS NULL`,
        [response.alert_id, now],
      );
      // Another instance settled it meanwhile: its event is the record.
      if (rowCount !== 1) return;
      await tx.query(
        `UPDATE anomaly_alerts SET response_outcome = $2, response_at = $3 WHERE alert_id = $1`,
        [response.alert_id, outcome, now],
      );
      await enqueueEvent(
        tx,
        buildEvent(EVENTS.securityResponse, {
          actor: this.options.actor,
          subject: subjectOfPrincipal(alert.principal),
          payload: {
            alertId: response.alert_id,
            response: AUTOMATIC_RESPONSE.toProto(alert.response),
            principalKind: ALERT_PRINCIPAL_KIND.toProto(alert.principal.kind),
            principalId: alert.principal.id,
            reason: alert.rule,
            outcome: RESPONSE_OUTCOME.toProto(outcome),
            attempts: response.attempts,
            refusal,
          },
          occurredAt: now,
        }),
      );
    });
    if (outcome === 'DONE') {
      this.options.logger.info('automatic response carried out', {
        alertId: response.alert_id,
        rule: alert.rule,
        response: alert.response,
      });
    }
    return true;
  }
}
