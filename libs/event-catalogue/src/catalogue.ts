import {
  auditV1,
  identityEventsV1,
  identityRegistryV1,
  otpEventsV1,
  vaccinationRecordEventsV1,
} from '@vaxguard/proto';
import {
  ACCESS_REGISTRY_TOPIC,
  defineEvent,
  SECURITY_ALERTS_TOPIC,
  readPayload,
  type EventDefinition,
  type PayloadOf,
} from './define';
import { decodeEnvelope, EventDecodeError, type EventEnvelope } from './envelope';

// Registry records are state every service enforces: they wake the relay at once.
const REGISTRY = { topic: ACCESS_REGISTRY_TOPIC, urgent: true } as const;
// Alerts and responses stop an insider within seconds: they wake the relay at once too.
const ALERTS = { topic: SECURITY_ALERTS_TOPIC, urgent: true } as const;

/**
 * Every Kafka event type of VaxGuard, declared once. Producers build envelopes from
 * these entries, consumers decode through them, and tests name events by them: no
 * event name or payload type is typed as a string anywhere else.
 */
export const EVENTS = {
  /** A code was sent (first send or resend). Subject: the mobile's blind index. */
  otpRequested: defineEvent('otp.requested', 'otp', otpEventsV1.OtpRequested),
  /** A code was accepted and a token issued. Subject: the mobile's blind index. */
  otpConfirmed: defineEvent('otp.confirmed', 'otp', otpEventsV1.OtpConfirmed),
  /** A confirmation was refused. Subject: the mobile's blind index. */
  otpFailed: defineEvent('otp.failed', 'otp', otpEventsV1.OtpFailed),
  /**
   * A send was refused because its client's per-minute quota was full; nothing was
   * sent. Subject: the mobile's blind index. The audit service's flood rule counts them.
   */
  otpClientQuotaRefused: defineEvent(
    'otp.client_quota_refused',
    'otp',
    otpEventsV1.OtpClientQuotaRefused,
  ),
  /** Too many consecutive failures locked a mobile. Subject: the mobile's blind index. */
  otpLocked: defineEvent('otp.locked', 'otp', otpEventsV1.OtpLocked),
  /** A token was revoked before its expiry; every service must refuse it. Subject: the token id. */
  tokenRevoked: defineEvent('token.revoked', 'otp', otpEventsV1.TokenRevoked, { urgent: true }),
  /**
   * A citizen withdrew a consent grant naming their mobile (its token.revoked goes with
   * it). Subject: the mobile's blind index. Actor: the citizen.
   */
  consentWithdrawn: defineEvent('consent.withdrawn', 'otp', otpEventsV1.ConsentWithdrawn),

  /** A beneficiary was registered. Subject: the beneficiary. */
  beneficiaryRegistered: defineEvent(
    'beneficiary.registered',
    'identity',
    identityEventsV1.BeneficiaryRegistered,
  ),
  /** A beneficiary record was read. Subject: the beneficiary. */
  accessGranted: defineEvent('access.granted', 'identity', identityEventsV1.AccessGranted),
  /** A read of a beneficiary record was refused. Subject: the beneficiary asked for. */
  accessDenied: defineEvent('access.denied', 'identity', identityEventsV1.AccessDenied),
  /** A grantee asked a person for consent. Subject: the mobile's blind index. */
  consentRequested: defineEvent('consent.requested', 'identity', identityEventsV1.ConsentRequested),
  /** A wrong secret code was given. Subject: the beneficiary. */
  secretCodeFailed: defineEvent(
    'secret_code.failed',
    'identity',
    identityEventsV1.SecretCodeFailed,
  ),
  /** Too many wrong secret codes locked it. Subject: the beneficiary. */
  secretCodeLocked: defineEvent(
    'secret_code.locked',
    'identity',
    identityEventsV1.SecretCodeLocked,
  ),
  /**
   * A staff sign-in refused before any code was sent. Subject: the staff member, or the
   * keyed index of a username naming no account. Actor: the client application.
   */
  staffLoginFailed: defineEvent(
    'staff_login.failed',
    'identity',
    identityEventsV1.StaffLoginFailed,
  ),
  /** Wrong passwords locked a staff member's sign-in for an hour. Subject: the staff member. */
  staffLoginLocked: defineEvent(
    'staff_login.locked',
    'identity',
    identityEventsV1.StaffLoginLocked,
  ),
  /** A canary beneficiary was read or asked for: the highest-severity alert. Subject: the canary. */
  accessCanary: defineEvent('access.canary', 'identity', identityEventsV1.AccessCanary, {
    urgent: true,
  }),
  /** A principal was suspended. Subject: the staff member or partner client. */
  principalSuspended: defineEvent(
    'principal.suspended',
    'identity',
    identityEventsV1.PrincipalSuspended,
  ),
  /** A suspended principal was reinstated. Subject: the staff member or partner client. */
  principalReinstated: defineEvent(
    'principal.reinstated',
    'identity',
    identityEventsV1.PrincipalReinstated,
  ),
  /** A partner client application was registered. Subject: the partner client. */
  partnerRegistered: defineEvent(
    'partner.registered',
    'identity',
    identityEventsV1.PartnerRegistered,
  ),
  /**
   * A vaccination centre was created: its id, name, district and state (public facts,
   * not personal data). Subject: the system, the centre id as ref.
   */
  centreCreated: defineEvent('centre.created', 'identity', identityEventsV1.CentreCreated),
  /** A staff member was created: their role and centre only. Subject: the staff member. */
  staffCreated: defineEvent('staff.created', 'identity', identityEventsV1.StaffCreated),
  /** A partner was locked out of every service. Subject: the partner client. */
  partnerLocked: defineEvent('partner.locked', 'identity', identityEventsV1.PartnerLocked),
  /** A locked partner was let back in. Subject: the partner client. */
  partnerUnlocked: defineEvent('partner.unlocked', 'identity', identityEventsV1.PartnerUnlocked),
  /** An API lock was set. Subject: the system, the lock's key as ref. */
  apiLocked: defineEvent('api.locked', 'identity', identityEventsV1.ApiLocked),
  /** An API lock was cleared. Subject: the system, the lock's key as ref. */
  apiUnlocked: defineEvent('api.unlocked', 'identity', identityEventsV1.ApiUnlocked),

  /** A dose was recorded. Subject: the beneficiary. */
  doseRecorded: defineEvent(
    'dose.recorded',
    'vaccination-record',
    vaccinationRecordEventsV1.DoseRecorded,
  ),
  /** A dose was corrected; both versions are kept. Subject: the beneficiary. */
  doseCorrected: defineEvent(
    'dose.corrected',
    'vaccination-record',
    vaccinationRecordEventsV1.DoseCorrected,
  ),
  /** A certificate (SMART Health Card) was issued. Subject: the beneficiary. */
  certificateIssued: defineEvent(
    'certificate.issued',
    'vaccination-record',
    vaccinationRecordEventsV1.CertificateIssued,
  ),
  /** A certificate was revoked; its rid is on its key's revocation list. Subject: the beneficiary. */
  certificateRevoked: defineEvent(
    'certificate.revoked',
    'vaccination-record',
    vaccinationRecordEventsV1.CertificateRevoked,
  ),
  /**
   * A revocation for a holding cause (fraudulent or mistaken record) held the
   * beneficiary's certificate: no new card until the hold is lifted. Subject: the beneficiary.
   */
  certificateHeld: defineEvent(
    'certificate.held',
    'vaccination-record',
    vaccinationRecordEventsV1.CertificateHeld,
  ),
  /** A hold was lifted, by a platform admin or a correction. Subject: the beneficiary. */
  certificateHoldLifted: defineEvent(
    'certificate.hold_lifted',
    'vaccination-record',
    vaccinationRecordEventsV1.CertificateHoldLifted,
  ),
  /** A vaccination record was read or written. Subject: the beneficiary. */
  recordAccessed: defineEvent(
    'record.accessed',
    'vaccination-record',
    vaccinationRecordEventsV1.RecordAccessed,
  ),
  /** Access to a vaccination record was refused. Subject: the beneficiary asked for. */
  recordAccessDenied: defineEvent(
    'record.access_denied',
    'vaccination-record',
    vaccinationRecordEventsV1.RecordAccessDenied,
  ),

  /**
   * The anomaly rules raised an alert. Subject: the principal it is about (staff,
   * partner client, or a mobile by its blind index). Urgent: a high-severity alert
   * stops its principal.
   */
  securityAlert: defineEvent('security.alert', 'audit', auditV1.Alert, ALERTS),
  /** The audit service's automatic response to an alert was carried out (or refused). Subject: the principal. */
  securityResponse: defineEvent(
    'security.response',
    'audit',
    auditV1.AutomaticResponseTaken,
    ALERTS,
  ),

  /**
   * An auditor read the log (QueryEntries, ExportEntries) or its alerts (ListAlerts):
   * the read, its filters and how many entries came back, never the entries. Subject:
   * the beneficiary asked about, or the system.
   */
  auditQueried: defineEvent('audit.queried', 'audit', auditV1.LogQueried),
  /**
   * An auditor acknowledged an alert. Subject: the principal the alert is about. On the
   * alerts topic, beside the alert and its response; not urgent (it stops nobody).
   */
  alertAcknowledged: defineEvent('alert.acknowledged', 'audit', auditV1.AlertAcknowledged, {
    topic: SECURITY_ALERTS_TOPIC,
  }),

  /** State records of the access registry (compacted; keyed per partner, principal, lock). */
  registryPartner: defineEvent(
    'registry.partner',
    'identity',
    identityRegistryV1.PartnerEntry,
    REGISTRY,
  ),
  registryPrincipal: defineEvent(
    'registry.principal',
    'identity',
    identityRegistryV1.PrincipalStatus,
    REGISTRY,
  ),
  registryApiLock: defineEvent(
    'registry.api_lock',
    'identity',
    identityRegistryV1.ApiLockStatus,
    REGISTRY,
  ),
} as const;

