import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isVaxGuardError, resourceExhausted } from '@vaxguard/errors';
import { documentBlindIndex, mobileBlindIndex, type Mobile } from '@vaxguard/pii';
import { BeneficiaryService } from './beneficiary-service';
import { ConsentService, type ConsentCodeSender, type ConsentRequester } from './consent-service';
import {
  DEFAULT_PARTNER_CONSENT_SMS_PER_MINUTE,
  STAFF_CONSENT_REQUESTS_PER_MINUTE,
} from './identity-rules';
import { InMemoryBeneficiaryStore } from './fakes';

const now = new Date('2026-11-22T10:00:00Z');
const MOBILE = '9876501234';
const EMPTY_MOBILE = '9876509999';
const indexOf = (mobile: string) => mobileBlindIndex(Buffer.alloc(32, 1), mobile as Mobile);
const partner: ConsentRequester = {
  kind: 'grantee',
  granteeKind: 'PARTNER_CLIENT',
  granteeId: 'umang',
  clientId: 'umang',
};

/** A store, a code sender that records what it sends, and the services, on a clock tests set. */
function setup() {
  const store = new InMemoryBeneficiaryStore();
  const sent: Parameters<ConsentCodeSender['send']>[0][] = [];
  let clock = now;
  const codes: ConsentCodeSender = {
    send: async (request) => {
      sent.push(request);
      return {
        txnId: `00000000-0000-4000-8000-00000000000${sent.length}`,
        expiresAt: new Date(clock.getTime() + 180_000),
      };
    },
  };
  const beneficiaries = new BeneficiaryService({
    store,
    clock: () => now,
    indexMobile: (mobile) => indexOf(mobile),
    indexPhotoId: (photoId) => documentBlindIndex(Buffer.alloc(32, 2), photoId),
    hashSecretCode: (ref, code) =>
      createHmac('sha256', Buffer.alloc(32, 3)).update(`${ref}:${code}`).digest(),
  });
  const consents = new ConsentService({
    store,
    codes,
    clock: () => clock,
    indexMobile: (mobile) => indexOf(mobile),
    newTxnId: () => '11111111-1111-4111-8111-111111111111',
    codeLifetimeMs: 180_000,
  });
  const register = (photoIdNumber: string) =>
    beneficiaries.register(
      { kind: 'citizen', mobileIndex: indexOf(MOBILE), clientId: 'portal' },
      {
        mobile: MOBILE,
        name: 'Asha Devi',
        gender: 'FEMALE',
        yearOfBirth: 1961,
        photoIdKind: 'AADHAAR',
        photoIdNumber,
      },
    );
  const setClock = (at: Date) => {
    clock = at;
  };
  return { store, sent, consents, register, setClock };
}

