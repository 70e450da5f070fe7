import { EVENTS, type EventDefinition } from '@vaxguard/event-catalogue';
import type { auditV1 } from '@vaxguard/proto';
import type { AccessView, RecordedAccess } from '../domain/access-history';
import { decodeEntry } from '../domain/entry-encoding';
import type { LogEntry } from '../domain/model';

const ACTOR_KIND_PREFIX = 'ACTOR_KIND_';

function payloadOf<T>(
  definition: EventDefinition<string, T>,
  payload: { typeUrl: string; value: Uint8Array },
): T | undefined {
  return payload.typeUrl === definition.typeUrl
    ? definition.payload.decode(payload.value)
    : undefined;
}

/**
 * One read (or refused read) as its entry recorded it: identity's access events name
 * the method and, for a refusal, its reason; vaccination-record's also the reader's
 * role, centre or partner, and purpose.
 */
export function recordedAccessOf(entry: LogEntry): RecordedAccess {
  const { event } = decodeEntry(entry.entry);
  const actorKind = event.actor.kind.startsWith(ACTOR_KIND_PREFIX)
    ? event.actor.kind.slice(ACTOR_KIND_PREFIX.length)
    : event.actor.kind;
  const base = {
    beneficiaryRef: event.subject.ref,
    occurredAt: event.occurredAt,
    actorKind,
    actorId: event.actor.principalId,
    role: '',
    centreOrPartner: '',
    purpose: '',
    refusal: '',
  };
  const recorded = payloadOf(EVENTS.recordAccessed, event.payload);
  if (recorded) {
    return {
      ...base,
      granted: true,
      role: recorded.role,
      centreOrPartner: recorded.centreOrPartner,
      purpose: recorded.purpose,
    };
  }
  const recordDenied = payloadOf(EVENTS.recordAccessDenied, event.payload);
  if (recordDenied) {
    return {
      ...base,
      granted: false,
      role: recordDenied.role,
      centreOrPartner: recordDenied.centreOrPartner,
      purpose: recordDenied.purpose,
      refusal: recordDenied.reason,
    };
  }
  const granted = payloadOf(EVENTS.accessGranted, event.payload);
  if (granted) return { ...base, granted: true, purpose: granted.method };
  const denied = payloadOf(EVENTS.accessDenied, event.payload);
  return {
    ...base,
    granted: false,
    purpose: denied?.method ?? '',
    refusal: denied?.reason ?? '',
  };
}

/** An access as the citizen is shown it; staff ids and mobile indexes never leave. */
export function recordAccessOf(access: AccessView): auditV1.RecordAccess {
  return {
    beneficiaryRef: access.beneficiaryRef,
    occurredAt: access.occurredAt,
    granted: access.granted,
    role: access.role,
    centreOrPartner: access.centreOrPartner,
    purpose: access.purpose,
    refusal: access.refusal,
    centreName: access.centreName,
    partnerName: access.partnerName,
  };
}
