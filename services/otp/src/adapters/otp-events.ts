import {
  ActorKind,
  createEvent,
  payloadType,
  SubjectKind,
  type EventEnvelope,
} from '@vaxguard/events';
import { otpEventsV1, otpV1 } from '@vaxguard/proto';
import { TOKEN_REVOKED_EVENT, TokenRevokedPayload } from '@vaxguard/tokens';
import type { Consent, OtpEvent, OtpFailureReason, OtpPurpose } from '../domain/model';

export const OTP_PRODUCER = 'otp';

const OtpRequestedPayload = payloadType(
  otpEventsV1.protobufPackage,
  'OtpRequested',
  otpEventsV1.OtpRequested,
);
const OtpConfirmedPayload = payloadType(
  otpEventsV1.protobufPackage,
  'OtpConfirmed',
  otpEventsV1.OtpConfirmed,
);
const OtpFailedPayload = payloadType(
  otpEventsV1.protobufPackage,
  'OtpFailed',
  otpEventsV1.OtpFailed,
);
const OtpLockedPayload = payloadType(
  otpEventsV1.protobufPackage,
  'OtpLocked',
  otpEventsV1.OtpLocked,
);

export const PURPOSE_TO_PROTO: Readonly<Record<OtpPurpose, otpV1.OtpPurpose>> = {
  CITIZEN_LOGIN: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
  CONSENT: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
  STAFF_LOGIN: otpV1.OtpPurpose.OTP_PURPOSE_STAFF_LOGIN,
};

const FAILURE_TO_PROTO: Readonly<Record<OtpFailureReason, otpEventsV1.OtpFailureReason>> = {
  WRONG_CODE: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_WRONG_CODE,
  EXPIRED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_EXPIRED,
  ATTEMPTS_EXHAUSTED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_ATTEMPTS_EXHAUSTED,
  ALREADY_USED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_ALREADY_USED,
  MOBILE_LOCKED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_MOBILE_LOCKED,
};

export function consentToProto(consent: Consent): otpV1.ConsentScope {
  return {
    beneficiaryRef: consent.beneficiaryRef,
    grantee: {
      kind:
        consent.grantee.kind === 'STAFF'
          ? otpV1.GranteeKind.GRANTEE_KIND_STAFF
          : otpV1.GranteeKind.GRANTEE_KIND_PARTNER_CLIENT,
      id: consent.grantee.id,
    },
  };
}

/** A domain event as the envelope the outbox carries: actor the client, subject a blind index or token id. */
export function toEnvelope(event: OtpEvent): EventEnvelope {
  const base = {
    type: event.type,
    producer: OTP_PRODUCER,
    actor: {
      kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT,
      principalId: event.clientId,
      clientId: event.clientId,
    },
    occurredAt: event.occurredAt,
  };
  const mobile = (ref: string) => ({ kind: SubjectKind.SUBJECT_KIND_MOBILE, ref });
  switch (event.type) {
    case 'otp.requested':
      return createEvent({
        ...base,
        subject: mobile(event.mobileIndex),
        payloadType: OtpRequestedPayload,
        payload: {
          txnId: event.txnId,
          purpose: PURPOSE_TO_PROTO[event.purpose],
          sendNumber: event.sendNumber,
          expiresAt: event.expiresAt,
        },
      });
    case 'otp.confirmed':
      return createEvent({
        ...base,
        subject: mobile(event.mobileIndex),
        payloadType: OtpConfirmedPayload,
        payload: {
          txnId: event.txnId,
          purpose: PURPOSE_TO_PROTO[event.purpose],
          tokenId: event.tokenId,
          tokenExpiresAt: event.tokenExpiresAt,
          consent: event.consent ? consentToProto(event.consent) : undefined,
        },
      });
    case 'otp.failed':
      return createEvent({
        ...base,
        subject: mobile(event.mobileIndex),
        payloadType: OtpFailedPayload,
        payload: {
          txnId: event.txnId,
          purpose: PURPOSE_TO_PROTO[event.purpose],
          reason: FAILURE_TO_PROTO[event.reason],
          attemptsLeft: event.attemptsLeft,
          consecutiveFailures: event.consecutiveFailures,
        },
      });
    case 'otp.locked':
      return createEvent({
        ...base,
        subject: mobile(event.mobileIndex),
        payloadType: OtpLockedPayload,
        payload: { consecutiveFailures: event.consecutiveFailures, lockedUntil: event.lockedUntil },
      });
    case 'token.revoked':
      return createEvent({
        ...base,
        type: TOKEN_REVOKED_EVENT,
        subject: { kind: SubjectKind.SUBJECT_KIND_TOKEN, ref: event.tokenId },
        payloadType: TokenRevokedPayload,
        payload: { tokenId: event.tokenId, expiresAt: event.expiresAt },
      });
  }
}
