import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isVaxGuardError, type VaxGuardError } from '@vaxguard/errors';
import { documentBlindIndex, mobileBlindIndex, type Mobile } from '@vaxguard/pii';
import {
  BeneficiaryService,
  type RegistrationInput,
  type SecretCodeGrants,
  type StaffActor,
  type Viewer,
} from './beneficiary-service';
import { SECRET_CODE_MAX_FAILURES } from './identity-rules';
import { InMemoryBeneficiaryStore } from './fakes';

const now = new Date('2026-11-22T10:00:00Z');
const mobileKey = Buffer.alloc(32, 1);
const MOBILE = '9876501234';
const OTHER_MOBILE = '9876505678';
const indexOf = (mobile: string) => mobileBlindIndex(mobileKey, mobile as Mobile);
const METHOD = '/vaxguard.identity.v1.IdentityService/GetBeneficiary';
// Valid Aadhaar numbers (Verhoeff).
const AADHAARS = ['234123412346', '499118665246', '987654321096', '379012345672', '502312345675'];

function citizen(mobile = MOBILE): Extract<Viewer, { kind: 'citizen' }> {
  return { kind: 'citizen', mobileIndex: indexOf(mobile), clientId: 'cowin-portal' };
}

function setup() {
  const store = new InMemoryBeneficiaryStore();
  const issued: Parameters<SecretCodeGrants['issue']>[0][] = [];
  let refs = 0;
  const service = new BeneficiaryService({
    store,
    clock: () => now,
    indexMobile: (mobile) => indexOf(mobile),
    indexPhotoId: (photoId) => documentBlindIndex(Buffer.alloc(32, 2), photoId),
    hashSecretCode: (ref, code) =>
      createHmac('sha256', Buffer.alloc(32, 3)).update(`${ref}:${code}`).digest(),
    newRef: () => `bnf_${String(refs++).padStart(26, '0')}`,
    newSecretCode: () => '4821',
    grants: {
      issue: async (request) => {
        issued.push(request);
        return { token: 'grant-token', expiresAt: now };
      },
    },
  });
  return { store, service, issued };
}

