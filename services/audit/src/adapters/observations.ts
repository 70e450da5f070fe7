import { otpV1 } from '@vaxguard/proto';
import {
  ACTOR_KIND,
  EVENTS,
  isEvent,
  SubjectKind,
  type DecodedEvent,
} from '@vaxguard/event-catalogue';
import type {
  BeneficiarySubject,
  MobileSubject,
  Observation,
  ObservedActor,
  ReadBasis,
} from '../domain/anomaly-model';

/** The role vaccination-record names when a citizen reads their own record. */
const CITIZEN_ROLE = 'CITIZEN';

function actorOf(event: DecodedEvent): ObservedActor | undefined {
  const actor = event.envelope.actor;
  const kind = ACTOR_KIND.fromProto(actor?.kind ?? 0);
  if (!actor || !kind || !actor.principalId) return undefined;
  return { kind, principalId: actor.principalId, clientId: actor.clientId };
}

function beneficiaryOf(event: DecodedEvent): BeneficiarySubject | undefined {
  const subject = event.envelope.subject;
  if (subject?.kind !== SubjectKind.SUBJECT_KIND_BENEFICIARY || !subject.ref) return undefined;
  return { kind: 'BENEFICIARY', beneficiaryRef: subject.ref };
}

function mobileOf(event: DecodedEvent): MobileSubject | undefined {
  const subject = event.envelope.subject;
  if (subject?.kind !== SubjectKind.SUBJECT_KIND_MOBILE || !subject.ref) return undefined;
  return { kind: 'MOBILE', mobileIndex: subject.ref };
}

/** Identity states its basis; "CONSENT" counts only with the grant it rested on. */
function identityBasis(basis: string, grantId: string): ReadBasis {
  if (basis === 'OWNER') return { kind: 'OWNER' };
  if (basis === 'CONSENT' && grantId) return { kind: 'CONSENT', grantId };
  return { kind: 'NONE' };
}

/** Vaccination-record names the reader's role and the grant, if any, it used. */
function recordBasis(role: string, grantId: string): ReadBasis {
  if (role === CITIZEN_ROLE) return { kind: 'OWNER' };
  if (grantId) return { kind: 'CONSENT', grantId };
  return { kind: 'NONE' };
}

/**
 * What the anomaly rules see of an event, or nothing when the event is not one they
 * react to (or lacks the actor or subject the observation needs, which a well-formed
 * producer never omits).
 */
export function observationOf(event: DecodedEvent): Observation | undefined {
  const actor = actorOf(event);
  if (!actor) return undefined;
  const occurredAt = event.envelope.occurredAt ?? new Date(0);
  const base = { actor, occurredAt };
  if (isEvent(event, EVENTS.accessGranted) || isEvent(event, EVENTS.recordAccessed)) {
    const subject = beneficiaryOf(event);
    if (!subject) return undefined;
    const basis = isEvent(event, EVENTS.accessGranted)
      ? identityBasis(event.payload.basis, event.payload.grantId)
      : recordBasis(event.payload.role, event.payload.grantId);
    return { ...base, kind: 'READ_GRANTED', subject, basis };
  }
  if (isEvent(event, EVENTS.accessDenied) || isEvent(event, EVENTS.recordAccessDenied)) {
    return { ...base, kind: 'READ_DENIED', subject: beneficiaryOf(event) };
  }
  if (isEvent(event, EVENTS.accessCanary)) {
    const subject = beneficiaryOf(event);
    return subject ? { ...base, kind: 'CANARY_READ', subject } : undefined;
  }
  if (isEvent(event, EVENTS.consentRequested)) {
    const subject = mobileOf(event) ?? beneficiaryOf(event);
    return subject ? { ...base, kind: 'CONSENT_REQUESTED', subject } : undefined;
  }
  if (isEvent(event, EVENTS.otpClientQuotaRefused)) {
    const subject = mobileOf(event);
    // Consent and staff sign-in codes are sent by identity for whoever asked it (a staff
    // member, a partner), charged to the client they came through: the consent and staff
    // rules judge that asker. Counting them against the client would let one insider's
    // bot suspend the portal every vaccinator signs in through.
    if (!subject || event.payload.purpose !== otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN) {
      return undefined;
    }
    return {
      ...base,
      kind: 'OTP_QUOTA_REFUSED',
      subject,
      quotaPerMinute: event.payload.quotaPerMinute,
    };
  }
  if (isEvent(event, EVENTS.otpRequested) || isEvent(event, EVENTS.otpFailed)) {
    const subject = mobileOf(event);
    if (!subject) return undefined;
    const kind = isEvent(event, EVENTS.otpRequested) ? 'OTP_REQUESTED' : 'OTP_FAILED';
    return { ...base, kind, subject };
  }
  return undefined;
}
