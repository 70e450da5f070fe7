import { describe, expect, it } from 'vitest';
import { fakeRecordDomain } from './fakes';
import type { StaffAccess, StoredDose } from './model';
import { BENEFICIARY_FACTS_MAX_AGE_MS, type ConsentGrant } from './record-rules';

const BENEFICIARY = 'bnf_01hzy0000000000000000000aa';
const OTHER = 'bnf_01hzy0000000000000000000bb';
const NOW = new Date('2026-11-22T06:00:00Z');

const session = {
  staffId: 'stf_vaccinator',
  role: 'VACCINATOR',
  centreId: 'ctr_1',
  clientId: 'vaccinator-app',
} as const;
const as = (
  purpose: StaffAccess['purpose'],
  method: string,
  actor: Partial<StaffAccess['actor']> = {},
): StaffAccess => ({ actor: { kind: 'staff', ...session, ...actor }, purpose, method });
const recording = as('RECORD_DOSE', 'RecordDose');
const centreAdmin = as('CORRECTION', 'CorrectDose', {
  staffId: 'stf_centre_admin',
  role: 'CENTRE_ADMIN',
});

function grantFor(beneficiaryRefs: string[] = [BENEFICIARY]): ConsentGrant {
  return {
    grantId: 'grant-1',
    clientId: 'vaccinator-app',
    granteeKind: 'STAFF',
    granteeId: 'stf_vaccinator',
    beneficiaryRefs,
    token: 'grant-token',
  };
}

/** A domain where identity knows the beneficiary (born 1960) and the vaccinator holds a grant. */
function world(options: { staffBeneficiariesPerHour?: number } = {}) {
  const domain = fakeRecordDomain({ now: NOW, ...options });
  domain.grants.add(grantFor([BENEFICIARY, OTHER]));
  domain.directory.show('grant-token', {
    beneficiaryRef: BENEFICIARY,
    name: 'Asha',
    yearOfBirth: 1960,
  });
  domain.directory.show('grant-token', { beneficiaryRef: OTHER, name: 'Ravi', yearOfBirth: 1990 });
  return domain;
}

const firstDose = {
  beneficiaryRef: BENEFICIARY,
  vaccineCode: 'COVISHIELD',
  doseNumber: 1,
  administeredOn: '2026-11-22',
  batchNumber: '4121z025',
  clientRequestId: 'request-0001',
  consentGrant: 'grant-token',
};

