import { invalidArgument, permissionDenied } from '@vaxguard/errors';
import { SERVICE_SCOPES } from '@vaxguard/tokens';
import type { Caller, OtpPurpose } from './model';

/**
 * Purposes whose codes only the identity service may request, for the client that will
 * confirm them: a consent grant must name references identity resolved from the
 * mobile, and a staff second factor a staff member whose password identity checked.
 */
export const PURPOSES_VIA_IDENTITY: readonly OtpPurpose[] = ['CONSENT', 'STAFF_LOGIN'];

const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{1,63}$/;

/** The authenticated client application that called, and what it may do. */
export interface CallingClient {
  readonly clientId: string;
  readonly scopes: readonly string[];
}

/**
 * Whose transaction a GenerateOtp starts: the calling client's own, or, when a platform
 * service holding the on-behalf scope names another client, that client's (it confirms
 * the transaction and holds the token). CONSENT and STAFF_LOGIN are started only so.
 */
export function transactionOwner(
  calling: CallingClient,
  purpose: OtpPurpose,
  onBehalfOfClientId: string,
): Caller {
  if (onBehalfOfClientId) {
    if (!calling.scopes.includes(SERVICE_SCOPES.onBehalf)) {
      throw permissionDenied('only a platform service may start a transaction for another client', {
        reason: 'ON_BEHALF_NOT_ALLOWED',
      });
    }
    if (!CLIENT_ID.test(onBehalfOfClientId)) {
      throw invalidArgument('on_behalf_of_client_id must be a client id (a-z 0-9 . _ -)', {
        reason: 'INVALID_CLIENT_ID',
      });
    }
    return { clientId: onBehalfOfClientId };
  }
  if (PURPOSES_VIA_IDENTITY.includes(purpose)) {
    throw permissionDenied(
      'consent and staff sign-in codes are requested through the identity service',
      { reason: 'VIA_IDENTITY_ONLY' },
    );
  }
  return { clientId: calling.clientId };
}
