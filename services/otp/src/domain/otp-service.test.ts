import { describe, expect, it } from 'vitest';
import { isVaxGuardError, type VaxGuardError } from '@vaxguard/errors';
import { mobileBlindIndex, type Mobile } from '@vaxguard/pii';
import { AUDIENCE } from '@vaxguard/tokens';
import { FakeDelivery, FakeSigner, InMemoryOtpStore, ManualClock } from './fakes';
import { DeliveryRefused, type Consent, type OtpEvent } from './model';
import { MAX_CONFIRM_ATTEMPTS, MOBILE_LOCKOUT_MS, RESEND_COOLDOWN_MS } from './otp-rules';
import { OtpService, type OtpServiceOptions } from './otp-service';

const MINUTE = 60_000;
const MOBILE = '9876543210';
const REF = 'bnf_0123456789abcdefghjkmnpqrs';
const OTHER_REF = 'bnf_1123456789abcdefghjkmnpqrs';
const indexKey = Buffer.alloc(32, 1);
const INDEX = mobileBlindIndex(indexKey, MOBILE as Mobile);
const portal = { clientId: 'cowin-portal' };
const umang = { clientId: 'umang' };

function setup(options: Partial<OtpServiceOptions> = {}) {
  const store = new InMemoryOtpStore();
  const delivery = new FakeDelivery();
  const clock = new ManualClock();
  const signer = new FakeSigner();
  const service = new OtpService({
    store,
    delivery,
    signer,
    clock: clock.now,
    codeHashKey: Buffer.alloc(32, 2),
    indexMobile: (mobile) => mobileBlindIndex(indexKey, mobile),
    ...options,
  });
  return { store, delivery, clock, service, signer };
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

function wrongCode(code: string): string {
  return ((Number(code) + 1) % 1_000_000).toString().padStart(6, '0');
}

function types(events: readonly OtpEvent[]): string[] {
  return events.map((e) => e.type);
}

describe('GenerateOtp', () => {
  it('sends a code for a valid mobile and stores only its keyed hash, under the blind index', async () => {
    const { service, store, delivery, clock } = setup();
    const sent = await service.generate(portal, {
      mobile: '+91 98765-43210',
      purpose: 'CITIZEN_LOGIN',
    });
    expect(sent.attemptsAllowed).toBe(3);
    expect(sent.expiresAt).toEqual(new Date(clock.now().getTime() + 3 * MINUTE));
    expect(sent.resendAvailableAt).toEqual(new Date(clock.now().getTime() + RESEND_COOLDOWN_MS));
    const code = delivery.lastCode(sent.txnId);
    expect(code).toMatch(/^\d{6}$/);
    expect(delivery.messages[0]?.mobile).toBe(MOBILE);
    const txn = store.transactionById(sent.txnId);
    expect(txn?.mobileIndex).toBe(INDEX);
    expect(txn?.codeHash.toString('hex')).not.toContain(code);
    expect(store.events).toEqual([
      expect.objectContaining({
        type: 'otp.requested',
        mobileIndex: INDEX,
        clientId: 'cowin-portal',
        sendNumber: 1,
      }),
    ]);
    expect(JSON.stringify(store.events)).not.toContain(MOBILE);
    expect(JSON.stringify(store.events)).not.toContain(code);
  });

  it('refuses a number that is not an Indian mobile without echoing it', async () => {
    const { service, store } = setup();
    for (const mobile of ['5876543210', '98765432', '+1 9876543210', '98765432101', 'nine']) {
      const error = await refusal(service.generate(portal, { mobile, purpose: 'CITIZEN_LOGIN' }));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).not.toContain(mobile);
    }
    expect(store.events).toEqual([]);
  });

  it('takes the quota locks in one order: the mobile first, the client last', async () => {
    const { service, store } = setup();
    await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    expect(store.lockCalls).toEqual([
      ['mobile', INDEX],
      ['client', 'cowin-portal'],
    ]);
  });

  it('leaves nothing behind when the client quota refuses but the refusal itself, for the flood rule', async () => {
    const { service, store, delivery, clock } = setup({ clientQuotaPerMinute: 1 });
    await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    const before = { sends: store.sends.length, messages: delivery.messages.length };
    const error = await refusal(
      service.generate(portal, { mobile: '9876500000', purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.code, error.reason]).toEqual(['RESOURCE_EXHAUSTED', 'CLIENT_QUOTA']);
    expect({ sends: store.sends.length, messages: delivery.messages.length }).toEqual(before);
    expect(store.events.at(-1)).toEqual({
      type: 'otp.client_quota_refused',
      clientId: portal.clientId,
      occurredAt: clock.now(),
      mobileIndex: mobileBlindIndex(indexKey, '9876500000' as Mobile),
      purpose: 'CITIZEN_LOGIN',
      quotaPerMinute: 1,
    });
    expect(types(store.events)).toEqual(['otp.requested', 'otp.client_quota_refused']);
  });

  describe('consent', () => {
    const staffConsent: Consent = {
      beneficiaryRefs: [REF],
      grantee: { kind: 'STAFF', id: 'staff-7' },
    };

    it('is required for CONSENT', async () => {
      const { service } = setup();
      const error = await refusal(service.generate(portal, { mobile: MOBILE, purpose: 'CONSENT' }));
      expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', 'CONSENT_REQUIRED']);
    });

    it('is refused for other purposes', async () => {
      const { service } = setup();
      const error = await refusal(
        service.generate(portal, {
          mobile: MOBILE,
          purpose: 'CITIZEN_LOGIN',
          consent: staffConsent,
        }),
      );
      expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', 'CONSENT_NOT_ALLOWED']);
    });

    it('refuses anything but up to 4 distinct beneficiary references, a phone number above all', async () => {
      const { service } = setup();
      for (const beneficiaryRefs of [
        [MOBILE],
        ['ben-42'],
        [REF, REF],
        [
          REF,
          OTHER_REF,
          'bnf_2123456789abcdefghjkmnpqrs',
          'bnf_3123456789abcdefghjkmnpqrs',
          'bnf_4123456789abcdefghjkmnpqrs',
        ],
      ]) {
        const error = await refusal(
          service.generate(portal, {
            mobile: MOBILE,
            purpose: 'CONSENT',
            consent: { beneficiaryRefs, grantee: { kind: 'STAFF', id: 'staff-7' } },
          }),
        );
        expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_CONSENT']);
        expect(error.message).not.toContain(MOBILE);
      }
    });

    it('lets a partner client ask consent only for itself', async () => {
      const { service } = setup();
      const error = await refusal(
        service.generate(portal, {
          mobile: MOBILE,
          purpose: 'CONSENT',
          consent: { beneficiaryRefs: [REF], grantee: { kind: 'PARTNER_CLIENT', id: 'umang' } },
        }),
      );
      expect(error.code).toBe('PERMISSION_DENIED');
      await expect(
        service.generate(umang, {
          mobile: MOBILE,
          purpose: 'CONSENT',
          consent: {
            beneficiaryRefs: [REF, OTHER_REF],
            grantee: { kind: 'PARTNER_CLIENT', id: 'umang' },
          },
        }),
      ).resolves.toBeDefined();
    });

    it('grants consent naming the beneficiary and the grantee, for 5 minutes', async () => {
      const { service, delivery, clock, store } = setup();
      const { txnId } = await service.generate(portal, {
        mobile: MOBILE,
        purpose: 'CONSENT',
        consent: staffConsent,
      });
      const { claims } = await service.confirm(portal, txnId, delivery.lastCode(txnId));
      expect(claims).toMatchObject({
        audience: AUDIENCE.consent,
        scopes: ['beneficiary:access'],
        consent: staffConsent,
        expiresAt: new Date(clock.now().getTime() + 5 * MINUTE),
      });
      expect(store.events.at(-1)).toMatchObject({ type: 'otp.confirmed', consent: staffConsent });
    });
  });
});

describe('ConfirmOtp', () => {
  it('exchanges the right code for a citizen token about the blind index, for 15 minutes', async () => {
    const { service, delivery, clock, store } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    clock.advance(MINUTE);
    const { token, claims } = await service.confirm(portal, txnId, delivery.lastCode(txnId));
    expect(token).toBe(`fake.${claims.tokenId}`);
    expect(claims).toMatchObject({
      subject: INDEX,
      audience: AUDIENCE.citizen,
      scopes: ['beneficiary:read', 'certificate:read'],
      purpose: 'CITIZEN_LOGIN',
      clientId: 'cowin-portal',
      keyId: 'fake-key',
      issuedAt: clock.now(),
      expiresAt: new Date(clock.now().getTime() + 15 * MINUTE),
    });
    expect(store.token(claims.tokenId)).toMatchObject({
      clientId: 'cowin-portal',
      keyId: 'fake-key',
    });
    expect(types(store.events)).toEqual(['otp.requested', 'otp.confirmed']);
  });

  it('signs a staff member in: a 15-minute session naming the staff id, role and centre', async () => {
    const { service, delivery, clock } = setup();
    const staff = { staffId: 'stf-1', role: 'VACCINATOR', centreId: 'ctr-1' } as const;
    const { txnId } = await service.generate(portal, {
      mobile: MOBILE,
      purpose: 'STAFF_LOGIN',
      staff,
    });
    const { claims } = await service.confirm(portal, txnId, delivery.lastCode(txnId));
    expect(claims).toMatchObject({
      audience: AUDIENCE.staff,
      subject: 'stf-1',
      scopes: ['staff'],
      staff: { role: 'VACCINATOR', centreId: 'ctr-1' },
    });
    expect(claims.expiresAt).toEqual(new Date(clock.now().getTime() + 15 * MINUTE));
  });

  it('needs the staff member for a staff sign-in, and refuses one for any other purpose', async () => {
    const { service } = setup();
    const staff = { staffId: 'stf-1', role: 'VACCINATOR', centreId: 'ctr-1' } as const;
    const missing = await refusal(
      service.generate(portal, { mobile: MOBILE, purpose: 'STAFF_LOGIN' }),
    );
    expect([missing.code, missing.reason]).toEqual(['INVALID_ARGUMENT', 'STAFF_REQUIRED']);
    const misplaced = await refusal(
      service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN', staff }),
    );
    expect([misplaced.code, misplaced.reason]).toEqual(['INVALID_ARGUMENT', 'STAFF_NOT_ALLOWED']);
  });

  describe('secret-code grants', () => {
    const identity = { clientId: 'svc-identity', scopes: ['token:issue-consent'] };
    const grant = (refs: string[], kind: 'STAFF' | 'PARTNER_CLIENT' = 'STAFF') => ({
      onBehalfOfClientId: 'vaccinator-app',
      mobileIndex: 'mobile-index-1',
      consent: {
        beneficiaryRefs: refs,
        grantee: { kind, id: kind === 'STAFF' ? 'stf-1' : 'vaccinator-app' },
      },
    });

    it('issues identity a 5-minute grant of one beneficiary to one staff member, recorded for revocation', async () => {
      const { service, store, clock } = setup();
      const { claims } = await service.issueSecretCodeGrant(identity, grant([REF]));
      expect(claims).toMatchObject({
        audience: AUDIENCE.consent,
        purpose: 'SECRET_CODE',
        subject: 'mobile-index-1',
        clientId: 'vaccinator-app',
        consent: { beneficiaryRefs: [REF], grantee: { kind: 'STAFF', id: 'stf-1' } },
      });
      expect(claims.expiresAt).toEqual(new Date(clock.now().getTime() + 5 * MINUTE));
      expect(store.token(claims.tokenId)).toMatchObject({ clientId: 'vaccinator-app' });
    });

    it('refuses any other caller, and grants of other shapes', async () => {
      const { service } = setup();
      const other = await refusal(
        service.issueSecretCodeGrant({ clientId: 'umang', scopes: [] }, grant([REF])),
      );
      expect([other.code, other.reason]).toEqual(['PERMISSION_DENIED', 'ISSUE_NOT_ALLOWED']);
      for (const bad of [grant([]), grant([REF, OTHER_REF]), grant([REF], 'PARTNER_CLIENT')]) {
        const refused = await refusal(service.issueSecretCodeGrant(identity, bad));
        expect(refused.code).toBe('INVALID_ARGUMENT');
      }
    });
  });

  it('refuses a malformed code without spending an attempt or echoing it', async () => {
    const { service, delivery, store } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    for (const otp of ['12345', '1234567', 'abcdef', '']) {
      const error = await refusal(service.confirm(portal, txnId, otp));
      expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', 'OTP_MALFORMED']);
      if (otp) expect(error.message).not.toContain(otp);
    }
    expect(store.transactionById(txnId)?.failedAttempts).toBe(0);
    await expect(service.confirm(portal, txnId, delivery.lastCode(txnId))).resolves.toBeDefined();
  });

  it('counts a wrong code, says how many attempts are left, and records it although the call fails', async () => {
    const { service, delivery, store } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    const code = delivery.lastCode(txnId);
    const error = await refusal(service.confirm(portal, txnId, wrongCode(code)));
    expect([error.code, error.reason, error.message]).toEqual([
      'UNAUTHENTICATED',
      'OTP_WRONG_CODE',
      'wrong code; 2 attempts left',
    ]);
    expect(store.transactionById(txnId)?.failedAttempts).toBe(1);
    expect(store.guard(INDEX)?.consecutiveFailures).toBe(1);
    expect(store.events.at(-1)).toMatchObject({
      type: 'otp.failed',
      reason: 'WRONG_CODE',
      attemptsLeft: 2,
      consecutiveFailures: 1,
    });
    expect((await refusal(service.confirm(portal, txnId, wrongCode(code)))).message).toBe(
      'wrong code; 1 attempt left',
    );
  });

  it('kills the transaction after 3 wrong codes: the right code is refused afterwards', async () => {
    const { service, delivery, store } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    const code = delivery.lastCode(txnId);
    for (let i = 1; i <= MAX_CONFIRM_ATTEMPTS; i++) {
      expect((await refusal(service.confirm(portal, txnId, wrongCode(code)))).code).toBe(
        'UNAUTHENTICATED',
      );
    }
    const error = await refusal(service.confirm(portal, txnId, code));
    expect([error.code, error.reason]).toEqual(['FAILED_PRECONDITION', 'OTP_ATTEMPTS_EXHAUSTED']);
    expect(store.events.at(-1)).toMatchObject({
      type: 'otp.failed',
      reason: 'ATTEMPTS_EXHAUSTED',
      attemptsLeft: 0,
    });
    expect(store.transactionById(txnId)?.failedAttempts).toBe(3);
  });

  it('refuses an expired code: valid for 3 minutes, not a millisecond more', async () => {
    const { service, delivery, clock } = setup();
    const first = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    const second = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    clock.advance(3 * MINUTE - 1);
    await expect(
      service.confirm(portal, first.txnId, delivery.lastCode(first.txnId)),
    ).resolves.toBeDefined();
    clock.advance(1);
    const error = await refusal(
      service.confirm(portal, second.txnId, delivery.lastCode(second.txnId)),
    );
    expect([error.code, error.reason]).toEqual(['FAILED_PRECONDITION', 'OTP_EXPIRED']);
  });

  it('accepts a code once only', async () => {
    const { service, delivery, store } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    const code = delivery.lastCode(txnId);
    await service.confirm(portal, txnId, code);
    const error = await refusal(service.confirm(portal, txnId, code));
    expect([error.code, error.reason]).toEqual(['FAILED_PRECONDITION', 'OTP_ALREADY_USED']);
    expect(store.events.at(-1)).toMatchObject({ type: 'otp.failed', reason: 'ALREADY_USED' });
  });

  it("treats another client's transaction and an unknown one alike: NOT_FOUND", async () => {
    const { service, delivery, store } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    const stolen = await refusal(service.confirm(umang, txnId, delivery.lastCode(txnId)));
    const unknown = await refusal(
      service.confirm(umang, '00000000-0000-4000-8000-000000000000', '123456'),
    );
    expect([stolen.code, stolen.message, stolen.reason]).toEqual([
      unknown.code,
      unknown.message,
      unknown.reason,
    ]);
    expect([stolen.code, stolen.reason]).toEqual(['NOT_FOUND', 'OTP_TXN_NOT_FOUND']);
    expect(store.transactionById(txnId)?.failedAttempts).toBe(0);
    const resent = await refusal(service.resend(umang, txnId));
    expect([resent.code, resent.reason]).toEqual(['NOT_FOUND', 'OTP_TXN_NOT_FOUND']);
    expect((await refusal(service.confirm(portal, 'not-a-uuid', '123456'))).code).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('writes nothing when signing fails half-way', async () => {
    const { service, delivery, store } = setup({
      signer: { sign: () => Promise.reject(new Error('no key')) },
    });
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    await expect(service.confirm(portal, txnId, delivery.lastCode(txnId))).rejects.toThrow(
      'no key',
    );
    expect(store.transactionById(txnId)?.confirmedAt).toBeUndefined();
    expect(types(store.events)).toEqual(['otp.requested']);
  });
});

describe('ResendOtp', () => {
  it('waits for the 30-second cooldown, with the wait in the refusal', async () => {
    const { service, clock } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    clock.advance(10_000);
    const error = await refusal(service.resend(portal, txnId));
    expect([error.code, error.reason, error.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
      'OTP_RESEND_COOLDOWN',
      20_000,
    ]);
    clock.advance(20_000);
    await expect(service.resend(portal, txnId)).resolves.toBeDefined();
  });

  it('sends a new code that replaces the old one, without resetting the attempts', async () => {
    const codes = ['111111', '222222'];
    const { service, delivery, clock, store } = setup({
      generateCode: () => codes.shift() ?? '999999',
    });
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    const oldCode = delivery.lastCode(txnId);
    await refusal(service.confirm(portal, txnId, wrongCode(oldCode)));
    clock.advance(RESEND_COOLDOWN_MS);
    const resent = await service.resend(portal, txnId);
    expect(resent.expiresAt).toEqual(new Date(clock.now().getTime() + 3 * MINUTE));
    const newCode = delivery.lastCode(txnId);
    expect(store.transactionById(txnId)).toMatchObject({ sendCount: 2, failedAttempts: 1 });
    expect(store.events.at(-1)).toMatchObject({ type: 'otp.requested', sendNumber: 2 });
    expect([oldCode, newCode]).toEqual(['111111', '222222']);
    expect((await refusal(service.confirm(portal, txnId, oldCode))).code).toBe('UNAUTHENTICATED');
    await expect(service.confirm(portal, txnId, newCode)).resolves.toBeDefined();
  });

  it('revives an expired code within the 10-minute transaction life', async () => {
    const { service, delivery, clock } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    clock.advance(4 * MINUTE);
    await service.resend(portal, txnId);
    await expect(service.confirm(portal, txnId, delivery.lastCode(txnId))).resolves.toBeDefined();
  });

  it('sends at most 3 codes per transaction', async () => {
    const { service, clock } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    for (let i = 0; i < 2; i++) {
      clock.advance(RESEND_COOLDOWN_MS);
      await service.resend(portal, txnId);
    }
    clock.advance(RESEND_COOLDOWN_MS);
    const error = await refusal(service.resend(portal, txnId));
    expect([error.code, error.reason]).toEqual(['FAILED_PRECONDITION', 'OTP_RESENDS_EXHAUSTED']);
  });

  it('caps every code at the 10-minute transaction life and refuses resends after it', async () => {
    const { service, clock } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    clock.advance(9 * MINUTE);
    const resent = await service.resend(portal, txnId);
    expect(resent.expiresAt).toEqual(new Date(clock.now().getTime() + MINUTE));
    clock.advance(MINUTE);
    const error = await refusal(service.resend(portal, txnId));
    expect([error.code, error.reason]).toEqual(['FAILED_PRECONDITION', 'OTP_TXN_EXPIRED']);
  });

  it('refuses resends of used or dead transactions', async () => {
    const { service, delivery, clock } = setup();
    const used = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    await service.confirm(portal, used.txnId, delivery.lastCode(used.txnId));
    const dead = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    for (let i = 0; i < 3; i++)
      await refusal(service.confirm(portal, dead.txnId, wrongCode(delivery.lastCode(dead.txnId))));
    clock.advance(RESEND_COOLDOWN_MS);
    expect((await refusal(service.resend(portal, used.txnId))).reason).toBe('OTP_ALREADY_USED');
    expect((await refusal(service.resend(portal, dead.txnId))).reason).toBe(
      'OTP_ATTEMPTS_EXHAUSTED',
    );
  });
});

describe('quotas', () => {
  it('sends 5 codes per mobile per 15 minutes, then says when the next one fits', async () => {
    const { service, clock } = setup();
    for (let i = 0; i < 5; i++) {
      await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
      clock.advance(MINUTE);
    }
    const error = await refusal(
      service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    );
    // The oldest of the 5 was sent 5 minutes ago: 10 more minutes.
    expect([error.code, error.reason, error.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
      'MOBILE_QUOTA_15M',
      10 * MINUTE,
    ]);
    expect(error.message).not.toContain(MOBILE);
    // Another mobile is not affected.
    await expect(
      service.generate(portal, { mobile: '9876500000', purpose: 'CITIZEN_LOGIN' }),
    ).resolves.toBeDefined();
    clock.advance(10 * MINUTE);
    await expect(
      service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    ).resolves.toBeDefined();
  });

  it('sends 20 codes per mobile per 24 hours', async () => {
    const { service, clock } = setup();
    for (let i = 0; i < 20; i++) {
      await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
      clock.advance(15 * MINUTE);
    }
    const error = await refusal(
      service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.reason, error.retryAfterMs]).toEqual([
      'MOBILE_QUOTA_24H',
      24 * 60 * MINUTE - 20 * 15 * MINUTE,
    ]);
  });

  it('counts resends against the mobile quota', async () => {
    const { service, clock } = setup();
    const { txnId } = await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    for (let i = 0; i < 2; i++) {
      clock.advance(RESEND_COOLDOWN_MS);
      await service.resend(portal, txnId);
    }
    await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    await service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' });
    expect(
      (await refusal(service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' })))
        .reason,
    ).toBe('MOBILE_QUOTA_15M');
  });

  it('limits each client per minute, as configured', async () => {
    const { service, clock } = setup({ clientQuotaPerMinute: 3 });
    for (let i = 0; i < 3; i++) {
      await service.generate(portal, { mobile: `98765000${i}0`, purpose: 'CITIZEN_LOGIN' });
      clock.advance(10_000);
    }
    const error = await refusal(
      service.generate(portal, { mobile: '9876500099', purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.code, error.reason, error.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
      'CLIENT_QUOTA',
      30_000,
    ]);
    await expect(
      service.generate(umang, { mobile: '9876500099', purpose: 'CITIZEN_LOGIN' }),
    ).resolves.toBeDefined();
  });

  it('a refused send costs the client no quota: the next fits once the admitted one leaves the minute', async () => {
    const { service, clock } = setup({ clientQuotaPerMinute: 1 });
    await service.generate(portal, { mobile: '9876500010', purpose: 'CITIZEN_LOGIN' });
    clock.advance(30_000);
    const error = await refusal(
      service.generate(portal, { mobile: '9876500011', purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.reason, error.retryAfterMs]).toEqual(['CLIENT_QUOTA', 30_000]);
    clock.advance(30_000);
    await expect(
      service.generate(portal, { mobile: '9876500012', purpose: 'CITIZEN_LOGIN' }),
    ).resolves.toBeDefined();
  });

  it('counts a client send from the start of its second', async () => {
    const { service, clock } = setup({ clientQuotaPerMinute: 1 });
    clock.advance(999);
    await service.generate(portal, { mobile: '9876500020', purpose: 'CITIZEN_LOGIN' });
    clock.advance(59_000);
    const error = await refusal(
      service.generate(portal, { mobile: '9876500021', purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.reason, error.retryAfterMs]).toEqual(['CLIENT_QUOTA', 1]);
    clock.advance(1);
    await expect(
      service.generate(portal, { mobile: '9876500022', purpose: 'CITIZEN_LOGIN' }),
    ).resolves.toBeDefined();
  });
});

describe('mobile lockout', () => {
  async function failOnce(env: ReturnType<typeof setup>, mobile = MOBILE): Promise<void> {
    const { txnId } = await env.service.generate(portal, { mobile, purpose: 'CITIZEN_LOGIN' });
    for (let i = 0; i < MAX_CONFIRM_ATTEMPTS; i++) {
      await refusal(env.service.confirm(portal, txnId, wrongCode(env.delivery.lastCode(txnId))));
    }
    // Spread the transactions so no send quota interferes.
    env.clock.advance(2 * 60 * MINUTE);
  }

  it('locks a mobile for an hour at its 100th consecutive wrong code (the NIST default)', async () => {
    const env = setup();
    for (let txn = 0; txn < 33; txn++) await failOnce(env); // 99 wrong codes
    expect(env.store.guard(INDEX)?.consecutiveFailures).toBe(99);
    const { txnId } = await env.service.generate(portal, {
      mobile: MOBILE,
      purpose: 'CITIZEN_LOGIN',
    });
    const code = env.delivery.lastCode(txnId);
    await refusal(env.service.confirm(portal, txnId, wrongCode(code)));
    expect(env.store.events.at(-1)).toMatchObject({
      type: 'otp.locked',
      consecutiveFailures: 100,
      lockedUntil: new Date(env.clock.now().getTime() + MOBILE_LOCKOUT_MS),
    });
    // Locked: even the right code of a live transaction is refused, and no code is sent.
    const confirm = await refusal(env.service.confirm(portal, txnId, code));
    expect([confirm.code, confirm.reason, confirm.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
      'MOBILE_LOCKED',
      MOBILE_LOCKOUT_MS,
    ]);
    const generate = await refusal(
      env.service.generate(umang, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    );
    expect([generate.reason, generate.retryAfterMs]).toEqual(['MOBILE_LOCKED', MOBILE_LOCKOUT_MS]);
    env.clock.advance(MOBILE_LOCKOUT_MS);
    await expect(
      env.service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    ).resolves.toBeDefined();
  });

  it('counts consecutive failures only: a success starts the count again', async () => {
    const env = setup({ lockoutFailures: 4 });
    await failOnce(env);
    const { txnId } = await env.service.generate(portal, {
      mobile: MOBILE,
      purpose: 'CITIZEN_LOGIN',
    });
    await env.service.confirm(portal, txnId, env.delivery.lastCode(txnId));
    expect(env.store.guard(INDEX)?.consecutiveFailures).toBe(0);
    await failOnce(env);
    expect(env.store.guard(INDEX)).toMatchObject({
      consecutiveFailures: 3,
      lockedUntil: undefined,
    });
  });

  it('cannot be configured weaker than NIST allows', () => {
    expect(() => setup({ lockoutFailures: 101 })).toThrow(RangeError);
  });
});

describe('RevokeToken', () => {
  async function issued(env: ReturnType<typeof setup>) {
    const { txnId } = await env.service.generate(portal, {
      mobile: MOBILE,
      purpose: 'CITIZEN_LOGIN',
    });
    return (await env.service.confirm(portal, txnId, env.delivery.lastCode(txnId))).claims;
  }

  it('revokes once, idempotently, publishing one event', async () => {
    const env = setup();
    const claims = await issued(env);
    await env.service.revoke(portal, claims.tokenId);
    await env.service.revoke(portal, claims.tokenId);
    expect(env.store.events.filter((e) => e.type === 'token.revoked')).toEqual([
      expect.objectContaining({
        tokenId: claims.tokenId,
        expiresAt: claims.expiresAt,
        clientId: 'cowin-portal',
      }),
    ]);
    expect(env.store.token(claims.tokenId)?.revokedAt).toEqual(env.clock.now());
  });

  it("refuses to revoke another client's token, and says NOT_FOUND for unknown ones", async () => {
    const env = setup();
    const claims = await issued(env);
    const stolen = await refusal(env.service.revoke(umang, claims.tokenId));
    expect([stolen.code, stolen.reason]).toEqual(['PERMISSION_DENIED', 'NOT_TOKEN_OWNER']);
    const unknown = await refusal(
      env.service.revoke(portal, '00000000-0000-4000-8000-000000000000'),
    );
    expect([unknown.code, unknown.reason]).toEqual(['NOT_FOUND', 'TOKEN_NOT_FOUND']);
    expect((await refusal(env.service.revoke(portal, 'nope'))).code).toBe('INVALID_ARGUMENT');
    expect(env.store.token(claims.tokenId)?.revokedAt).toBeUndefined();
  });
});

describe("a citizen's consents: ListMyConsents and WithdrawConsent", () => {
  const OTHER_MOBILE = '9876500001';
  const citizen = { mobileIndex: INDEX, clientId: 'web' };
  const stranger = {
    mobileIndex: mobileBlindIndex(indexKey, OTHER_MOBILE as Mobile),
    clientId: 'web',
  };
  const consentTo = (staffId: string): Consent => ({
    beneficiaryRefs: [REF, OTHER_REF],
    grantee: { kind: 'STAFF', id: staffId },
  });
  const identity = { clientId: 'svc-identity', scopes: ['token:issue-consent'] };

  /** A grant by OTP for the vaccinator's app, naming `mobile`. */
  async function otpGrant(env: ReturnType<typeof setup>, mobile: string, staffId: string) {
    const { txnId } = await env.service.generate(portal, {
      mobile,
      purpose: 'CONSENT',
      consent: consentTo(staffId),
    });
    return (await env.service.confirm(portal, txnId, env.delivery.lastCode(txnId))).claims;
  }

  it('lists the grants in force naming the mobile, newest first, by OTP and by secret code', async () => {
    const env = setup();
    const first = await otpGrant(env, MOBILE, 'stf-1');
    env.clock.advance(MINUTE);
    const { claims: second } = await env.service.issueSecretCodeGrant(identity, {
      onBehalfOfClientId: 'vaccinator-app',
      mobileIndex: INDEX,
      consent: { beneficiaryRefs: [REF], grantee: { kind: 'STAFF', id: 'stf-2' } },
    });
    await otpGrant(env, OTHER_MOBILE, 'stf-3');
    // A citizen's own sign-in is no grant.
    const { txnId } = await env.service.generate(portal, {
      mobile: MOBILE,
      purpose: 'CITIZEN_LOGIN',
    });
    await env.service.confirm(portal, txnId, env.delivery.lastCode(txnId));

    expect(await env.service.listMyConsents(citizen)).toEqual([
      {
        grantId: second.tokenId,
        clientId: 'vaccinator-app',
        purpose: 'SECRET_CODE',
        consent: { beneficiaryRefs: [REF], grantee: { kind: 'STAFF', id: 'stf-2' } },
        issuedAt: second.issuedAt,
        expiresAt: second.expiresAt,
      },
      {
        grantId: first.tokenId,
        clientId: 'cowin-portal',
        purpose: 'CONSENT',
        consent: consentTo('stf-1'),
        issuedAt: first.issuedAt,
        expiresAt: first.expiresAt,
      },
    ]);
    // The first expires 5 minutes after it was issued, not a millisecond later.
    env.clock.advance(4 * MINUTE);
    expect((await env.service.listMyConsents(citizen)).map((g) => g.grantId)).toEqual([
      second.tokenId,
    ]);
  });

  it('withdraws a grant: revoked for every service, recorded as withdrawn, gone from the list; again changes nothing', async () => {
    const env = setup();
    const grant = await otpGrant(env, MOBILE, 'stf-1');
    await env.service.withdrawConsent(citizen, grant.tokenId);
    expect(env.store.token(grant.tokenId)?.revokedAt).toEqual(env.clock.now());
    const withdrawn = env.store.events.filter(
      (e) => e.type === 'token.revoked' || e.type === 'consent.withdrawn',
    );
    expect(withdrawn).toEqual([
      {
        type: 'token.revoked',
        clientId: 'web',
        occurredAt: env.clock.now(),
        tokenId: grant.tokenId,
        expiresAt: grant.expiresAt,
      },
      {
        type: 'consent.withdrawn',
        clientId: 'web',
        occurredAt: env.clock.now(),
        mobileIndex: INDEX,
        tokenId: grant.tokenId,
        consent: consentTo('stf-1'),
        expiresAt: grant.expiresAt,
      },
    ]);
    expect(await env.service.listMyConsents(citizen)).toEqual([]);

    const eventsBefore = env.store.events.length;
    await env.service.withdrawConsent(citizen, grant.tokenId);
    const expired = await otpGrant(env, MOBILE, 'stf-2');
    env.clock.advance(5 * MINUTE);
    await env.service.withdrawConsent(citizen, expired.tokenId);
    expect(types(env.store.events.slice(eventsBefore))).toEqual(['otp.requested', 'otp.confirmed']);
  });

  it("refuses another mobile's grant exactly as an unknown one, and a token that is no grant", async () => {
    const env = setup();
    const grant = await otpGrant(env, MOBILE, 'stf-1');
    const theirs = await refusal(env.service.withdrawConsent(stranger, grant.tokenId));
    const unknown = await refusal(
      env.service.withdrawConsent(citizen, '00000000-0000-4000-8000-000000000000'),
    );
    for (const error of [theirs, unknown]) {
      expect([error.code, error.reason, error.message]).toEqual([
        'NOT_FOUND',
        'CONSENT_NOT_FOUND',
        'no such consent grant',
      ]);
    }
    const { txnId } = await env.service.generate(portal, {
      mobile: MOBILE,
      purpose: 'CITIZEN_LOGIN',
    });
    const signIn = (await env.service.confirm(portal, txnId, env.delivery.lastCode(txnId))).claims;
    expect((await refusal(env.service.withdrawConsent(citizen, signIn.tokenId))).reason).toBe(
      'CONSENT_NOT_FOUND',
    );
    const malformed = await refusal(env.service.withdrawConsent(citizen, 'nope'));
    expect([malformed.code, malformed.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_GRANT_ID']);
    expect(env.store.token(grant.tokenId)?.revokedAt).toBeUndefined();
    expect(await env.service.listMyConsents(stranger)).toEqual([]);
  });
});

describe('SMS delivery port', () => {
  it('reports a gateway failure as UNAVAILABLE; the send still counts against the quotas', async () => {
    const { service, delivery, store } = setup();
    delivery.failNext = true;
    const error = await refusal(
      service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.code, error.reason]).toEqual(['UNAVAILABLE', 'OTP_DELIVERY_FAILED']);
    expect(store.sends).toHaveLength(1);
  });

  it('a destination the SMS centre refuses for good is INVALID_ARGUMENT, not an outage to retry', async () => {
    const { service, delivery, store } = setup();
    delivery.refuseNext = new DeliveryRefused(true, 'ESME_RINVDSTADR');
    const error = await refusal(
      service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', 'OTP_DESTINATION_REFUSED']);
    expect(error.message).not.toContain(MOBILE.slice(-4));
    expect(store.sends).toHaveLength(1);
  });

  it('a refusal that may pass later (throttled past the time allowed) is UNAVAILABLE', async () => {
    const { service, delivery } = setup();
    delivery.refuseNext = new DeliveryRefused(false, 'ESME_RTHROTTLED');
    const error = await refusal(
      service.generate(portal, { mobile: MOBILE, purpose: 'CITIZEN_LOGIN' }),
    );
    expect([error.code, error.reason]).toEqual(['UNAVAILABLE', 'OTP_DELIVERY_FAILED']);
  });
});