type Catalogue = typeof EVENTS;
export type EventName = Catalogue[keyof Catalogue]['name'];

/** An event decoded through the catalogue: narrowing on `name` types the payload. */
export type DecodedEvent = {
  [K in keyof Catalogue]: {
    readonly name: Catalogue[K]['name'];
    readonly envelope: EventEnvelope;
    readonly payload: PayloadOf<Catalogue[K]>;
  };
}[keyof Catalogue];

/** Why a message could not be decoded; each is counted and logged by consumers. */
export type UndecodableReason = 'NOT_AN_ENVELOPE' | 'UNKNOWN_TYPE' | 'UNREADABLE_PAYLOAD';

export type DecodeResult =
  | { readonly ok: true; readonly event: DecodedEvent }
  | {
      readonly ok: false;
      readonly reason: UndecodableReason;
      /** Present when the bytes were an envelope. */
      readonly eventId?: string;
      /** The envelope's type, when it is a well-formed event name (safe to log). */
      readonly type?: string;
    };

const BY_NAME: ReadonlyMap<string, EventDefinition> = new Map(
  Object.values(EVENTS).map((definition) => [definition.name, definition as EventDefinition]),
);

// Event names are short dotted identifiers; anything else is not repeated in logs.
const EVENT_NAME = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/;

