import { otpV1 } from '@vaxguard/proto';
import {
  ACTOR_KIND,
  EVENTS,
  isEvent,
  SubjectKind,
  type DecodedEvent,
  type EventName,
} from '@vaxguard/event-catalogue';
import type {
  BeneficiarySubject,
  MobileSubject,
  StaffSubject,
  StaffUsernameSubject,
  Observation,
  ObservedActor,
  ReadBasis,
} from '../domain/anomaly-model';

/**
 * The catalogue's events the anomaly rules deliberately do not read, each with the
 * reason. Every other event is an observation (`observationOf`); a unit test holds every
 * event of the catalogue to one or the other, so a new refusal or failure cannot go
 * unread by accident.
 */
export const IGNORED_EVENTS = {
  [EVENTS.otpConfirmed.name]:
    'a success; what the token is then used for is read where it is used (reads, consent requests)',
  [EVENTS.otpLocked.name]:
    'follows the failures that caused it, which the OTP failure rule counts per mobile already',
  [EVENTS.tokenRevoked.name]: 'a response (an operator or a suspension), not behaviour to judge',
  [EVENTS.consentWithdrawn.name]:
    'a citizen closing access to their own records: it ends access, it gains none',
  [EVENTS.beneficiaryRegistered.name]:
    'registration is by the citizen on their own mobile, which the OTP rules watch',
  [EVENTS.principalSuspended.name]: 'the outcome of an alert, not behaviour to judge',
  [EVENTS.principalReinstated.name]: 'an administrator undoing a suspension',
  [EVENTS.partnerRegistered.name]: 'an administrative act by a platform admin',
  [EVENTS.centreCreated.name]: 'an administrative act by a platform admin',
  [EVENTS.staffCreated.name]: 'an administrative act by a platform or centre admin',
  [EVENTS.partnerLocked.name]: 'the outcome of an alert, not behaviour to judge',
  [EVENTS.partnerUnlocked.name]: 'an administrator undoing a lock',
  [EVENTS.apiLocked.name]: 'an operator closing an API, not behaviour to judge',
  [EVENTS.apiUnlocked.name]: 'an operator opening an API again',
  [EVENTS.doseRecorded.name]: 'comes with a record.accessed for the same call, which is observed',
  [EVENTS.doseCorrected.name]: 'comes with a record.accessed for the same call, which is observed',
  [EVENTS.certificateIssued.name]:
    'comes with a record.accessed for the read that signed it, which is observed',
  [EVENTS.certificateRevoked.name]: 'an administrative act on a dose record',
  [EVENTS.certificateHeld.name]: 'an administrative act on a dose record',
  [EVENTS.certificateHoldLifted.name]:
    'an administrative act on a dose record (a platform admin, or the correction that lifted it)',
  [EVENTS.securityAlert.name]:
    "the rules' own output: reading it back would feed them to themselves",
  [EVENTS.securityResponse.name]:
    "the rules' own output: reading it back would feed them to themselves",
  [EVENTS.auditQueried.name]:
    'auditors reading the log are its overseers; their queries are in the log for others to review',
  [EVENTS.alertAcknowledged.name]: 'an auditor acknowledging an alert',
  [EVENTS.registryPartner.name]: "state records of identity's registry, restating the events above",
  [EVENTS.registryPrincipal.name]:
    "state records of identity's registry, restating the events above",
  [EVENTS.registryApiLock.name]: "state records of identity's registry, restating the events above",
} as const satisfies Partial<Record<EventName, string>>;

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

/** A failed sign-in's account, or an unknown username by identity's keyed index. */
function signInSubjectOf(event: DecodedEvent): StaffSubject | StaffUsernameSubject | undefined {
  const subject = event.envelope.subject;
  if (!subject?.ref) return undefined;
  if (subject.kind === SubjectKind.SUBJECT_KIND_STAFF) {
    return { kind: 'STAFF', staffId: subject.ref };
  }
  if (subject.kind === SubjectKind.SUBJECT_KIND_STAFF_USERNAME) {
    return { kind: 'STAFF_USERNAME', usernameIndex: subject.ref };
  }
  return undefined;
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
    if (!subject) return undefined;
    // Identity publishes a request that named nobody registered as one that would open
    // no beneficiary, with no refusal (a refused request looked nobody up).
    const toNobodyRegistered = !event.payload.refusal && event.payload.beneficiaryCount === 0;
    return { ...base, kind: 'CONSENT_REQUESTED', subject, toNobodyRegistered };
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
  if (isEvent(event, EVENTS.otpRequested)) {
    const subject = mobileOf(event);
    if (!subject) return undefined;
    const forConsent = event.payload.purpose === otpV1.OtpPurpose.OTP_PURPOSE_CONSENT;
    return { ...base, kind: 'OTP_REQUESTED', subject, forConsent };
  }
  if (isEvent(event, EVENTS.otpFailed)) {
    const subject = mobileOf(event);
    return subject ? { ...base, kind: 'OTP_FAILED', subject } : undefined;
  }
  if (isEvent(event, EVENTS.secretCodeFailed) || isEvent(event, EVENTS.secretCodeLocked)) {
    const subject = beneficiaryOf(event);
    if (!subject) return undefined;
    const kind = isEvent(event, EVENTS.secretCodeFailed)
      ? 'SECRET_CODE_FAILED'
      : 'SECRET_CODE_LOCKED';
    return { ...base, kind, subject };
  }
  if (isEvent(event, EVENTS.staffLoginFailed)) {
    const subject = signInSubjectOf(event);
    return subject ? { ...base, kind: 'STAFF_LOGIN_FAILED', subject } : undefined;
  }
  if (isEvent(event, EVENTS.staffLoginLocked)) {
    const subject = signInSubjectOf(event);
    return subject?.kind === 'STAFF' ? { ...base, kind: 'STAFF_LOGIN_LOCKED', subject } : undefined;
  }
  return undefined;
}
