// What the citizen's page shows and accepts, as named rules.

/** The access history's first page: the newest reads and attempts. */
export const HISTORY_PAGE_SIZE = 50;
/** The access history pages a session may walk through (50 entries each). */
export const MAX_HISTORY_PAGES = 100;

/** A history page number from the address (`?page=N`): 1 to MAX_HISTORY_PAGES, else 1. */
export function historyPage(value: unknown): number {
  if (typeof value !== 'string' || !/^\d{1,3}$/.test(value)) return 1;
  const page = Number(value);
  return page >= 1 && page <= MAX_HISTORY_PAGES ? page : 1;
}

/** A citizen has at most 4 beneficiaries (identity's rule); a form names one by position. */
export const MAX_BENEFICIARY_POSITION = 3;
/** A consent grant's id, as a withdraw form sends it back: a UUID (the OTP service's token id). */
export const GRANT_ID_FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A sign-in code: exactly 6 digits (the OTP service's rule). */
export const OTP_FORMAT = /^\d{6}$/;

/** The downloads a certificate offers. */
export const CERTIFICATE_FORMATS = ['svg', 'qr', 'card'] as const;
export type CertificateFormat = (typeof CERTIFICATE_FORMATS)[number];

export function isCertificateFormat(value: unknown): value is CertificateFormat {
  return typeof value === 'string' && (CERTIFICATE_FORMATS as readonly string[]).includes(value);
}

/** A beneficiary's position in the list the session holds, from a form field. */
export function beneficiaryPosition(value: unknown, listed: number): number | undefined {
  if (typeof value !== 'string' || !/^\d$/.test(value)) return undefined;
  const position = Number(value);
  return position <= MAX_BENEFICIARY_POSITION && position < listed ? position : undefined;
}

/** Minutes to wait, rounded up, for a "try again in N minutes" message. */
export function minutesToWait(ms: number): number {
  return Math.max(1, Math.ceil(ms / 60_000));
}
