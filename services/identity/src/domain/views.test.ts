import { describe, expect, it } from 'vitest';
import { viewFor, type StoredBeneficiary, type Viewer } from './views';

// A stored row also holds what no view may show: the mobile's blind index, the canary
// flag, sealed numbers. They are here to prove no view copies them.
const stored: StoredBeneficiary & Record<string, unknown> = {
  ref: 'bnf_014d2pf2dbsqqzxq5tk1v58cgg',
  name: 'Ravi Kumar',
  gender: 'MALE',
  yearOfBirth: 1984,
  photoIdKind: 'AADHAAR',
  maskedPhotoId: 'XXXX XXXX 2346',
  maskedMobile: '******1403',
  mobileIndex: 'a'.repeat(64),
  canary: false,
  sealedPhotoId: Buffer.from('sealed'),
  photoIdNumber: '234123412346',
};

const citizen: Viewer = { kind: 'citizen' };
const staff = (scopes: string[] = []): Viewer => ({
  kind: 'grantee',
  granteeKind: 'STAFF',
  scopes,
});
const partner = (...scopes: string[]): Viewer => ({
  kind: 'grantee',
  granteeKind: 'PARTNER_CLIENT',
  scopes,
});

describe('viewFor', () => {
  it('shows the citizen who owns the record every field, the numbers masked', () => {
    expect(viewFor(citizen, stored)).toStrictEqual({
      beneficiaryRef: 'bnf_014d2pf2dbsqqzxq5tk1v58cgg',
      name: 'Ravi Kumar',
      gender: 'MALE',
      yearOfBirth: 1984,
      photoIdKind: 'AADHAAR',
      maskedPhotoId: 'XXXX XXXX 2346',
      maskedMobile: '******1403',
    });
  });

  it('shows staff with consent the name, gender, year of birth and the ID kind and last 4, never the mobile', () => {
    const expected = {
      beneficiaryRef: 'bnf_014d2pf2dbsqqzxq5tk1v58cgg',
      name: 'Ravi Kumar',
      gender: 'MALE',
      yearOfBirth: 1984,
      photoIdKind: 'AADHAAR',
      maskedPhotoId: 'XXXX XXXX 2346',
    };
    expect(viewFor(staff(), stored)).toStrictEqual(expected);
    // Scopes do not widen a staff view.
    expect(viewFor(staff(['beneficiary:mobile-masked']), stored)).toStrictEqual(expected);
  });

  it.each([
    [[], []],
    [['beneficiary:demographics'], ['name', 'gender', 'yearOfBirth']],
    [['beneficiary:id-masked'], ['photoIdKind', 'maskedPhotoId']],
    [['beneficiary:mobile-masked'], ['maskedMobile']],
    [
      ['beneficiary:demographics', 'beneficiary:id-masked'],
      ['name', 'gender', 'yearOfBirth', 'photoIdKind', 'maskedPhotoId'],
    ],
    [
      ['beneficiary:mobile-masked', 'beneficiary:id-masked', 'beneficiary:demographics'],
      ['name', 'gender', 'yearOfBirth', 'photoIdKind', 'maskedPhotoId', 'maskedMobile'],
    ],
    // Scopes of other APIs, misspellings and prototype names open nothing.
    [['beneficiary:read', 'beneficiary:access', 'Beneficiary:Demographics', 'toString'], []],
  ])('shows a partner with scopes %j exactly %j and the reference', (scopes, fields) => {
    const view = viewFor(partner(...scopes), stored);
    expect(Object.keys(view).sort()).toEqual(['beneficiaryRef', ...fields].sort());
    for (const field of fields) expect(view).toHaveProperty(field, stored[field]);
  });

  it('never copies a stored field that is not a view field, whoever looks', () => {
    for (const viewer of [citizen, staff(), partner(...Object.keys({ ...stored }))]) {
      const view = viewFor(viewer, stored);
      for (const hidden of ['ref', 'mobileIndex', 'canary', 'sealedPhotoId', 'photoIdNumber']) {
        expect(view).not.toHaveProperty(hidden);
      }
      expect(JSON.stringify(view)).not.toContain('234123412346');
    }
  });
});
