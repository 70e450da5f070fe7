// What the auditor's console keeps in the server session (SessionData.auditor): the
// sign-in in progress, the staff session, the log filter and its page tokens, and a kill
// switch change waiting for its confirmation. The staff token never leaves the server.
import type { StaffRole } from '@vaxguard/tokens';
import type { Session } from '../session/session-store';
import { type LockRequest, type LogFilter, MAX_KEPT_PAGE_TOKENS, NO_FILTER } from './auditor-rules';

export interface StaffSignedIn {
  /** The staff session (OTP STAFF_LOGIN); sent to the platform, never to the browser. */
  readonly token: string;
  /** The token's id, to revoke it at sign-out. */
  readonly tokenId: string;
  readonly staffId: string;
  readonly role: StaffRole;
  readonly expiresAt: Date;
}

export interface AuditorState {
  /** A sign-in whose password was right, waiting for the code sent to the staff mobile. */
  signIn?: { readonly txnId: string };
  staff?: StaffSignedIn;
  filter: LogFilter;
  /** The page token of each page of the log under `filter`: [0] is '' (the first page). */
  pageTokens: string[];
  /** A kill switch change shown for confirmation, applied only by the confirming POST. */
  pendingLock?: LockRequest & { readonly nonce: string };
}

/** The console's part of the session, made on first use. */
export function auditorState(session: Session): AuditorState {
  const data = session.data as { auditor?: AuditorState };
  data.auditor ??= { filter: NO_FILTER, pageTokens: [''] };
  return data.auditor;
}

/** The signed-in staff member, while their token lasts. */
export function signedInStaff(
  session: Session | undefined,
  now: number,
): StaffSignedIn | undefined {
  if (!session) return undefined;
  const staff = (session.data as { auditor?: AuditorState }).auditor?.staff;
  if (!staff || staff.expiresAt.getTime() <= now) return undefined;
  return staff;
}

/** A new filter starts from its first page. */
export function setFilter(state: AuditorState, filter: LogFilter): void {
  state.filter = filter;
  state.pageTokens = [''];
}

/** Remembers where page `page + 1` starts (page is 1-based), up to the kept bound. */
export function keepPageToken(state: AuditorState, page: number, nextToken: string): void {
  if (nextToken === '' || page >= MAX_KEPT_PAGE_TOKENS) return;
  state.pageTokens[page] = nextToken;
}

/** Signs the console out: the staff session and everything it chose are forgotten. */
export function forgetAuditor(session: Session): void {
  delete (session.data as { auditor?: AuditorState }).auditor;
}
