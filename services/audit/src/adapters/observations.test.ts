import { describe, expect, it } from 'vitest';
import {
  ActorKind,
  buildEvent,
  decodeEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
  type DecodedEvent,
  type EventDefinition,
  type OutgoingEvent,
} from '@vaxguard/event-catalogue';
import { otpV1 } from '@vaxguard/proto';
import { IGNORED_EVENTS, observationOf } from './observations';

const at = new Date('2026-03-02T06:00:00Z');
const staff = { kind: ActorKind.ACTOR_KIND_STAFF, principalId: 'stf_1', clientId: 'console' };
const beneficiary = { kind: SubjectKind.SUBJECT_KIND_BENEFICIARY, ref: 'bnf_abc' };
const mobile = { kind: SubjectKind.SUBJECT_KIND_MOBILE, ref: 'mobile-index' };
const staffSubject = { kind: SubjectKind.SUBJECT_KIND_STAFF, ref: 'stf_2' };
const portal = {
  kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT,
  principalId: 'staff-portal',
  clientId: 'staff-portal',
};

/** Through the wire and the catalogue, as the consumer sees it. */
function decoded(event: OutgoingEvent): DecodedEvent {
  const result = decodeEvent(encodeEnvelope(event.envelope));
  if (!result.ok) throw new Error(result.reason);
  return result.event;
}

const observed = (event: OutgoingEvent) => observationOf(decoded(event));
const method = '/vaxguard.identity.v1.IdentityService/GetBeneficiary';
const staffActor = { kind: 'STAFF', principalId: 'stf_1', clientId: 'console' };

