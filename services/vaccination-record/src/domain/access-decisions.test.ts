import { permissionDenied, unavailable } from '@vaxguard/errors';
import { describe, expect, it } from 'vitest';
import { certificateReaderActor } from './access-decisions';
import { fakeRecordDomain } from './fakes';
import type { AccessContext, CertificateReader, StaffAccess } from './model';
import { PARTNER_CERTIFICATE_SCOPE, type ConsentGrant } from './record-rules';

const BENEFICIARY = 'bnf_01hzy0000000000000000000aa';
const OTHER = 'bnf_01hzy0000000000000000000bb';

const vaccinator: StaffAccess = {
  actor: {
    kind: 'staff',
    staffId: 'stf_vaccinator',
    role: 'VACCINATOR',
    centreId: 'ctr_1',
    clientId: 'vaccinator-app',
  },
  purpose: 'VACCINATION',
  method: 'FindBeneficiaryForVaccination',
};

function staffGrant(overrides: Partial<ConsentGrant> = {}): ConsentGrant {
  return {
    grantId: 'grant-1',
    clientId: 'vaccinator-app',
    granteeKind: 'STAFF',
    granteeId: 'stf_vaccinator',
    beneficiaryRefs: [BENEFICIARY],
    token: 'grant-token-1',
    ...overrides,
  };
}

describe('a refusal', () => {
  it('is published with the access’s actor, purpose and method, then thrown', async () => {
    const { access, store } = fakeRecordDomain();
    const refusal = permissionDenied('no', { reason: 'ROLE_NOT_ALLOWED' });
    await expect(access.guard(vaccinator, BENEFICIARY, () => Promise.reject(refusal))).rejects.toBe(
      refusal,
    );
    expect(store.events).toEqual([
      expect.objectContaining({
        type: 'record.access_denied',
        actor: vaccinator.actor,
        beneficiaryRef: BENEFICIARY,
        method: 'FindBeneficiaryForVaccination',
        purpose: 'VACCINATION',
        reason: 'ROLE_NOT_ALLOWED',
      }),
    ]);
  });

  it('is not what a failure of the service is: UNAVAILABLE and plain errors pass through unpublished', async () => {
    const { access, store } = fakeRecordDomain();
    await expect(
      access.guard(vaccinator, BENEFICIARY, () => {
        throw unavailable('identity is unreachable');
      }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(
      access.guard(vaccinator, BENEFICIARY, () => {
        throw new TypeError('a bug');
      }),
    ).rejects.toBeInstanceOf(TypeError);
    expect(store.events).toEqual([]);
  });

  it('a role not allowed is refused and published', async () => {
    const { access, store } = fakeRecordDomain();
    await expect(
      access.checkRole(vaccinator, ['CENTRE_ADMIN'], 'correct doses'),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'ROLE_NOT_ALLOWED' });
    await access.checkRole(vaccinator, ['VACCINATOR'], 'record doses');
    expect(store.eventTypes()).toEqual(['record.access_denied']);
  });
});

describe('a staff member’s consent grant', () => {
  it('is required, and published as NO_CONSENT when missing', async () => {
    const { access, store } = fakeRecordDomain();
    await expect(access.staffGrant(vaccinator, '', BENEFICIARY)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      reason: 'NO_CONSENT',
    });
    expect(store.events).toEqual([expect.objectContaining({ reason: 'NO_CONSENT' })]);
  });

  it('is given back when it names the staff member, their application and the beneficiary', async () => {
    const { access, grants, store } = fakeRecordDomain();
    const grant = grants.add(staffGrant());
    expect(await access.staffGrant(vaccinator, grant.token, BENEFICIARY)).toEqual(grant);
    expect(store.events).toEqual([]);
  });

  it.each([
    ['another staff member', staffGrant({ granteeId: 'stf_other' })],
    ['another application', staffGrant({ clientId: 'other-app' })],
    ['other beneficiaries', staffGrant({ beneficiaryRefs: [OTHER] })],
  ])('naming %s is refused and published', async (_what, grant) => {
    const { access, grants, store } = fakeRecordDomain();
    grants.add(grant);
    await expect(access.staffGrant(vaccinator, grant.token, BENEFICIARY)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    expect(store.eventTypes()).toEqual(['record.access_denied']);
  });

  it('that does not verify is refused and published with the verifier’s reason', async () => {
    const { access, store } = fakeRecordDomain();
    await expect(access.staffGrant(vaccinator, 'forged', BENEFICIARY)).rejects.toMatchObject({
      reason: 'INVALID_GRANT',
    });
    expect(store.events).toEqual([expect.objectContaining({ reason: 'INVALID_GRANT' })]);
  });
});

describe('identity’s view of a beneficiary', () => {
  it('is what identity shows through the token; a refusal by identity is published', async () => {
    const { access, directory, store } = fakeRecordDomain();
    directory.show('token', { beneficiaryRef: BENEFICIARY, name: 'Asha', yearOfBirth: 1960 });
    expect(await access.beneficiary(vaccinator, BENEFICIARY, 'token')).toMatchObject({
      name: 'Asha',
    });
    await expect(access.beneficiary(vaccinator, OTHER, 'token')).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      reason: 'BENEFICIARY_ACCESS_DENIED',
    });
    expect(store.events).toEqual([
      expect.objectContaining({ type: 'record.access_denied', beneficiaryRef: OTHER }),
    ]);
  });

  it('of a grant’s beneficiaries leaves out those identity does not show', async () => {
    const { access, directory } = fakeRecordDomain();
    directory.show('grant-token-1', { beneficiaryRef: OTHER, yearOfBirth: 1990 });
    const grant = staffGrant({ beneficiaryRefs: [BENEFICIARY, OTHER] });
    expect(await access.visibleBeneficiaries(grant)).toEqual([
      { beneficiaryRef: OTHER, yearOfBirth: 1990 },
    ]);
  });
});

