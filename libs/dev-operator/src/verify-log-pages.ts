// VerifyLog over a whole range, a page at a time: the audit service verifies at most
// 10^4 entries per call and answers how far it got (verified_up_to) and a token for the
// rest. This asks page after page until the range is done or a mismatch ends it, and
// holds the pages to one chain: each must start where the one before stopped.
import type { auditV1 } from '@vaxguard/proto';

/** One VerifyLog call (as an auditor). */
export type AskVerifyLog = (
  request: auditV1.VerifyLogRequest,
) => Promise<auditV1.VerifyLogResponse>;

/** The whole range's answer, in VerifyLogResponse's terms, and how many pages it took. */
export interface VerifiedRange extends auditV1.VerifyLogResponse {
  readonly pages: number;
}

export interface VerifyLogRange {
  readonly from?: number;
  /** 0 (the default) means the whole log as it stands at the first page. */
  readonly to?: number;
  /** Entries per page; 0 (the default) means the service's largest. */
  readonly pageSize?: number;
  /** Told after each page (to print progress). */
  readonly onPage?: (page: auditV1.VerifyLogResponse, pages: number) => void;
}

/** The log answered pages that are not one chain: nothing it said can be summed up. */
export class VerifyLogPagingError extends Error {
  override readonly name = 'VerifyLogPagingError';
}

/**
 * Pages VerifyLog through [from, to): ok when the last page is, the checkpoints summed,
 * the last verified-up-to mark seen, the first mismatch when one ended the range.
 */
export async function verifyLogPages(
  ask: AskVerifyLog,
  range: VerifyLogRange = {},
): Promise<VerifiedRange> {
  const first = { from: String(range.from ?? 0), to: String(range.to ?? 0) };
  let pages = 0;
  let checkpointsChecked = 0;
  let mark: auditV1.VerifiedMark | undefined;
  let pageToken = '';
  let expectedFrom = range.from ?? 0;
  for (;;) {
    const page = await ask({ ...first, pageSize: range.pageSize ?? 0, pageToken });
    pages++;
    if (Number(page.from) !== expectedFrom) {
      throw new VerifyLogPagingError(
        `VerifyLog's page ${pages} started at ${page.from}, not where the one before stopped (${expectedFrom})`,
      );
    }
    checkpointsChecked += page.checkpointsChecked;
    mark = page.verifiedUpTo ?? mark;
    range.onPage?.(page, pages);
    if (!page.nextPageToken) {
      return {
        ...page,
        from: first.from,
        checkpointsChecked,
        ...(mark ? { verifiedUpTo: mark } : {}),
        pages,
      };
    }
    if (Number(page.checkedTo) <= expectedFrom) {
      throw new VerifyLogPagingError(
        `VerifyLog's page ${pages} made no progress from ${expectedFrom} yet has more to go`,
      );
    }
    expectedFrom = Number(page.checkedTo);
    pageToken = page.nextPageToken;
  }
}
