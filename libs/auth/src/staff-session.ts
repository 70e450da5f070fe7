import { unauthenticated } from '@vaxguard/errors';
import type { Principal } from '@vaxguard/grpc-kit';
import { AUDIENCE, type StaffRole } from '@vaxguard/tokens';

/** A staff member signed in, as a verified staff session names them. */
export interface StaffSessionOfCall {
  readonly staffId: string;
  readonly role: StaffRole;
  /** Empty for platform admins and auditors. */
  readonly centreId: string;
  /** The client application the call came through. */
  readonly clientId: string;
}

/** The staff member a call's verified staff session names, if it carries one. */
export function staffSessionOf(principal: Principal): StaffSessionOfCall | undefined {
  const token = principal.token;
  if (token?.audience !== AUDIENCE.staff || !token.staff) return undefined;
  return {
    staffId: token.subject,
    role: token.staff.role,
    centreId: token.staff.centreId,
    clientId: principal.clientId,
  };
}

/** The staff session of a call on a method that needs one; UNAUTHENTICATED without it. */
export function requireStaffSession(principal: Principal): StaffSessionOfCall {
  const session = staffSessionOf(principal);
  if (!session) {
    throw unauthenticated('this method needs a staff session', { reason: 'TOKEN_REQUIRED' });
  }
  return session;
}
