// The auditor's console's rules: who may use it, what a filter of the log may hold, page
// sizes, and what the kill switch form takes. Pure: the routes apply them.
import { definitionOf, EVENTS } from '@vaxguard/event-catalogue';
import { findSensitive } from '@vaxguard/pii';
import type { StaffRole } from '@vaxguard/tokens';

/** The roles the audit service serves the log's entries and alerts to. */
export const CONSOLE_ROLES: readonly StaffRole[] = ['AUDITOR', 'PLATFORM_ADMIN'];
/** Only platform admins see and operate the kill switch (identity's own rule too). */
export const KILL_SWITCH_ROLES: readonly StaffRole[] = ['PLATFORM_ADMIN'];

/** Entries on one page of the log: a small page for a slow connection. */
export const LOG_PAGE_SIZE = 25;
/** Alerts on one page. */
export const ALERTS_PAGE_SIZE = 50;
/** Suspensions and locks listed from the log (its latest events of those types). */
export const RECENT_EVENTS_PAGE_SIZE = 50;
/** Entries per message of an export stream. */
export const EXPORT_CHUNK_SIZE = 500;
/** Page tokens kept per filter: how far back "previous page" goes. */
export const MAX_KEPT_PAGE_TOKENS = 200;

/** An actor id or a subject reference: staff and client ids, refs, blind indexes. */
const FILTER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@=+/-]{0,127}$/;
/** `YYYY-MM-DDTHH:MM` (a datetime-local field), read as UTC. */
const FILTER_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** The event types a filter may name: the catalogue's, in name order. */
export const EVENT_TYPE_NAMES: readonly string[] = Object.values(EVENTS)
  .map((definition) => definition.name)
  .sort();

/** A filter of the log as the audit service takes it. */
export interface LogFilter {
  readonly eventType: string;
  readonly actorId: string;
  readonly subjectRef: string;
  readonly from?: Date;
  readonly to?: Date;
}

export const NO_FILTER: LogFilter = { eventType: '', actorId: '', subjectRef: '' };

/** The form as sent: each field a string, possibly empty. */
export interface LogFilterForm {
  readonly eventType?: unknown;
  readonly actorId?: unknown;
  readonly subjectRef?: unknown;
  readonly from?: unknown;
  readonly to?: unknown;
}

/** Why a filter field was refused: a message key each, never the value sent. */
export type FilterProblem =
  | 'filter.error.eventType'
  | 'filter.error.actorId'
  | 'filter.error.subjectRef'
  | 'filter.error.personalData'
  | 'filter.error.time'
  | 'filter.error.timeOrder';

export interface FieldProblem {
  readonly field: keyof LogFilterForm;
  readonly problem: FilterProblem;
}

export type FilterResult =
  | { readonly ok: true; readonly filter: LogFilter }
  | { readonly ok: false; readonly problems: readonly FieldProblem[] };

/**
 * Reads the filter form. Every problem is reported at once, each by field and message
 * key: the page shows which field and why, and never repeats what was typed (a phone
 * number typed into the actor field is refused without being echoed or logged).
 */
export function parseLogFilter(form: LogFilterForm): FilterResult {
  const problems: FieldProblem[] = [];
  const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');
  const eventType = text(form.eventType);
  if (eventType !== '' && definitionOf(eventType) === undefined) {
    problems.push({ field: 'eventType', problem: 'filter.error.eventType' });
  }
  const id = (field: 'actorId' | 'subjectRef', problem: FilterProblem): string => {
    const value = text(form[field]);
    if (value === '') return '';
    // Personal data first: a mobile or an identity number is refused as such.
    if (findSensitive(value).length > 0) {
      problems.push({ field, problem: 'filter.error.personalData' });
    } else if (!FILTER_ID.test(value)) {
      problems.push({ field, problem });
    }
    return value;
  };
  const actorId = id('actorId', 'filter.error.actorId');
  const subjectRef = id('subjectRef', 'filter.error.subjectRef');
  const time = (field: 'from' | 'to'): Date | undefined => {
    const value = text(form[field]);
    if (value === '') return undefined;
    const parsed = parseFilterTime(value);
    if (parsed === undefined) problems.push({ field, problem: 'filter.error.time' });
    return parsed;
  };
  const from = time('from');
  const to = time('to');
  if (from && to && from.getTime() >= to.getTime()) {
    problems.push({ field: 'to', problem: 'filter.error.timeOrder' });
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    filter: {
      eventType,
      actorId,
      subjectRef,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
    },
  };
}