/** The catalogue entry of an event name, if there is one. */
export function definitionOf(name: string): EventDefinition | undefined {
  return BY_NAME.get(name);
}

/**
 * Decodes whatever arrives on a topic: an event of a declared type with its typed
 * payload, or the reason it cannot be read. Never throws.
 */
export function decodeEvent(bytes: Uint8Array): DecodeResult {
  let envelope: EventEnvelope;
  try {
    envelope = decodeEnvelope(bytes);
  } catch {
    return { ok: false, reason: 'NOT_AN_ENVELOPE' };
  }
  const type = EVENT_NAME.test(envelope.type) && envelope.type.length <= 64 ? envelope.type : '';
  const definition = BY_NAME.get(envelope.type);
  if (!definition) {
    return { ok: false, reason: 'UNKNOWN_TYPE', eventId: envelope.eventId, type };
  }
  try {
    const payload = readPayload(envelope, definition);
    return { ok: true, event: { name: definition.name, envelope, payload } as DecodedEvent };
  } catch (error) {
    if (!(error instanceof EventDecodeError)) throw error;
    return { ok: false, reason: 'UNREADABLE_PAYLOAD', eventId: envelope.eventId, type };
  }
}

/** Narrows a decoded event to one declared type. */
export function isEvent<N extends string, T>(
  event: DecodedEvent,
  definition: EventDefinition<N, T>,
): event is Extract<DecodedEvent, { name: N }> {
  return event.name === definition.name;
}