describe('observationOf', () => {
  it('maps failed staff sign-ins to the client they came through, by account or unknown username index', () => {
    const failed = (subject: typeof staffSubject) =>
      observed(
        buildEvent(EVENTS.staffLoginFailed, {
          actor: portal,
          subject,
          payload: { failures: 1, accountLocked: false, clientThrottled: false },
          occurredAt: at,
        }),
      );
    const portalActor = {
      kind: 'PARTNER_CLIENT',
      principalId: 'staff-portal',
      clientId: 'staff-portal',
    };
    expect(failed(staffSubject)).toEqual({
      kind: 'STAFF_LOGIN_FAILED',
      actor: portalActor,
      occurredAt: at,
      subject: { kind: 'STAFF', staffId: 'stf_2' },
    });
    expect(
      failed({ kind: SubjectKind.SUBJECT_KIND_STAFF_USERNAME, ref: 'username-index' }),
    ).toMatchObject({ subject: { kind: 'STAFF_USERNAME', usernameIndex: 'username-index' } });
    expect(failed(mobile)).toBeUndefined();
    const locked = (subject: typeof staffSubject) =>
      observed(
        buildEvent(EVENTS.staffLoginLocked, {
          actor: portal,
          subject,
          payload: { failures: 10 },
          occurredAt: at,
        }),
      );
    expect(locked(staffSubject)).toEqual({
      kind: 'STAFF_LOGIN_LOCKED',
      actor: portalActor,
      occurredAt: at,
      subject: { kind: 'STAFF', staffId: 'stf_2' },
    });
    expect(
      locked({ kind: SubjectKind.SUBJECT_KIND_STAFF_USERNAME, ref: 'username-index' }),
    ).toBeUndefined();
  });

  it("maps identity's reads by their stated basis, a consent counting only with its grant", () => {
    const read = (basis: string, grantId: string) =>
      observed(
        buildEvent(EVENTS.accessGranted, {
          actor: staff,
          subject: beneficiary,
          payload: { method, basis, grantId },
          occurredAt: at,
        }),
      );
    expect(read('CONSENT', 'grant-1')).toEqual({
      kind: 'READ_GRANTED',
      actor: staffActor,
      occurredAt: at,
      subject: { kind: 'BENEFICIARY', beneficiaryRef: 'bnf_abc' },
      basis: { kind: 'CONSENT', grantId: 'grant-1' },
    });
    expect(read('OWNER', '')).toMatchObject({ basis: { kind: 'OWNER' } });
    expect(read('CONSENT', '')).toMatchObject({ basis: { kind: 'NONE' } });
    expect(read('SOMETHING', 'grant-1')).toMatchObject({ basis: { kind: 'NONE' } });
  });

  it("maps vaccination-record's reads by the reader's role and grant", () => {
    const read = (role: string, grantId: string) =>
      observed(
        buildEvent(EVENTS.recordAccessed, {
          actor: staff,
          subject: beneficiary,
          payload: { method, role, centreOrPartner: 'ctr_1', purpose: 'VACCINATION', grantId },
          occurredAt: at,
        }),
      );
    expect(read('VACCINATOR', 'grant-2')).toMatchObject({
      kind: 'READ_GRANTED',
      basis: { kind: 'CONSENT', grantId: 'grant-2' },
    });
    expect(read('CITIZEN', '')).toMatchObject({ basis: { kind: 'OWNER' } });
    expect(read('VACCINATOR', '')).toMatchObject({ basis: { kind: 'NONE' } });
  });

  it('maps refusals, canaries, consent requests and OTP events; drops the rest', () => {
    const denied = buildEvent(EVENTS.accessDenied, {
      actor: staff,
      subject: { kind: SubjectKind.SUBJECT_KIND_UNSPECIFIED, ref: '' },
      payload: { method, reason: 'NO_CONSENT' },
      occurredAt: at,
    });
    expect(observed(denied)).toMatchObject({ kind: 'READ_DENIED', subject: undefined });
    const recordDenied = buildEvent(EVENTS.recordAccessDenied, {
      actor: staff,
      subject: beneficiary,
      payload: {
        method,
        role: 'VACCINATOR',
        centreOrPartner: '',
        purpose: '',
        reason: 'NO_CONSENT',
      },
      occurredAt: at,
    });
    expect(observed(recordDenied)).toMatchObject({
      kind: 'READ_DENIED',
      subject: { beneficiaryRef: 'bnf_abc' },
    });
    const canary = buildEvent(EVENTS.accessCanary, {
      actor: staff,
      subject: beneficiary,
      payload: { method },
      occurredAt: at,
    });
    expect(observed(canary)).toMatchObject({ kind: 'CANARY_READ' });
    const consent = buildEvent(EVENTS.consentRequested, {
      actor: staff,
      subject: mobile,
      payload: { txnId: 'txn', beneficiaryCount: 2, refusal: '' },
      occurredAt: at,
    });
    expect(observed(consent)).toMatchObject({
      kind: 'CONSENT_REQUESTED',
      subject: { kind: 'MOBILE', mobileIndex: 'mobile-index' },
      toNobodyRegistered: false,
    });
    // A code sent to a mobile with no beneficiaries, an unknown reference: nobody registered.
    // A refused request looked nobody up, whatever its count says.
    const consentWith = (payload: { txnId: string; beneficiaryCount: number; refusal: string }) =>
      observed(
        buildEvent(EVENTS.consentRequested, {
          actor: staff,
          subject: mobile,
          payload,
          occurredAt: at,
        }),
      );
    expect(consentWith({ txnId: 'txn', beneficiaryCount: 0, refusal: '' })).toMatchObject({
      toNobodyRegistered: true,
    });
    expect(consentWith({ txnId: '', beneficiaryCount: 0, refusal: '' })).toMatchObject({
      toNobodyRegistered: true,
    });
    expect(
      consentWith({ txnId: '', beneficiaryCount: 0, refusal: 'CONSENT_SMS_QUOTA' }),
    ).toMatchObject({ toNobodyRegistered: false });
    // A consent code is told apart from other codes (identity's event counts its request).
    const otpRequested = (purpose: otpV1.OtpPurpose) =>
      observed(
        buildEvent(EVENTS.otpRequested, {
          actor: staff,
          subject: mobile,
          payload: { txnId: 'txn', purpose, sendNumber: 1, expiresAt: at },
          occurredAt: at,
        }),
      );
    expect(otpRequested(otpV1.OtpPurpose.OTP_PURPOSE_CONSENT)).toMatchObject({
      kind: 'OTP_REQUESTED',
      forConsent: true,
    });
    expect(otpRequested(otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN)).toMatchObject({
      kind: 'OTP_REQUESTED',
      forConsent: false,
    });
    const otpFailed = buildEvent(EVENTS.otpFailed, {
      actor: { kind: ActorKind.ACTOR_KIND_CITIZEN, principalId: 'mobile-index', clientId: 'app' },
      subject: mobile,
      payload: { txnId: 'txn', purpose: 0, reason: 0, attemptsLeft: 2, consecutiveFailures: 1 },
      occurredAt: at,
    });
    expect(observed(otpFailed)).toMatchObject({ kind: 'OTP_FAILED' });
    const pump = {
      kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT,
      principalId: 'pump',
      clientId: 'pump',
    };
    const quotaRefused = buildEvent(EVENTS.otpClientQuotaRefused, {
      actor: pump,
      subject: mobile,
      payload: { purpose: 1, quotaPerMinute: 30 },
      occurredAt: at,
    });
    expect(observed(quotaRefused)).toEqual({
      kind: 'OTP_QUOTA_REFUSED',
      actor: { kind: 'PARTNER_CLIENT', principalId: 'pump', clientId: 'pump' },
      occurredAt: at,
      subject: { kind: 'MOBILE', mobileIndex: 'mobile-index' },
      quotaPerMinute: 30,
    });
    // A consent or staff sign-in code refused for the quota is the asker's doing, not the client's.
    for (const purpose of [2, 3]) {
      const onBehalf = buildEvent(EVENTS.otpClientQuotaRefused, {
        actor: pump,
        subject: mobile,
        payload: { purpose, quotaPerMinute: 30 },
        occurredAt: at,
      });
      expect(observed(onBehalf)).toBeUndefined();
    }
    const registered = buildEvent(EVENTS.beneficiaryRegistered, {
      actor: staff,
      subject: beneficiary,
      payload: { mobileIndex: 'mobile-index', photoIdKind: 1 },
      occurredAt: at,
    });
    expect(observed(registered)).toBeUndefined();
  });

  it('maps wrong and locking secret codes to the staff member who gave them', () => {
    const failed = buildEvent(EVENTS.secretCodeFailed, {
      actor: staff,
      subject: beneficiary,
      payload: { failures: 2 },
      occurredAt: at,
    });
    expect(observed(failed)).toEqual({
      kind: 'SECRET_CODE_FAILED',
      actor: staffActor,
      occurredAt: at,
      subject: { kind: 'BENEFICIARY', beneficiaryRef: 'bnf_abc' },
    });
    const locked = buildEvent(EVENTS.secretCodeLocked, {
      actor: staff,
      subject: beneficiary,
      payload: {},
      occurredAt: at,
    });
    expect(observed(locked)).toMatchObject({ kind: 'SECRET_CODE_LOCKED', actor: staffActor });
    const noSubject = buildEvent(EVENTS.secretCodeLocked, {
      actor: staff,
      subject: mobile,
      payload: {},
      occurredAt: at,
    });
    expect(observed(noSubject)).toBeUndefined();
  });

  it('drops an event without a known actor', () => {
    const anonymous = buildEvent(EVENTS.accessCanary, {
      actor: { kind: ActorKind.ACTOR_KIND_UNSPECIFIED, principalId: 'x', clientId: '' },
      subject: beneficiary,
      payload: { method },
      occurredAt: at,
    });
    expect(observed(anonymous)).toBeUndefined();
  });
});

