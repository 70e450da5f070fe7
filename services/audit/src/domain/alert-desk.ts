import { invalidArgument, notFound, type ErrorCode } from '@vaxguard/errors';
import type { Alert, AutomaticResponse } from './anomaly-model';
import { requireAuditor, sizeWithin } from './log-rules';
import type { QueryRecorder, StaffReader } from './model';

/**
 * Alerts as auditors see them, and the rules of the automatic response: when it is
 * tried again, and which refusals of identity are final.
 */

// ---- Alerts ---------------------------------------------------------------------------

/** What became of an alert's automatic response: carried out, or refused for good. */
export type ResponseOutcome = 'DONE' | 'REFUSED';

export interface StoredAlert {
  readonly alertId: string;
  readonly alert: Alert;
  readonly acknowledgedAt?: Date;
  readonly acknowledgedBy?: string;
  readonly responseOutcome?: ResponseOutcome;
  readonly responseAt?: Date;
}

/** Where alerts are kept, newest first by the order they were stored in. */
export interface AlertStore {
  /** Up to `limit` alerts stored before `before` (a position from an earlier page), newest first. */
  page(options: {
    readonly before: number | undefined;
    readonly limit: number;
    readonly unacknowledgedOnly: boolean;
  }): Promise<{ alerts: StoredAlert[]; last: number | undefined }>;
  /**
   * Marks it acknowledged unless it already is, and records that the auditor
   * acknowledged it (an event of the log) in the same transaction, the first time or
   * not; undefined, and nothing recorded, when there is no such alert.
   */
  acknowledge(alertId: string, by: string, at: Date): Promise<StoredAlert | undefined>;
}

export const DEFAULT_ALERTS_PAGE = 50;
export const MAX_ALERTS_PAGE = 500;

export function alertsPageSize(requested: number): number {
  return sizeWithin(requested, { byDefault: DEFAULT_ALERTS_PAGE, max: MAX_ALERTS_PAGE });
}

function encodeAlertsToken(before: number): string {
  return Buffer.from(JSON.stringify({ b: before })).toString('base64url');
}

function decodeAlertsToken(token: string): number {
  try {
    const { b } = JSON.parse(Buffer.from(token, 'base64url').toString()) as { b: unknown };
    if (Number.isSafeInteger(b) && (b as number) > 0) return b as number;
  } catch {
    // falls through to the refusal
  }
  throw invalidArgument('the page token is not one this service gave', {
    reason: 'BAD_PAGE_TOKEN',
  });
}

const ALERT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * ListAlerts and AcknowledgeAlert: auditors only, as for the log's entries, and each
 * itself an event of the log (a list is an `audit.queried`, recorded before it is
 * answered; an acknowledgement an `alert.acknowledged`, recorded with it).
 */
export class AlertDesk {
  constructor(
    private readonly store: AlertStore,
    private readonly recorder: QueryRecorder,
    private readonly clock: () => Date,
  ) {}

  async list(
    reader: StaffReader | undefined,
    request: { pageSize: number; pageToken: string; unacknowledgedOnly: boolean },
  ): Promise<{ alerts: StoredAlert[]; nextPageToken: string }> {
    const auditor = requireAuditor(reader);
    const limit = alertsPageSize(request.pageSize);
    const before = request.pageToken ? decodeAlertsToken(request.pageToken) : undefined;
    const { alerts, last } = await this.store.page({
      before,
      limit,
      unacknowledgedOnly: request.unacknowledgedOnly,
    });
    await this.recorder.recordQuery(auditor, {
      kind: 'ListAlerts',
      unacknowledgedOnly: request.unacknowledgedOnly,
      returned: alerts.length,
    });
    const full = alerts.length === limit && last !== undefined;
    return { alerts, nextPageToken: full ? encodeAlertsToken(last) : '' };
  }

  async acknowledge(reader: StaffReader | undefined, alertId: string): Promise<StoredAlert> {
    const auditor = requireAuditor(reader);
    const found = ALERT_ID.test(alertId)
      ? await this.store.acknowledge(alertId, auditor.staffId, this.clock())
      : undefined;
    if (!found) throw notFound('no such alert', { reason: 'ALERT_NOT_FOUND' });
    return found;
  }
}

// ---- The automatic response -------------------------------------------------------------

/** How often the responder looks for responses to carry out: well under the 5 s goal. */
export const RESPONSE_POLL_INTERVAL_MS = 200;
/** One identity call's deadline, its retries included (the kit's default). */
export const RESPONSE_CALL_DEADLINE_MS = 5_000;
/**
 * A claimed response is not claimed again for this long, so an instance that dies
 * mid-call leaves it to another; well beyond the call's deadline.
 */
export const RESPONSE_LEASE_MS = 30_000;
/** After a failed attempt: 1 s, doubling, at most a minute. Never given up on. */
export function responseRetryDelayMs(attempts: number): number {
  return Math.min(60_000, 1_000 * 2 ** Math.max(0, attempts - 1));
}

/**
 * Identity's refusals that another attempt cannot change (the principal does not exist,
 * the request is malformed). Anything else (unreachable, a missing scope being fixed,
 * an internal error) is tried again.
 */
const FINAL_REFUSALS: ReadonlySet<ErrorCode> = new Set([
  'NOT_FOUND',
  'INVALID_ARGUMENT',
  'FAILED_PRECONDITION',
]);

export function isFinalRefusal(code: ErrorCode): boolean {
  return FINAL_REFUSALS.has(code);
}

/** Which responses the audit service carries out itself (the others are for auditors). */
export function needsResponse(response: AutomaticResponse): boolean {
  return response === 'SUSPEND_STAFF' || response === 'LOCK_PARTNER';
}