describe('ConsentService', () => {
  it('sends the mobile a code for all its beneficiaries, for the requester as grantee and owner', async () => {
    const { consents, sent, register, store } = setup();
    const a = await register('234123412346');
    const b = await register('499118665246');
    const answer = await consents.request(partner, { mobile: `+91 ${MOBILE}` });
    expect(answer.txnId).toBe('00000000-0000-4000-8000-000000000001');
    expect(sent).toEqual([
      {
        mobile: MOBILE,
        beneficiaryRefs: [a.beneficiary.beneficiaryRef, b.beneficiary.beneficiaryRef],
        grantee: { kind: 'PARTNER_CLIENT', id: 'umang' },
        ownerClientId: 'umang',
      },
    ]);
    expect(store.events.at(-1)).toMatchObject({
      type: 'consent.requested',
      subject: { kind: 'mobile', ref: indexOf(MOBILE) },
      beneficiaryCount: 2,
    });
  });

  it('counts a request the OTP service refused: the event names the refusal, the caller gets the refusal', async () => {
    const { store } = setup();
    const refusing = new ConsentService({
      store,
      codes: {
        send: async () => {
          throw resourceExhausted('this client has had its codes for the minute', 2_000, {
            reason: 'CLIENT_QUOTA',
          });
        },
      },
      clock: () => now,
      indexMobile: (mobile) => indexOf(mobile),
      newTxnId: () => '11111111-1111-4111-8111-111111111111',
      codeLifetimeMs: 180_000,
    });
    const refused = await refusing
      .request(partner, { mobile: MOBILE })
      .catch((error: unknown) => error);
    expect(isVaxGuardError(refused) && [refused.code, refused.reason]).toEqual([
      'RESOURCE_EXHAUSTED',
      'CLIENT_QUOTA',
    ]);
    expect(store.events.at(-1)).toMatchObject({
      type: 'consent.requested',
      actor: partner,
      subject: { kind: 'mobile', ref: indexOf(MOBILE) },
      txnId: undefined,
      beneficiaryCount: 0,
      refusal: 'CLIENT_QUOTA',
    });
  });

  it("caps a staff member's requests a minute before any code is sent; the one over is refused and still an event", async () => {
    const { store, sent, consents, setClock } = setup();
    const vaccinator: ConsentRequester = {
      kind: 'grantee',
      granteeKind: 'STAFF',
      granteeId: 'stf-1',
      clientId: 'portal',
    };
    const other: ConsentRequester = { ...vaccinator, granteeId: 'stf-2' };
    for (let i = 0; i < STAFF_CONSENT_REQUESTS_PER_MINUTE; i++) {
      await consents.request(vaccinator, { mobile: MOBILE });
    }
    const refused = await consents
      .request(vaccinator, { mobile: EMPTY_MOBILE })
      .catch((error: unknown) => error);
    expect(
      isVaxGuardError(refused) && [refused.code, refused.reason, refused.retryAfterMs],
    ).toEqual(['RESOURCE_EXHAUSTED', 'STAFF_CONSENT_RATE', 60_000]);
    expect(sent).toHaveLength(STAFF_CONSENT_REQUESTS_PER_MINUTE);
    expect(store.events.at(-1)).toMatchObject({
      type: 'consent.requested',
      actor: vaccinator,
      subject: { kind: 'mobile', ref: indexOf(EMPTY_MOBILE) },
      refusal: 'STAFF_CONSENT_RATE',
    });
    // Another staff member, and a partner, are not held back by this one.
    await consents.request(other, { mobile: MOBILE });
    await consents.request(partner, { mobile: MOBILE });
    // The next minute, the first may ask again.
    setClock(new Date(now.getTime() + 60_000));
    await consents.request(vaccinator, { mobile: MOBILE });
    expect(sent).toHaveLength(STAFF_CONSENT_REQUESTS_PER_MINUTE + 3);
  });

  it("caps a partner's consent SMS a minute before anyone is looked up; the one over is refused with the time to wait, and still an event", async () => {
    const { store, sent, consents, setClock } = setup();
    const refusalOf = (requester: ConsentRequester, target: { mobile: string }) =>
      consents.request(requester, target).then(
        () => undefined,
        (error: unknown) =>
          isVaxGuardError(error) ? [error.code, error.reason, error.retryAfterMs] : error,
      );
    for (let i = 0; i < DEFAULT_PARTNER_CONSENT_SMS_PER_MINUTE; i++) {
      await consents.request(partner, { mobile: `98765${String(10_000 + i)}` });
    }
    setClock(new Date(now.getTime() + 45_000));
    // A registered mobile and an unregistered one are refused alike.
    expect(await refusalOf(partner, { mobile: MOBILE })).toEqual([
      'RESOURCE_EXHAUSTED',
      'CONSENT_SMS_QUOTA',
      15_000,
    ]);
    expect(await refusalOf(partner, { mobile: EMPTY_MOBILE })).toEqual([
      'RESOURCE_EXHAUSTED',
      'CONSENT_SMS_QUOTA',
      15_000,
    ]);
    expect(sent).toHaveLength(DEFAULT_PARTNER_CONSENT_SMS_PER_MINUTE);
    expect(store.events.at(-1)).toMatchObject({
      type: 'consent.requested',
      actor: partner,
      subject: { kind: 'mobile', ref: indexOf(EMPTY_MOBILE) },
      beneficiaryCount: 0,
      refusal: 'CONSENT_SMS_QUOTA',
    });
    // Another partner is not held back by this one; the next minute, the first asks again.
    await consents.request(
      { ...partner, granteeId: 'aarogya', clientId: 'aarogya' },
      {
        mobile: MOBILE,
      },
    );
    setClock(new Date(now.getTime() + 60_000));
    await consents.request(partner, { mobile: MOBILE });
    expect(sent).toHaveLength(DEFAULT_PARTNER_CONSENT_SMS_PER_MINUTE + 2);
  });

  it("holds a partner to its own registry entry's quotas, a day's counted in IST; refusals by the minute do not spend the day", async () => {
    const { store, sent, consents, setClock } = setup();
    store.setConsentSmsQuota('umang', { consentSmsPerMinute: 2, consentSmsPerDay: 3 });
    const outcome = () =>
      consents.request(partner, { mobile: EMPTY_MOBILE }).then(
        () => 'sent',
        (error: unknown) => (isVaxGuardError(error) ? [error.reason, error.retryAfterMs] : error),
      );
    expect([await outcome(), await outcome(), await outcome()]).toEqual([
      'sent',
      'sent',
      ['CONSENT_SMS_QUOTA', 60_000],
    ]);
    const nextMinute = new Date(now.getTime() + 60_000);
    setClock(nextMinute);
    // 10:01 UTC is 15:31 IST: the day ends at 18:30 UTC.
    const toMidnightIst = Date.parse('2026-11-22T18:30:00Z') - nextMinute.getTime();
    expect([await outcome(), await outcome()]).toEqual([
      'sent',
      ['CONSENT_SMS_QUOTA', toMidnightIst],
    ]);
    setClock(new Date('2026-11-22T18:30:00Z'));
    expect(await outcome()).toBe('sent');
    expect(sent).toHaveLength(4);
  });

  it('refuses a malformed target before it counts against the quota', async () => {
    const { store, consents } = setup();
    store.setConsentSmsQuota('umang', { consentSmsPerMinute: 1 });
    await expect(consents.request(partner, { mobile: '12345' })).rejects.toMatchObject({
      reason: 'INVALID_MOBILE',
    });
    const answer = await consents.request(partner, { mobile: MOBILE });
    expect(answer.txnId).toBe('00000000-0000-4000-8000-000000000001');
  });

  it('reaches the mobile through a beneficiary reference the person gives, for that beneficiary alone', async () => {
    const { consents, sent, register } = setup();
    const a = await register('234123412346');
    await register('499118665246');
    await consents.request(partner, { beneficiaryRef: a.beneficiary.beneficiaryRef });
    expect(sent[0]).toEqual({
      mobile: MOBILE,
      beneficiaryRefs: [a.beneficiary.beneficiaryRef],
      grantee: { kind: 'PARTNER_CLIENT', id: 'umang' },
      ownerClientId: 'umang',
    });
  });

  it('answers alike for a mobile without beneficiaries: a code is sent, the grant opens nothing', async () => {
    const { consents, sent } = setup();
    const answer = await consents.request(partner, { mobile: EMPTY_MOBILE });
    expect(answer.txnId).toBe('00000000-0000-4000-8000-000000000001');
    expect(sent[0]).toMatchObject({ mobile: EMPTY_MOBILE, beneficiaryRefs: [] });
  });

  it('answers an unknown reference in the same shape, sending nothing', async () => {
    const { consents, sent, store } = setup();
    const answer = await consents.request(partner, {
      beneficiaryRef: 'bnf_7zzzzzzzzzzzzzzzzzzzzzzzzz',
    });
    expect(answer).toEqual({
      txnId: '11111111-1111-4111-8111-111111111111',
      expiresAt: new Date(now.getTime() + 180_000),
    });
    expect(sent).toEqual([]);
    expect(store.events.at(-1)).toMatchObject({ type: 'consent.requested', beneficiaryCount: 0 });
  });

  it('refuses a target that is neither a mobile nor a reference, without echoing it', async () => {
    const { consents } = setup();
    for (const target of [
      { mobile: '12345' },
      { beneficiaryRef: MOBILE },
      { beneficiaryRef: '' },
    ]) {
      let caught: unknown;
      try {
        await consents.request(partner, target);
      } catch (error) {
        caught = error;
      }
      expect(isVaxGuardError(caught) && caught.code).toBe('INVALID_ARGUMENT');
      expect((caught as Error).message).not.toContain(MOBILE);
    }
  });
});
