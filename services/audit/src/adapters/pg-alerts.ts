import { randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type Queryable } from '@vaxguard/db';
import { type Actor, buildEvent, eventActor, EVENTS } from '@vaxguard/event-catalogue';
import { enqueueEvent } from '@vaxguard/events';
import type { AlertStore, ResponseOutcome, StoredAlert } from '../domain/alert-desk';
import { needsResponse } from '../domain/alert-desk';
import type { Alert } from '../domain/anomaly-model';
import { alertMessageOf, subjectOfPrincipal } from './alert-messages';

interface AlertRow {
  position: string;
  alert_id: string;
  alert: Alert & { window: { startsAt: string; endsAt: string }; raisedAt: string };
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  response_outcome: ResponseOutcome | null;
  response_at: Date | null;
}

const ALERT_COLUMNS =
  'position, alert_id, alert, acknowledged_at, acknowledged_by, response_outcome, response_at';

/** JSON gave the dates back as text. */
function alertOf(json: AlertRow['alert']): Alert {
  return {
    ...json,
    window: {
      ...json.window,
      startsAt: new Date(json.window.startsAt),
      endsAt: new Date(json.window.endsAt),
    },
    raisedAt: new Date(json.raisedAt),
  };
}

function storedAlertOf(row: AlertRow): StoredAlert {
  return {
    alertId: row.alert_id,
    alert: alertOf(row.alert),
    ...(row.acknowledged_at ? { acknowledgedAt: row.acknowledged_at } : {}),
    ...(row.acknowledged_by ? { acknowledgedBy: row.acknowledged_by } : {}),
    ...(row.response_outcome ? { responseOutcome: row.response_outcome } : {}),
    ...(row.response_at ? { responseAt: row.response_at } : {}),
  };
}

/**
 * Stores a raised alert, publishes it (`security.alert`, through the outbox) and, when
 * it asks identity for something, queues the response, all in the caller's
 * transaction (the actor is the audit service itself). An alert already stored under its dedup key is left alone.
 */
export async function raiseAlert(
  tx: Queryable,
  alert: Alert,
  context: { readonly actor: Actor; readonly now: Date },
): Promise<boolean> {
  const { actor, now } = context;
  const alertId = randomUUID();
  const { rowCount } = await tx.query(
    `INSERT INTO anomaly_alerts (alert_id, dedup_key, alert) VALUES ($1, $2, $3)
     ON CONFLICT (dedup_key) DO NOTHING`,
    [alertId, alert.dedupKey, JSON.stringify(alert)],
  );
  if (rowCount !== 1) return false;
  await enqueueEvent(
    tx,
    buildEvent(EVENTS.securityAlert, {
      actor,
      subject: subjectOfPrincipal(alert.principal),
      payload: alertMessageOf(alertId, alert),
      occurredAt: now,
    }),
  );
  if (needsResponse(alert.response)) {
    await tx.query(`INSERT INTO anomaly_responses (alert_id, next_attempt_at) VALUES ($1, $2)`, [
      alertId,
      now,
    ]);
  }
  return true;
}

export class PgAlertStore implements AlertStore {
  constructor(private readonly db: Pool) {}

  async page(options: {
    readonly before: number | undefined;
    readonly limit: number;
    readonly unacknowledgedOnly: boolean;
  }): Promise<{ alerts: StoredAlert[]; last: number | undefined }> {
    const { rows } = await this.db.query<AlertRow>(
      `SELECT ${ALERT_COLUMNS} FROM anomaly_alerts
       WHERE ($1::bigint IS NULL OR position < $1)
         AND (NOT $2 OR acknowledged_at IS NULL)
       ORDER BY position DESC LIMIT $3`,
      [options.before ?? null, options.unacknowledgedOnly, options.limit],
    );
    const last = rows.at(-1);
    return { alerts: rows.map(storedAlertOf), last: last ? Number(last.position) : undefined };
  }

  /**
   * The acknowledgement and its `alert.acknowledged` event (the auditor as actor, the
   * alert's principal as subject) in one transaction: an alert is never acknowledged
   * without the log hearing of it.
   */
  async acknowledge(alertId: string, by: string, at: Date): Promise<StoredAlert | undefined> {
    return withTransaction(this.db, async (tx) => {
      const before = await tx.query<{ acknowledged: boolean }>(
        `SELECT acknowledged_at IS NOT NULL AS acknowledged FROM anomaly_alerts
         WHERE alert_id = $1 FOR UPDATE`,
        [alertId],
      );
      const found = before.rows[0];
      if (!found) return undefined;
      const { rows } = await tx.query<AlertRow>(
        `UPDATE anomaly_alerts
           SET acknowledged_at = coalesce(acknowledged_at, $2),
               acknowledged_by = coalesce(acknowledged_by, $3)
         WHERE alert_id = $1
         RETURNING ${ALERT_COLUMNS}`,
        [alertId, at, by],
      );
      const row = rows[0];
      if (!row) return undefined;
      const stored = storedAlertOf(row);
      await enqueueEvent(
        tx,
        buildEvent(EVENTS.alertAcknowledged, {
          actor: eventActor('STAFF', by, ''),
          subject: subjectOfPrincipal(stored.alert.principal),
          payload: { alertId, rule: stored.alert.rule, first: !found.acknowledged },
          occurredAt: at,
        }),
      );
      return stored;
    });
  }
}
