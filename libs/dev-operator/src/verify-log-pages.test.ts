import { describe, expect, it } from 'vitest';
import type { auditV1 } from '@vaxguard/proto';
import { verifyLogPages, VerifyLogPagingError } from './verify-log-pages';

/** A VerifyLog page as the audit service answers it. */
function page(
  from: number,
  checkedTo: number,
  more: boolean,
  extra: Partial<auditV1.VerifyLogResponse> = {},
): auditV1.VerifyLogResponse {
  return {
    ok: !more && !extra.firstMismatch,
    from: String(from),
    to: '30',
    checkpointsChecked: 1,
    checkedTo: String(checkedTo),
    nextPageToken: more ? `after-${checkedTo}` : '',
    ...extra,
  };
}

const mark = (treeSize: number) => ({ treeSize: String(treeSize), rootHash: Buffer.alloc(32) });

describe('verifyLogPages', () => {
  it('asks page after page with the token it was given, and sums them up', async () => {
    const answers = [
      page(0, 10, true, { verifiedUpTo: mark(10) }),
      page(10, 20, true, { verifiedUpTo: mark(20) }),
      page(20, 30, false, { checkpointsChecked: 0 }),
    ];
    const asked: auditV1.VerifyLogRequest[] = [];
    const shown: number[] = [];
    const range = await verifyLogPages(
      async (request) => {
        asked.push(request);
        return answers[asked.length - 1] as auditV1.VerifyLogResponse;
      },
      { pageSize: 10, onPage: (_, pages) => shown.push(pages) },
    );
    expect(asked.map((request) => request.pageToken)).toEqual(['', 'after-10', 'after-20']);
    expect(asked.every((request) => request.pageSize === 10)).toBe(true);
    expect(shown).toEqual([1, 2, 3]);
    expect(range).toMatchObject({
      ok: true,
      from: '0',
      to: '30',
      pages: 3,
      checkpointsChecked: 2,
      verifiedUpTo: { treeSize: '20' },
    });
  });

  it('ends at the page that names a mismatch, the last mark kept', async () => {
    const answers = [
      page(5, 12, true, { verifiedUpTo: mark(12) }),
      page(12, 12, false, {
        checkpointsChecked: 0,
        firstMismatch: { kind: 2, index: '14', checkpointSize: '0', description: 'changed' },
      }),
    ];
    let asked = 0;
    const range = await verifyLogPages(async () => answers[asked++] as auditV1.VerifyLogResponse, {
      from: 5,
    });
    expect(range).toMatchObject({
      ok: false,
      pages: 2,
      firstMismatch: { index: '14' },
      verifiedUpTo: { treeSize: '12' },
    });
  });

  it('refuses pages that are not one chain: a gap, or no progress', async () => {
    const gap = [page(0, 10, true), page(15, 30, false)];
    let asked = 0;
    await expect(
      verifyLogPages(async () => gap[asked++] as auditV1.VerifyLogResponse),
    ).rejects.toThrow(VerifyLogPagingError);
    await expect(verifyLogPages(async () => page(0, 0, true))).rejects.toThrow(
      VerifyLogPagingError,
    );
  });
});