/** A datetime-local value as a UTC instant; undefined unless it is a real date and time. */
export function parseFilterTime(value: string): Date | undefined {
  const match = FILTER_TIME.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute));
  const same =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute;
  return same ? date : undefined;
}

/** The datetime-local value of an instant (UTC), to fill the form back in. */
export function formatFilterTime(date: Date | undefined): string {
  return date ? date.toISOString().slice(0, 16) : '';
}

/** Whether a filter narrows anything (an export of the whole log asks to confirm). */
export function isFiltered(filter: LogFilter): boolean {
  return (
    filter.eventType !== '' ||
    filter.actorId !== '' ||
    filter.subjectRef !== '' ||
    filter.from !== undefined ||
    filter.to !== undefined
  );
}

/** A log index in a path (`/audit/entries/:index`): decimal digits, a safe integer. */
export function parseEntryIndex(raw: string): number | undefined {
  if (!/^(?:0|[1-9]\d{0,15})$/.test(raw)) return undefined;
  const index = Number(raw);
  return Number.isSafeInteger(index) ? index : undefined;
}

/** A tree size asked of the consistency endpoint: the same form as an index. */
export const parseTreeSize = parseEntryIndex;

/** A page number of the log (1-based) in `?page=`. */
export function parsePageNumber(raw: unknown): number {
  if (typeof raw !== 'string' || !/^[1-9]\d{0,3}$/.test(raw)) return 1;
  return Math.min(Number(raw), MAX_KEPT_PAGE_TOKENS);
}

// ---- The kill switch -----------------------------------------------------------------

/** What the console's kill switch form can close (identity's ApiLockScope). */
export type LockScope =
  | { readonly kind: 'everything' }
  | { readonly kind: 'service'; readonly value: string }
  | { readonly kind: 'method'; readonly value: string }
  | { readonly kind: 'client'; readonly value: string };

export type LockAction = 'lock' | 'unlock';

export interface LockRequest {
  readonly action: LockAction;
  readonly scope: LockScope;
  readonly reason: string;
}

export type LockProblem =
  | 'kill.error.action'
  | 'kill.error.scope'
  | 'kill.error.service'
  | 'kill.error.method'
  | 'kill.error.client'
  | 'kill.error.reason'
  | 'filter.error.personalData';

/** Identity's bounds on a reason (3-200 characters), checked here to say so in the form. */
export const LOCK_REASON_MIN = 3;
export const LOCK_REASON_MAX = 200;
const SERVICE_NAME = /^vaxguard\.[a-z_]+\.v\d+\.[A-Z][A-Za-z]+Service$/;
const METHOD_PATH = /^\/vaxguard\.[a-z_]+\.v\d+\.[A-Z][A-Za-z]+Service\/[A-Z][A-Za-z]+$/;
const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{2,63}$/;

export type LockResult =
  | { readonly ok: true; readonly request: LockRequest }
  | { readonly ok: false; readonly problems: readonly LockProblem[] };

/** Reads the kill switch form; all problems at once, none echoing the value sent. */
export function parseLockForm(form: {
  readonly action?: unknown;
  readonly scope?: unknown;
  readonly target?: unknown;
  readonly reason?: unknown;
}): LockResult {
  const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');
  const problems: LockProblem[] = [];
  const action = text(form.action);
  if (action !== 'lock' && action !== 'unlock') problems.push('kill.error.action');
  const target = text(form.target);
  let scope: LockScope | undefined;
  switch (text(form.scope)) {
    case 'everything':
      scope = { kind: 'everything' };
      break;
    case 'service':
      if (SERVICE_NAME.test(target)) scope = { kind: 'service', value: target };
      else problems.push('kill.error.service');
      break;
    case 'method':
      if (METHOD_PATH.test(target)) scope = { kind: 'method', value: target };
      else problems.push('kill.error.method');
      break;
    case 'client':
      if (CLIENT_ID.test(target)) scope = { kind: 'client', value: target };
      else problems.push('kill.error.client');
      break;
    default:
      problems.push('kill.error.scope');
  }
  const reason = text(form.reason);
  if (reason.length < LOCK_REASON_MIN || reason.length > LOCK_REASON_MAX) {
    problems.push('kill.error.reason');
  } else if (findSensitive(reason).length > 0) {
    // The reason goes into the log for good: no personal data in it.
    problems.push('filter.error.personalData');
  }
  if (problems.length > 0 || scope === undefined) return { ok: false, problems };
  return { ok: true, request: { action: action as LockAction, scope, reason } };
}