/** Payloads an event needs before the rules read it; any other event is sent with defaults. */
const SAMPLE_PAYLOADS: ReadonlyMap<string, unknown> = new Map([
  [
    EVENTS.otpClientQuotaRefused.name,
    { purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, quotaPerMinute: 30 },
  ],
]);

/** The event as staff about a beneficiary, a mobile and a staff member, with a sample payload. */
function samplesOf(definition: EventDefinition): OutgoingEvent[] {
  const payload =
    SAMPLE_PAYLOADS.get(definition.name) ?? definition.payload.decode(new Uint8Array());
  return [beneficiary, mobile, staffSubject].map((subject) =>
    buildEvent(definition, { actor: staff, subject, payload, occurredAt: at }),
  );
}

describe('the events the anomaly rules read', () => {
  const catalogue = Object.values(EVENTS) as EventDefinition[];
  const ignored: Readonly<Record<string, string>> = IGNORED_EVENTS;

  it.each(catalogue.map((definition) => [definition.name, definition] as const))(
    '%s is read by a rule or ignored for a stated reason',
    (name, definition) => {
      const read = samplesOf(definition).filter((event) => observed(event) !== undefined);
      if (name in ignored) {
        expect(ignored[name]?.length).toBeGreaterThan(10);
        expect(read, `${name} is listed as ignored but a rule reads it`).toEqual([]);
      } else {
        expect(
          read.length,
          `${name} is neither read by a rule (observationOf) nor in IGNORED_EVENTS with its reason`,
        ).toBeGreaterThan(0);
      }
    },
  );

  it('lists as ignored only events of the catalogue', () => {
    const names = new Set(catalogue.map((definition) => definition.name));
    expect(Object.keys(ignored).filter((name) => !names.has(name))).toEqual([]);
  });
});
