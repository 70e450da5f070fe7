import {
  type Actor,
  buildEvent,
  eventActor,
  EVENTS,
  type OutgoingEvent,
  SubjectKind,
} from '@vaxguard/event-catalogue';
import type { EventActor, RecordEvent } from '../domain/model';
import { REVOCATION_CAUSE } from './revocation-cause';

/** Who acted: a staff member, a citizen by mobile blind index, or a partner client. */
function actorOf(actor: EventActor): Actor {
  switch (actor.kind) {
    case 'staff':
      return eventActor('STAFF', actor.staffId, actor.clientId);
    case 'citizen':
      return eventActor('CITIZEN', actor.mobileIndex, actor.clientId);
    case 'partner':
      return eventActor('PARTNER_CLIENT', actor.partnerId, actor.clientId);
  }
}

/** The actor's role and where they act from: a staff role and centre, or the partner. */
function roleOf(actor: EventActor): { role: string; centreOrPartner: string } {
  switch (actor.kind) {
    case 'staff':
      return { role: actor.role, centreOrPartner: actor.centreId };
    case 'citizen':
      return { role: 'CITIZEN', centreOrPartner: '' };
    case 'partner':
      return { role: 'PARTNER_CLIENT', centreOrPartner: actor.partnerId };
  }
}

/** A domain event as the catalogue's envelope; the subject is always the beneficiary. */
export function toOutgoingEvent(event: RecordEvent): OutgoingEvent {
  const base = {
    actor: actorOf(event.actor),
    subject: { kind: SubjectKind.SUBJECT_KIND_BENEFICIARY, ref: event.beneficiaryRef },
    occurredAt: event.occurredAt,
  };
  switch (event.type) {
    case 'dose.recorded':
      return buildEvent(EVENTS.doseRecorded, {
        ...base,
        payload: {
          doseId: event.dose.doseId,
          vaccineCode: event.dose.vaccineCode,
          doseNumber: event.dose.doseNumber,
          centreId: event.dose.centreId,
          grantId: event.grantId,
        },
      });
    case 'dose.corrected':
      return buildEvent(EVENTS.doseCorrected, {
        ...base,
        payload: {
          doseId: event.dose.doseId,
          version: event.dose.version,
          centreId: event.dose.centreId,
          changedFields: [...event.changedFields],
        },
      });
    case 'certificate.issued':
      return buildEvent(EVENTS.certificateIssued, {
        ...base,
        payload: {
          certificateId: event.certificate.certificateId,
          kid: event.certificate.kid,
          replacesCertificateId: event.replaces ?? '',
        },
      });
    case 'certificate.revoked':
      return buildEvent(EVENTS.certificateRevoked, {
        ...base,
        payload: {
          certificateId: event.certificate.certificateId,
          kid: event.certificate.kid,
          crlVersion: String(event.crlVersion),
          cause: event.cause,
          revocationCause:
            event.revocationCause === undefined
              ? 0
              : REVOCATION_CAUSE.toProto(event.revocationCause),
        },
      });
    case 'certificate.held':
      return buildEvent(EVENTS.certificateHeld, {
        ...base,
        payload: {
          certificateId: event.hold.certificateId,
          cause: REVOCATION_CAUSE.toProto(event.hold.cause),
        },
      });
    case 'certificate.hold_lifted':
      return buildEvent(EVENTS.certificateHoldLifted, {
        ...base,
        payload: {
          certificateId: event.hold.certificateId,
          cause: REVOCATION_CAUSE.toProto(event.hold.cause),
          liftedBy: event.lift.liftedBy,
          doseId: event.lift.doseId ?? '',
        },
      });
    case 'record.accessed':
      return buildEvent(EVENTS.recordAccessed, {
        ...base,
        payload: {
          method: event.method,
          ...roleOf(event.actor),
          purpose: event.purpose,
          grantId: event.grantId ?? '',
        },
      });
    case 'record.access_denied':
      return buildEvent(EVENTS.recordAccessDenied, {
        ...base,
        payload: {
          method: event.method,
          ...roleOf(event.actor),
          purpose: event.purpose,
          reason: event.reason,
        },
      });
  }
}
