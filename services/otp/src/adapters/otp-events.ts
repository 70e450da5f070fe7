import {
  buildEvent,
  eventActor,
  EVENTS,
  GRANTEE_KIND,
  OTP_FAILURE_REASON,
  OTP_PURPOSE,
  type OutgoingEvent,
  SubjectKind,
} from '@vaxguard/event-catalogue';
import type { otpV1 } from '@vaxguard/proto';
import type { Consent, OtpEvent } from '../domain/model';

export function consentToProto(consent: Consent): otpV1.ConsentScope {
  return {
    beneficiaryRef: '',
    beneficiaryRefs: [...consent.beneficiaryRefs],
    grantee: { kind: GRANTEE_KIND.toProto(consent.grantee.kind), id: consent.grantee.id },
  };
}

/**
 * A domain event as the catalogue's envelope: actor the calling client (the citizen for a
 * withdrawn consent), subject the mobile's blind index (or the token id of a revocation).
 */
export function toOutgoingEvent(event: OtpEvent): OutgoingEvent {
  const base = {
    actor: eventActor('PARTNER_CLIENT', event.clientId),
    occurredAt: event.occurredAt,
  };
  const mobile = (ref: string) => ({ kind: SubjectKind.SUBJECT_KIND_MOBILE, ref });
  switch (event.type) {
    case 'otp.requested':
      return buildEvent(EVENTS.otpRequested, {
        ...base,
        subject: mobile(event.mobileIndex),
        payload: {
          txnId: event.txnId,
          purpose: OTP_PURPOSE.toProto(event.purpose),
          sendNumber: event.sendNumber,
          expiresAt: event.expiresAt,
        },
      });
    case 'otp.confirmed':
      return buildEvent(EVENTS.otpConfirmed, {
        ...base,
        subject: mobile(event.mobileIndex),
        payload: {
          txnId: event.txnId,
          purpose: OTP_PURPOSE.toProto(event.purpose),
          tokenId: event.tokenId,
          tokenExpiresAt: event.tokenExpiresAt,
          consent: event.consent ? consentToProto(event.consent) : undefined,
        },
      });
    case 'otp.failed':
      return buildEvent(EVENTS.otpFailed, {
        ...base,
        subject: mobile(event.mobileIndex),
        payload: {
          txnId: event.txnId,
          purpose: OTP_PURPOSE.toProto(event.purpose),
          reason: OTP_FAILURE_REASON.toProto(event.reason),
          attemptsLeft: event.attemptsLeft,
          consecutiveFailures: event.consecutiveFailures,
        },
      });
    case 'otp.client_quota_refused':
      return buildEvent(EVENTS.otpClientQuotaRefused, {
        ...base,
        subject: mobile(event.mobileIndex),
        payload: {
          purpose: OTP_PURPOSE.toProto(event.purpose),
          quotaPerMinute: event.quotaPerMinute,
        },
      });
    case 'otp.locked':
      return buildEvent(EVENTS.otpLocked, {
        ...base,
        subject: mobile(event.mobileIndex),
        payload: { consecutiveFailures: event.consecutiveFailures, lockedUntil: event.lockedUntil },
      });
    case 'consent.withdrawn':
      return buildEvent(EVENTS.consentWithdrawn, {
        // The citizen withdrew it: named by the mobile's blind index, as other services name citizens.
        actor: eventActor('CITIZEN', event.mobileIndex, event.clientId),
        occurredAt: event.occurredAt,
        subject: mobile(event.mobileIndex),
        payload: {
          tokenId: event.tokenId,
          consent: consentToProto(event.consent),
          expiresAt: event.expiresAt,
        },
      });
    case 'token.revoked':
      return buildEvent(EVENTS.tokenRevoked, {
        ...base,
        subject: { kind: SubjectKind.SUBJECT_KIND_TOKEN, ref: event.tokenId },
        payload: { tokenId: event.tokenId, expiresAt: event.expiresAt },
      });
  }
}
