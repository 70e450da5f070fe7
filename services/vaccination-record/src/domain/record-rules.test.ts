import { describe, expect, it } from 'vitest';
import {
  centreDisplayName,
  checkNotHeld,
  checkStaffGrant,
  checkStaffQuota,
  newCertificateId,
  parseCertificateId,
  parseClientRequestId,
  parseRevocationCause,
  holdsCertificate,
  quotaWindowStart,
  type ConsentGrant,
} from './record-rules';

const grant: ConsentGrant = {
  grantId: 'tok-1',
  clientId: 'vaccinator-app',
  granteeKind: 'STAFF',
  granteeId: 'stf_1',
  beneficiaryRefs: ['bnf_a'],
  token: 'jws',
};
const staff = { staffId: 'stf_1', clientId: 'vaccinator-app' };

describe('staff consent grants', () => {
  it('admits the grantee on the app the grant was issued to, for a beneficiary it opens', () => {
    expect(() => checkStaffGrant(grant, staff, 'bnf_a')).not.toThrow();
  });

  it.each([
    ['another staff member', { ...grant, granteeId: 'stf_2' }, 'bnf_a', 'GRANTEE_MISMATCH'],
    [
      'a partner grant',
      { ...grant, granteeKind: 'PARTNER_CLIENT' as const },
      'bnf_a',
      'GRANTEE_MISMATCH',
    ],
    ['another app', { ...grant, clientId: 'other-app' }, 'bnf_a', 'GRANT_CLIENT_MISMATCH'],
    ['another beneficiary', grant, 'bnf_b', 'NO_CONSENT'],
  ])('refuses a grant for %s', (_case, given, ref, reason) => {
    expect(() => checkStaffGrant(given, staff, ref)).toThrow(
      expect.objectContaining({ code: 'PERMISSION_DENIED', reason }),
    );
  });
});

describe('staff quota', () => {
  const now = new Date('2024-03-01T10:45:00Z');

  it('counts in clock hours', () => {
    expect(quotaWindowStart(now).toISOString()).toBe('2024-03-01T10:00:00.000Z');
  });

  it('admits a beneficiary already counted even at the limit, and refuses a new one with the time to wait', () => {
    expect(() => checkStaffQuota({ alreadyCounted: true, distinct: 3 }, 3, now)).not.toThrow();
    expect(() => checkStaffQuota({ alreadyCounted: false, distinct: 2 }, 3, now)).not.toThrow();
    expect(() => checkStaffQuota({ alreadyCounted: false, distinct: 3 }, 3, now)).toThrow(
      expect.objectContaining({
        code: 'RESOURCE_EXHAUSTED',
        reason: 'STAFF_QUOTA',
        retryAfterMs: 15 * 60_000,
      }),
    );
  });
});

describe('identifiers and requests', () => {
  it('makes certificate ids of 128 random bits that parse back', () => {
    const id = newCertificateId();
    expect(Buffer.from(id.slice(4), 'base64url')).toHaveLength(16);
    expect(parseCertificateId(id)).toBe(id);
    expect(newCertificateId()).not.toBe(id);
  });

  it('refuses a free-form client request id', () => {
    expect(() => parseClientRequestId('a b')).toThrow(
      expect.objectContaining({ reason: 'INVALID_CLIENT_REQUEST_ID' }),
    );
    expect(parseClientRequestId('req-0001')).toBe('req-0001');
  });
});

describe('the name a certificate prints for a centre', () => {
  it('is the centre’s own name, or "Vaccination centre" while it is not known', () => {
    expect(centreDisplayName(' PHC Kothrud, Pune ')).toBe('PHC Kothrud, Pune');
    expect(centreDisplayName(undefined)).toBe('Vaccination centre');
    expect(centreDisplayName('  ')).toBe('Vaccination centre');
  });
});

describe('revocation causes and holds', () => {
  it('holds the certificate for a fraudulent or mistaken record, not for a leaked card', () => {
    expect(holdsCertificate('LEAKED')).toBe(false);
    expect(holdsCertificate('FRAUDULENT')).toBe(true);
    expect(holdsCertificate('MISTAKEN_RECORD')).toBe(true);
  });

  it('refuses a revocation without a cause', () => {
    expect(() => parseRevocationCause(undefined)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', reason: 'INVALID_REVOCATION_CAUSE' }),
    );
    expect(parseRevocationCause('LEAKED')).toBe('LEAKED');
  });

  it('refuses a card to a held beneficiary with the rule, not the cause', () => {
    expect(() => checkNotHeld(false)).not.toThrow();
    expect(() => checkNotHeld(true)).toThrow(
      expect.objectContaining({ code: 'FAILED_PRECONDITION', reason: 'CERTIFICATE_HELD' }),
    );
  });
});
