import { describe, expect, it } from 'vitest';
import { certificateReaderActor } from './access-decisions';
import { fakeRecordDomain } from './fakes';
import type { AccessContext, CertificateReader, StaffAccess, StoredDose } from './model';
import { PARTNER_CERTIFICATE_SCOPE } from './record-rules';

const BENEFICIARY = 'bnf_01hzy0000000000000000000aa';
const NOW = new Date('2026-11-22T06:00:00Z');

const citizen: CertificateReader = {
  kind: 'citizen',
  mobileIndex: 'mobile-index',
  clientId: 'citizen-app',
  token: 'citizen-token',
};
const partner: CertificateReader = {
  kind: 'grantee',
  clientId: 'partner-app',
  grant: {
    grantId: 'grant-7',
    clientId: 'citizen-app',
    granteeKind: 'PARTNER_CLIENT',
    granteeId: 'partner-app',
    beneficiaryRefs: [BENEFICIARY],
    token: 'partner-grant',
  },
  partnerScopes: [PARTNER_CERTIFICATE_SCOPE],
};
const reading = (reader: CertificateReader): AccessContext => ({
  actor: certificateReaderActor(reader),
  purpose: 'CERTIFICATE',
  method: 'GetCertificate',
});
const admin = (role: 'PLATFORM_ADMIN' | 'CENTRE_ADMIN' = 'PLATFORM_ADMIN'): StaffAccess => ({
  actor: { kind: 'staff', staffId: 'stf_admin', role, centreId: '', clientId: 'console' },
  purpose: 'CERTIFICATE',
  method: 'RevokeCertificate',
});

const dose: StoredDose = {
  doseId: 'dose_AAAAAAAAAAAAAAAAAAAAAA',
  beneficiaryRef: BENEFICIARY,
  vaccineCode: 'COVISHIELD',
  doseNumber: 1,
  administeredOn: '2026-08-01',
  batchNumber: '4121Z025',
  series: 'PRIMARY',
  centreId: 'ctr_1',
  vaccinatorRef: 'stf_vaccinator',
  clientRequestId: 'request-0001',
  recordedAt: new Date('2026-08-01T05:00:00Z'),
  version: 0,
  birthYear: 1960,
};

/** A beneficiary with one dose, whom identity shows to the citizen and the partner. */
function world() {
  const domain = fakeRecordDomain({ now: NOW });
  domain.store.addDose(dose);
  for (const token of ['citizen-token', 'partner-grant']) {
    domain.directory.show(token, {
      beneficiaryRef: BENEFICIARY,
      name: 'Asha',
      yearOfBirth: 1960,
      maskedPhotoId: 'XXXX XXXX 1234',
    });
  }
  return domain;
}

describe('getting a certificate', () => {
  it('signs a card of the doses that the issuer verifies online, the access published', async () => {
    const { certificates, store } = world();
    const card = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    expect(card.certificateId).toMatch(/^crt_/);
    expect(card.svg).toContain('Asha');
    expect(await certificates.verify(card.jws)).toEqual({
      status: 'valid',
      name: 'Asha',
      yearOfBirth: 1960,
      doses: [{ vaccineCode: 'COVISHIELD', date: '2026-08-01' }],
    });
    expect(await certificates.verify(card.qr)).toMatchObject({ status: 'valid' });
    expect(store.events).toEqual([
      expect.objectContaining({
        type: 'record.accessed',
        actor: { kind: 'citizen', mobileIndex: 'mobile-index', clientId: 'citizen-app' },
        method: 'GetCertificate',
        purpose: 'CERTIFICATE',
        grantId: undefined,
      }),
      expect.objectContaining({ type: 'certificate.issued', replaces: undefined }),
    ]);
  });

  it('keeps one live certificate per beneficiary, whoever reads it; a partner’s read names its grant', async () => {
    const { certificates, store } = world();
    const first = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    const second = await certificates.getCertificate(reading(partner), partner, BENEFICIARY);
    expect(second.certificateId).toBe(first.certificateId);
    expect(store.eventTypes()).toEqual([
      'record.accessed',
      'certificate.issued',
      'record.accessed',
    ]);
    expect(store.events.at(-1)).toMatchObject({
      actor: { kind: 'partner', partnerId: 'partner-app' },
      grantId: 'grant-7',
    });
  });

  it('is refused, published, for a beneficiary identity does not show the reader', async () => {
    const { certificates, store } = world();
    const other = 'bnf_01hzy0000000000000000000bb';
    await expect(
      certificates.getCertificate(reading(citizen), citizen, other),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'BENEFICIARY_ACCESS_DENIED' });
    expect(store.events).toEqual([
      expect.objectContaining({ type: 'record.access_denied', beneficiaryRef: other }),
    ]);
  });

  it('needs at least one dose: refused with nothing issued', async () => {
    const { certificates, directory, store } = fakeRecordDomain({ now: NOW });
    directory.show('citizen-token', {
      beneficiaryRef: BENEFICIARY,
      name: 'Asha',
      yearOfBirth: 1960,
    });
    await expect(
      certificates.getCertificate(reading(citizen), citizen, BENEFICIARY),
    ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'NO_DOSES' });
    expect(store.events).toEqual([]);
    expect(store.state.certificates.size).toBe(0);
  });

  it('is refused, published, to a reader whose view shows no name and year of birth', async () => {
    const { certificates, directory, store } = world();
    directory.show('citizen-token', { beneficiaryRef: BENEFICIARY });
    await expect(
      certificates.getCertificate(reading(citizen), citizen, BENEFICIARY),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'INSUFFICIENT_SCOPE' });
    expect(store.events).toEqual([
      expect.objectContaining({ type: 'record.access_denied', reason: 'INSUFFICIENT_SCOPE' }),
    ]);
  });
});