describe('recording a dose', () => {
  it('records it in normal form, publishing the dose and the access with the method and grant', async () => {
    const { doses, store } = world();
    const { dose, replayed } = await doses.recordDose(recording, firstDose);
    expect(replayed).toBe(false);
    expect(dose).toMatchObject({
      beneficiaryRef: BENEFICIARY,
      vaccineCode: 'COVISHIELD',
      batchNumber: '4121Z025',
      centreId: 'ctr_1',
      vaccinatorRef: 'stf_vaccinator',
      series: 'PRIMARY',
      version: 0,
      birthYear: 1960,
    });
    expect(store.doses()).toEqual([dose]);
    expect(store.events).toEqual([
      expect.objectContaining({ type: 'dose.recorded', dose, grantId: 'grant-1' }),
      expect.objectContaining({
        type: 'record.accessed',
        actor: recording.actor,
        beneficiaryRef: BENEFICIARY,
        method: 'RecordDose',
        purpose: 'RECORD_DOSE',
        grantId: 'grant-1',
      }),
    ]);
  });

  it('asks identity once for a beneficiary it has no fresh facts of, and remembers them', async () => {
    const { doses, directory, time } = world();
    await doses.recordDose(recording, firstDose);
    expect(directory.asked).toEqual([BENEFICIARY]);
    time.now = new Date(NOW.getTime() + 1_000);
    await doses.recordDose(recording, {
      ...firstDose,
      beneficiaryRef: OTHER,
      clientRequestId: 'request-0002',
    });
    // The schedule decides dose 2 with the year of birth kept from the first: too early.
    await expect(
      doses.recordDose(recording, {
        ...firstDose,
        doseNumber: 2,
        clientRequestId: 'request-0003',
      }),
    ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    // BENEFICIARY's facts were fresh for the third request: identity was not asked again.
    expect(directory.asked).toEqual([BENEFICIARY, OTHER]);
  });

  it('asks identity again once what it said is too old to decide a dose', async () => {
    const { doses, directory, store } = world();
    store.remember({
      beneficiaryRef: BENEFICIARY,
      birthYear: 1960,
      learnedAt: new Date(NOW.getTime() - BENEFICIARY_FACTS_MAX_AGE_MS),
    });
    await doses.recordDose(recording, firstDose);
    expect(directory.asked).toEqual([BENEFICIARY]);
  });

  it('refuses a beneficiary identity does not show the vaccinator, published, recording nothing', async () => {
    const { doses, grants, store } = world();
    grants.add({ ...grantFor(), token: 'blind-grant' });
    await expect(
      doses.recordDose(recording, { ...firstDose, consentGrant: 'blind-grant' }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'BENEFICIARY_ACCESS_DENIED' });
    expect(store.doses()).toEqual([]);
    expect(store.eventTypes()).toEqual(['record.access_denied']);
  });

  it('answers a retry with the first record, and refuses another payload under the same id', async () => {
    const { doses, store } = world();
    const first = await doses.recordDose(recording, firstDose);
    const retry = await doses.recordDose(recording, { ...firstDose, batchNumber: ' 4121Z025 ' });
    expect(retry).toEqual({ dose: first.dose, replayed: true });
    await expect(
      doses.recordDose(recording, { ...firstDose, batchNumber: 'OTHER001' }),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS', reason: 'REQUEST_ID_REUSED' });
    expect(store.doses()).toHaveLength(1);
    expect(store.eventTypes()).toEqual(['dose.recorded', 'record.accessed', 'record.accessed']);
  });

  it('refuses a dose against the schedule without writing or publishing anything', async () => {
    const { doses, store } = world();
    await doses.recordDose(recording, firstDose);
    await expect(
      doses.recordDose(recording, { ...firstDose, doseNumber: 2, clientRequestId: 'request-0002' }),
    ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(store.doses()).toHaveLength(1);
    expect(store.eventTypes()).toEqual(['dose.recorded', 'record.accessed']);
  });

  it('is for vaccinators with the beneficiary’s grant: others are refused, published, before the grant is read', async () => {
    const { doses, store } = world();
    await expect(
      doses.recordDose(as('RECORD_DOSE', 'RecordDose', { role: 'CENTRE_ADMIN' }), firstDose),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'ROLE_NOT_ALLOWED' });
    await expect(
      doses.recordDose(recording, { ...firstDose, consentGrant: '' }),
    ).rejects.toMatchObject({ reason: 'NO_CONSENT' });
    expect(store.events).toEqual([
      expect.objectContaining({ reason: 'ROLE_NOT_ALLOWED', method: 'RecordDose' }),
      expect.objectContaining({ reason: 'NO_CONSENT', beneficiaryRef: BENEFICIARY }),
    ]);
    expect(store.doses()).toEqual([]);
  });

  it('counts the beneficiary in the staff member’s quota; one too many is refused and published', async () => {
    const { doses, store } = world({ staffBeneficiariesPerHour: 1 });
    await doses.recordDose(recording, firstDose);
    await expect(
      doses.recordDose(recording, {
        ...firstDose,
        beneficiaryRef: OTHER,
        clientRequestId: 'request-0002',
      }),
    ).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', reason: 'STAFF_QUOTA' });
    expect(store.doses()).toHaveLength(1);
    expect(store.events.at(-1)).toMatchObject({
      type: 'record.access_denied',
      beneficiaryRef: OTHER,
      reason: 'STAFF_QUOTA',
    });
  });
});

describe('finding beneficiaries for vaccination', () => {
  const finding = as('VACCINATION', 'FindBeneficiaryForVaccination');

  it('gives each beneficiary identity shows with their doses and the next dose due, each access published', async () => {
    const { doses, store, directory } = world();
    await doses.recordDose(recording, firstDose);
    directory.asked.length = 0;
    const found = await doses.findForVaccination(finding, 'grant-token');
    expect(found.map((entry) => entry.beneficiary.beneficiaryRef)).toEqual([BENEFICIARY, OTHER]);
    expect(found[0]?.doses).toHaveLength(1);
    expect(found[0]?.nextDose).toMatchObject({ complete: false, doseNumber: 2 });
    expect(found[1]?.nextDose).toMatchObject({ complete: false, doseNumber: 1 });
    expect(store.events.filter((event) => event.type === 'record.accessed').slice(-2)).toEqual([
      expect.objectContaining({ beneficiaryRef: BENEFICIARY, purpose: 'VACCINATION' }),
      expect.objectContaining({ beneficiaryRef: OTHER, method: 'FindBeneficiaryForVaccination' }),
    ]);
    // What a dose for them needs is kept: recording one asks identity nothing.
    await doses.recordDose(recording, {
      ...firstDose,
      beneficiaryRef: OTHER,
      clientRequestId: 'request-0002',
    });
    expect(directory.asked).toEqual([BENEFICIARY, OTHER]);
  });

  it('is refused when the beneficiaries found are more than the quota leaves, published', async () => {
    const { doses, store } = world({ staffBeneficiariesPerHour: 1 });
    await expect(doses.findForVaccination(finding, 'grant-token')).rejects.toMatchObject({
      reason: 'STAFF_QUOTA',
    });
    expect(store.eventTypes()).toEqual(['record.access_denied']);
  });
});

describe('correcting a dose', () => {
  async function recorded() {
    const domain = world();
    const { dose } = await domain.doses.recordDose(recording, firstDose);
    return { ...domain, dose };
  }
  const correction = (dose: StoredDose, fields: Partial<Record<string, string>> = {}) => ({
    doseId: dose.doseId,
    vaccineCode: '',
    batchNumber: 'AB123456',
    administeredOn: '',
    reason: 'typed the wrong batch',
    ...fields,
  });

  it('by the recording centre’s admin keeps both versions and publishes what changed', async () => {
    const { doses, store, dose } = await recorded();
    const corrected = await doses.correctDose(centreAdmin, correction(dose));
    expect(corrected).toEqual({
      dose: { ...dose, batchNumber: 'AB123456', version: 1 },
      reissuedCertificateId: undefined,
      holdLifted: false,
    });
    expect(store.state.versions).toHaveLength(2);
    expect(store.events.slice(-2)).toEqual([
      expect.objectContaining({ type: 'dose.corrected', changedFields: ['batch_number'] }),
      expect.objectContaining({
        type: 'record.accessed',
        method: 'CorrectDose',
        purpose: 'CORRECTION',
        grantId: undefined,
      }),
    ]);
  });

  it('replaces the live certificate with a new one', async () => {
    const { doses, certificates, directory, store, dose } = await recorded();
    directory.show('citizen-token', {
      beneficiaryRef: BENEFICIARY,
      name: 'Asha',
      yearOfBirth: 1960,
      maskedPhotoId: 'XXXX XXXX 1234',
    });
    const reader = {
      kind: 'citizen',
      mobileIndex: 'mobile-index',
      clientId: 'citizen-app',
      token: 'citizen-token',
    } as const;
    const card = await certificates.getCertificate(
      {
        actor: { kind: 'citizen', mobileIndex: 'mobile-index', clientId: 'citizen-app' },
        purpose: 'CERTIFICATE',
        method: 'GetCertificate',
      },
      reader,
      BENEFICIARY,
    );
    const { reissuedCertificateId } = await doses.correctDose(centreAdmin, correction(dose));
    expect(reissuedCertificateId).toMatch(/^crt_/);
    expect(reissuedCertificateId).not.toBe(card.certificateId);
    expect(store.eventTypes().slice(-2)).toEqual(['certificate.revoked', 'certificate.issued']);
    expect(await certificates.verify(card.jws)).toEqual({ status: 'revoked' });
  });

  it('by another centre, or of an unknown dose, is refused the same way, published', async () => {
    const { doses, store, dose } = await recorded();
    const elsewhere = as('CORRECTION', 'CorrectDose', {
      role: 'CENTRE_ADMIN',
      centreId: 'ctr_2',
    });
    await expect(doses.correctDose(elsewhere, correction(dose))).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      reason: 'WRONG_CENTRE',
    });
    await expect(
      doses.correctDose(
        centreAdmin,
        correction({ ...dose, doseId: 'dose_AAAAAAAAAAAAAAAAAAAAAA' }),
      ),
    ).rejects.toMatchObject({ reason: 'WRONG_CENTRE' });
    expect(store.events.slice(-2)).toEqual([
      expect.objectContaining({ beneficiaryRef: BENEFICIARY, reason: 'WRONG_CENTRE' }),
      expect.objectContaining({ beneficiaryRef: '', reason: 'WRONG_CENTRE' }),
    ]);
    expect(store.state.versions).toHaveLength(1);
  });

  it('that changes nothing is refused, leaving nothing behind', async () => {
    const { doses, store, dose } = await recorded();
    await expect(
      doses.correctDose(centreAdmin, correction(dose, { batchNumber: '4121z025' })),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'NOTHING_TO_CORRECT' });
    expect(store.eventTypes()).toEqual(['dose.recorded', 'record.accessed']);
  });
});
