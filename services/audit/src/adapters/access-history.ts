import { EVENTS, type EventDefinition } from '@vaxguard/event-catalogue';
import type { auditV1 } from '@vaxguard/proto';
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
 * One read (or refused read) as the citizen sees it: who by role, centre or partner,
 * when, why, and whether it was allowed. Staff ids and client tokens are left out;
 * identity's events name no role, so its readers appear by their kind.
 */
export function recordAccessOf(entry: LogEntry): auditV1.RecordAccess {
  const { event } = decodeEntry(entry.entry);
  const kind = event.actor.kind.startsWith(ACTOR_KIND_PREFIX)
    ? event.actor.kind.slice(ACTOR_KIND_PREFIX.length)
    : event.actor.kind;
  const partner = kind === 'PARTNER_CLIENT' ? event.actor.principalId : '';
  const base = {
    beneficiaryRef: event.subject.ref,
    occurredAt: event.occurredAt,
    role: kind,
    centreOrPartner: partner,
    purpose: '',
    refusal: '',
  };
  const recorded = payloadOf(EVENTS.recordAccessed, event.payload);
  if (recorded) {
    return {
      ...base,
      granted: true,
      role: recorded.role || kind,
      centreOrPartner: recorded.centreOrPartner,
      purpose: recorded.purpose,
    };
  }
  const recordDenied = payloadOf(EVENTS.recordAccessDenied, event.payload);
  if (recordDenied) {
    return {
      ...base,
      granted: false,
      role: recordDenied.role || kind,
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