describe('revocation, holds and correction', () => {
  const revoke = (
    certificates: ReturnType<typeof world>['certificates'],
    certificateId: string,
    cause: 'LEAKED' | 'FRAUDULENT' | 'MISTAKEN_RECORD',
  ) => certificates.revokeCertificate(admin(), { certificateId, reason: 'helpdesk', cause });

  it('a leaked card is revoked (verify says so) and the next read issues a new one', async () => {
    const { certificates, keys } = world();
    const card = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    expect(await revoke(certificates, card.certificateId, 'LEAKED')).toEqual({
      kid: keys.key.kid,
      crlVersion: 2,
      held: false,
    });
    expect(await certificates.verify(card.jws)).toEqual({ status: 'revoked' });
    expect((await certificates.revocationList(keys.key.kid)).rids).toHaveLength(1);
    const next = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    expect(next.certificateId).not.toBe(card.certificateId);
    expect(await certificates.verify(next.jws)).toMatchObject({ status: 'valid' });
  });

  it('a held certificate is not issued until a correction lifts a mistaken-record hold', async () => {
    const { certificates, store } = world();
    const card = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    await revoke(certificates, card.certificateId, 'MISTAKEN_RECORD');
    await expect(
      certificates.getCertificate(reading(citizen), citizen, BENEFICIARY),
    ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'CERTIFICATE_HELD' });
    const centreAdmin: StaffAccess = {
      ...admin('CENTRE_ADMIN'),
      actor: { ...admin('CENTRE_ADMIN').actor, staffId: 'stf_centre', centreId: 'ctr_1' },
    };
    const after = await store.transaction((uow) =>
      certificates.afterCorrection(uow, centreAdmin, {
        beneficiaryRef: BENEFICIARY,
        doseId: dose.doseId,
        reason: 'batch corrected',
        at: NOW,
      }),
    );
    // The hold revoked the live card: nothing to replace, and the next read issues one.
    expect(after).toEqual({ reissuedCertificateId: undefined, holdLifted: true });
    expect(store.events.at(-1)).toMatchObject({
      type: 'certificate.hold_lifted',
      lift: { liftedBy: 'CORRECTION', staffId: 'stf_centre', doseId: dose.doseId },
    });
    const next = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    expect(next.certificateId).not.toBe(card.certificateId);
  });

  it('a correction does not lift a fraud hold', async () => {
    const { certificates, store } = world();
    const card = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    await revoke(certificates, card.certificateId, 'FRAUDULENT');
    const after = await store.transaction((uow) =>
      certificates.afterCorrection(uow, admin('CENTRE_ADMIN'), {
        beneficiaryRef: BENEFICIARY,
        doseId: dose.doseId,
        reason: 'batch corrected',
        at: NOW,
      }),
    );
    expect(after).toEqual({ reissuedCertificateId: undefined, holdLifted: false });
    expect(store.activeHold(BENEFICIARY)?.cause).toBe('FRAUDULENT');
  });

  it('only a platform admin revokes; the refusal names the method it came through', async () => {
    const { certificates, store } = world();
    const card = await certificates.getCertificate(reading(citizen), citizen, BENEFICIARY);
    await expect(
      certificates.revokeCertificate(admin('CENTRE_ADMIN'), {
        certificateId: card.certificateId,
        reason: 'helpdesk',
        cause: 'LEAKED',
      }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'ROLE_NOT_ALLOWED' });
    expect(store.events.at(-1)).toMatchObject({
      type: 'record.access_denied',
      method: 'RevokeCertificate',
      purpose: 'CERTIFICATE',
    });
    expect(await certificates.verify(card.jws)).toMatchObject({ status: 'valid' });
  });
});

describe('verification', () => {
  it('says what is wrong with something that is not a card of this issuer', async () => {
    const { certificates } = world();
    expect(await certificates.verify('not a card')).toMatchObject({ status: 'invalid' });
  });
});