function input(overrides: Partial<RegistrationInput> = {}): RegistrationInput {
  return {
    mobile: MOBILE,
    name: '  Asha   Devi ',
    gender: 'FEMALE',
    yearOfBirth: 1961,
    photoIdKind: 'AADHAAR',
    photoIdNumber: '2341 2341 2346',
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<VaxGuardError> {
  try {
    await promise;
  } catch (error) {
    if (isVaxGuardError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('BeneficiaryService.register', () => {
  it('stores the person with masks only in clear, and returns the owner view and the code once', async () => {
    const { service, store } = setup();
    const { beneficiary, secretCode } = await service.register(citizen(), input());
    expect(secretCode).toBe('4821');
    expect(beneficiary).toEqual({
      beneficiaryRef: 'bnf_00000000000000000000000000',
      name: 'Asha Devi',
      gender: 'FEMALE',
      yearOfBirth: 1961,
      photoIdKind: 'AADHAAR',
      maskedPhotoId: 'XXXX XXXX 2346',
      maskedMobile: '******1234',
    });
    const stored = store.stored(beneficiary.beneficiaryRef);
    expect(stored?.secretCodeHash).toHaveLength(32);
    expect(store.events).toEqual([
      expect.objectContaining({
        type: 'beneficiary.registered',
        beneficiaryRef: beneficiary.beneficiaryRef,
        mobileIndex: indexOf(MOBILE),
        photoIdKind: 'AADHAAR',
      }),
    ]);
  });

  it('refuses a mobile other than the one the token proves, without echoing it', async () => {
    const { service, store } = setup();
    const error = await refusal(service.register(citizen(), input({ mobile: OTHER_MOBILE })));
    expect([error.code, error.reason]).toEqual(['PERMISSION_DENIED', 'MOBILE_MISMATCH']);
    expect(error.message).not.toContain(OTHER_MOBILE);
    expect(store.events).toEqual([]);
  });

  it('refuses the 5th beneficiary on a mobile and writes nothing for it', async () => {
    const { service, store } = setup();
    for (const photoIdNumber of AADHAARS.slice(0, 4)) {
      await service.register(citizen(), input({ photoIdNumber }));
    }
    const error = await refusal(service.register(citizen(), input({ photoIdNumber: AADHAARS[4] })));
    expect([error.code, error.reason]).toEqual(['FAILED_PRECONDITION', 'BENEFICIARY_LIMIT']);
    expect(store.events).toHaveLength(4);
  });

  it('refuses a document already registered, on any mobile, saying nothing of its holder', async () => {
    const { service } = setup();
    await service.register(citizen(), input());
    const error = await refusal(
      service.register(citizen(OTHER_MOBILE), input({ mobile: OTHER_MOBILE })),
    );
    expect([error.code, error.reason, error.message]).toEqual([
      'ALREADY_EXISTS',
      'DOCUMENT_REGISTERED',
      'this identity document is already registered',
    ]);
  });

  it('checks every field by its rule before anything is stored', async () => {
    const { service, store } = setup();
    const cases: [Partial<RegistrationInput>, string][] = [
      [{ name: 'R2D2' }, 'INVALID_NAME'],
      [{ gender: undefined }, 'INVALID_GENDER'],
      [{ yearOfBirth: 1850 }, 'INVALID_YEAR_OF_BIRTH'],
      [{ photoIdNumber: '234123412345' }, 'INVALID_AADHAAR'],
      [{ photoIdKind: undefined }, 'INVALID_PHOTO_ID_KIND'],
      [{ mobile: '12345' }, 'INVALID_MOBILE'],
    ];
    for (const [overrides, reason] of cases) {
      const error = await refusal(service.register(citizen(), input(overrides)));
      expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', reason]);
      expect(error.message).not.toContain('234123412345');
    }
    expect(store.events).toEqual([]);
  });
});

describe('BeneficiaryService reads', () => {
  it('lists the citizen’s own beneficiaries only, recording each read', async () => {
    const { service, store } = setup();
    const mine = await service.register(citizen(), input());
    await service.register(
      citizen(OTHER_MOBILE),
      input({ mobile: OTHER_MOBILE, photoIdNumber: AADHAARS[1] }),
    );
    const listed = await service.listMine(citizen(), 'list');
    expect(listed).toEqual([mine.beneficiary]);
    expect(store.events.at(-1)).toMatchObject({
      type: 'access.granted',
      beneficiaryRef: mine.beneficiary.beneficiaryRef,
      basis: 'OWNER',
    });
  });

  it('refuses another citizen exactly as it refuses a reference nobody holds, recording both', async () => {
    const { service, store } = setup();
    const mine = await service.register(citizen(), input());
    const theirs = await refusal(
      service.get(citizen(OTHER_MOBILE), mine.beneficiary.beneficiaryRef, METHOD),
    );
    const nobody = await refusal(
      service.get(citizen(OTHER_MOBILE), 'bnf_7zzzzzzzzzzzzzzzzzzzzzzzzz', METHOD),
    );
    expect([theirs.code, theirs.reason, theirs.message]).toEqual([
      nobody.code,
      nobody.reason,
      nobody.message,
    ]);
    expect(theirs.code).toBe('PERMISSION_DENIED');
    expect(store.events.slice(-2).map((event) => event.type)).toEqual([
      'access.denied',
      'access.denied',
    ]);
  });

  it('lets a grantee read exactly the beneficiaries its grant names, in the staff view', async () => {
    const { service } = setup();
    const mine = await service.register(citizen(), input());
    const other = await service.register(
      citizen(OTHER_MOBILE),
      input({ mobile: OTHER_MOBILE, photoIdNumber: AADHAARS[1] }),
    );
    const vaccinator: Viewer = {
      kind: 'grantee',
      granteeKind: 'STAFF',
      granteeId: 'staff-1',
      clientId: 'vaccinator-app',
      grant: { beneficiaryRefs: [mine.beneficiary.beneficiaryRef], grantId: 'grant-1' },
      scopes: [],
    };
    const seen = await service.get(vaccinator, mine.beneficiary.beneficiaryRef, METHOD);
    expect(seen).not.toHaveProperty('maskedMobile');
    expect(seen.maskedPhotoId).toBe('XXXX XXXX 2346');
    const error = await refusal(service.get(vaccinator, other.beneficiary.beneficiaryRef, METHOD));
    expect(error.code).toBe('PERMISSION_DENIED');
  });

  it('refuses a malformed reference as invalid, without echoing it', async () => {
    const { service } = setup();
    const error = await refusal(service.get(citizen(), MOBILE, METHOD));
    expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_BENEFICIARY_REF']);
    expect(error.message).not.toContain(MOBILE);
  });
});

describe('BeneficiaryService.verifySecretCode', () => {
  const vaccinator: StaffActor = {
    staffId: 'stf-1',
    role: 'VACCINATOR',
    clientId: 'vaccinator-app',
  };
  const VERIFY = '/vaxguard.identity.v1.IdentityService/VerifySecretCode';

  it('issues the vaccinator a grant for that one beneficiary when the code is right', async () => {
    const { service, issued } = setup();
    const { beneficiary } = await service.register(citizen(), input());
    await expect(
      service.verifySecretCode(vaccinator, beneficiary.beneficiaryRef, '4821', VERIFY),
    ).resolves.toEqual({ token: 'grant-token', expiresAt: now });
    expect(issued).toEqual([
      {
        ownerClientId: 'vaccinator-app',
        mobileIndex: indexOf(MOBILE),
        beneficiaryRef: beneficiary.beneficiaryRef,
        staffId: 'stf-1',
      },
    ]);
  });

  it(`answers a wrong code and an unknown reference alike, and locks after ${SECRET_CODE_MAX_FAILURES} wrong codes`, async () => {
    const { service, store, issued } = setup();
    const { beneficiary } = await service.register(citizen(), input());
    const ref = beneficiary.beneficiaryRef;
    const unknown = await refusal(
      service.verifySecretCode(vaccinator, `bnf_${'7'.repeat(26)}`, '4821', VERIFY),
    );
    for (let i = 0; i < SECRET_CODE_MAX_FAILURES; i++) {
      const wrong = await refusal(service.verifySecretCode(vaccinator, ref, '0000', VERIFY));
      expect([wrong.code, wrong.reason, wrong.message]).toEqual([
        unknown.code,
        unknown.reason,
        unknown.message,
      ]);
    }
    // Locked: the right code is refused too.
    const locked = await refusal(service.verifySecretCode(vaccinator, ref, '4821', VERIFY));
    expect([locked.code, locked.reason]).toEqual(['PERMISSION_DENIED', 'SECRET_CODE_REFUSED']);
    expect(issued).toEqual([]);
    const types = store.events.map((event) => event.type);
    expect(types.filter((type) => type === 'secret_code.failed')).toHaveLength(
      SECRET_CODE_MAX_FAILURES,
    );
    expect(types.filter((type) => type === 'secret_code.locked')).toHaveLength(1);
  });

  it('takes codes from vaccinators only, and refuses a malformed one without counting it', async () => {
    const { service, store } = setup();
    const { beneficiary } = await service.register(citizen(), input());
    const admin: StaffActor = { ...vaccinator, role: 'PLATFORM_ADMIN' };
    const notVaccinator = await refusal(
      service.verifySecretCode(admin, beneficiary.beneficiaryRef, '4821', VERIFY),
    );
    expect(notVaccinator.reason).toBe('NOT_VACCINATOR');
    const malformed = await refusal(
      service.verifySecretCode(vaccinator, beneficiary.beneficiaryRef, '48a1', VERIFY),
    );
    expect([malformed.code, malformed.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_SECRET_CODE']);
    expect(store.events.some((event) => event.type === 'secret_code.failed')).toBe(false);
  });
});

describe('canary beneficiaries', () => {
  it('look like any other, and every read or attempt on one raises access.canary', async () => {
    const { service, store } = setup();
    const { beneficiary } = await service.register(citizen(), input());
    const admin: StaffActor = { staffId: 'stf-admin', role: 'PLATFORM_ADMIN', clientId: 'console' };
    await service.markCanary(admin, beneficiary.beneficiaryRef);
    const view = await service.get(citizen(), beneficiary.beneficiaryRef, METHOD);
    expect(view).toEqual(beneficiary);
    await refusal(service.get(citizen(OTHER_MOBILE), beneficiary.beneficiaryRef, METHOD));
    await service.listMine(citizen(), '/vaxguard.identity.v1.IdentityService/ListMyBeneficiaries');
    const canaries = store.events.filter((event) => event.type === 'access.canary');
    expect(canaries).toHaveLength(3);
    const vaccinator: StaffActor = { ...admin, role: 'VACCINATOR' };
    expect((await refusal(service.markCanary(vaccinator, beneficiary.beneficiaryRef))).reason).toBe(
      'NOT_PLATFORM_ADMIN',
    );
  });
});