describe('a certificate reader', () => {
  const citizen: CertificateReader = {
    kind: 'citizen',
    mobileIndex: 'mobile-index',
    clientId: 'citizen-app',
    token: 'citizen-token',
  };
  const partner = (
    grant: Partial<ConsentGrant>,
    partnerScopes: readonly string[] = [PARTNER_CERTIFICATE_SCOPE],
  ): CertificateReader => ({
    kind: 'grantee',
    clientId: 'partner-app',
    grant: staffGrant({
      granteeKind: 'PARTNER_CLIENT',
      granteeId: 'partner-app',
      clientId: 'citizen-app',
      token: 'partner-grant',
      ...grant,
    }),
    partnerScopes,
  });
  const accessOf = (reader: CertificateReader): AccessContext => ({
    actor: certificateReaderActor(reader),
    purpose: 'CERTIFICATE',
    method: 'GetCertificate',
  });

  it('is named in events as the citizen or the partner, never with a token', () => {
    expect(certificateReaderActor(citizen)).toEqual({
      kind: 'citizen',
      mobileIndex: 'mobile-index',
      clientId: 'citizen-app',
    });
    expect(certificateReaderActor(partner({}))).toEqual({
      kind: 'partner',
      partnerId: 'partner-app',
      clientId: 'partner-app',
    });
  });

  it('reads with the citizen’s own token, or the grant of a partner it names and covers', async () => {
    const { access, store } = fakeRecordDomain();
    expect(await access.certificateToken(accessOf(citizen), citizen, BENEFICIARY)).toBe(
      'citizen-token',
    );
    const reader = partner({});
    expect(await access.certificateToken(accessOf(reader), reader, BENEFICIARY)).toBe(
      'partner-grant',
    );
    expect(store.events).toEqual([]);
  });

  it.each([
    ['a grant to staff', partner({ granteeKind: 'STAFF' }), 'NOT_CERTIFICATE_READER'],
    ['a grant to another partner', partner({ granteeId: 'other-app' }), 'NOT_CERTIFICATE_READER'],
    ['a grant not covering the beneficiary', partner({ beneficiaryRefs: [OTHER] }), 'NO_CONSENT'],
    ['a partner without the scope', partner({}, ['identity:read']), 'INSUFFICIENT_SCOPE'],
  ])('with %s is refused, published', async (_what, reader, reason) => {
    const { access, store } = fakeRecordDomain();
    await expect(
      access.certificateToken(accessOf(reader), reader, BENEFICIARY),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason });
    expect(store.events).toEqual([
      expect.objectContaining({
        type: 'record.access_denied',
        actor: expect.objectContaining({ kind: 'partner' }) as unknown,
        method: 'GetCertificate',
        purpose: 'CERTIFICATE',
        reason,
      }),
    ]);
  });
});

describe('the per-staff quota', () => {
  it('counts distinct beneficiaries in the window, a beneficiary seen again is free, one too many is refused and published', async () => {
    const { access, store } = fakeRecordDomain({ staffBeneficiariesPerHour: 2 });
    const now = new Date('2026-11-22T06:10:00Z');
    const admit = (refs: string[]) =>
      store.transaction((uow) => access.admitToQuota(uow, vaccinator, refs, now));
    expect(await admit([BENEFICIARY, OTHER])).toBeUndefined();
    expect(await admit([BENEFICIARY])).toBeUndefined();
    const refused = await admit(['bnf_01hzy0000000000000000000cc']);
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', reason: 'STAFF_QUOTA' });
    expect(store.events).toEqual([
      expect.objectContaining({
        type: 'record.access_denied',
        beneficiaryRef: 'bnf_01hzy0000000000000000000cc',
        reason: 'STAFF_QUOTA',
      }),
    ]);
    // The next window starts afresh.
    const later = new Date('2026-11-22T07:00:00Z');
    expect(
      await store.transaction((uow) =>
        access.admitToQuota(uow, vaccinator, ['bnf_01hzy0000000000000000000cc'], later),
      ),
    ).toBeUndefined();
  });
});
