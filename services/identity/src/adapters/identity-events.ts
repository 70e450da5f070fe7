import {
  type Actor,
  buildEvent,
  eventActor,
  EVENTS,
  type OutgoingEvent,
  PHOTO_ID_KIND,
  SubjectKind,
} from '@vaxguard/event-catalogue';
import type { EventActor, IdentityEvent } from '../domain/beneficiary-service';

/** Who acted: a citizen by their mobile's blind index, or the grantee of a consent. */
function actorOf(viewer: EventActor): Actor {
  if (viewer.kind === 'citizen') {
    return eventActor('CITIZEN', viewer.mobileIndex, viewer.clientId);
  }
  return eventActor(viewer.granteeKind, viewer.granteeId, viewer.clientId);
}

/** A domain event as the catalogue's envelope: subject the beneficiary, or the mobile asked. */
export function toOutgoingEvent(event: IdentityEvent): OutgoingEvent {
  const actor = actorOf(event.actor);
  if (event.type === 'consent.requested') {
    return buildEvent(EVENTS.consentRequested, {
      actor,
      subject: {
        kind:
          event.subject.kind === 'mobile'
            ? SubjectKind.SUBJECT_KIND_MOBILE
            : SubjectKind.SUBJECT_KIND_BENEFICIARY,
        ref: event.subject.ref,
      },
      occurredAt: event.occurredAt,
      payload: {
        txnId: event.txnId ?? '',
        beneficiaryCount: event.beneficiaryCount,
        refusal: event.refusal ?? '',
      },
    });
  }
  const base = {
    actor,
    subject: { kind: SubjectKind.SUBJECT_KIND_BENEFICIARY, ref: event.beneficiaryRef },
    occurredAt: event.occurredAt,
  };
  switch (event.type) {
    case 'beneficiary.registered':
      return buildEvent(EVENTS.beneficiaryRegistered, {
        ...base,
        payload: {
          mobileIndex: event.mobileIndex,
          photoIdKind: PHOTO_ID_KIND.toProto(event.photoIdKind),
        },
      });
    case 'access.granted':
      return buildEvent(EVENTS.accessGranted, {
        ...base,
        payload: { method: event.method, basis: event.basis, grantId: event.grantId ?? '' },
      });
    case 'access.denied':
      return buildEvent(EVENTS.accessDenied, {
        ...base,
        payload: { method: event.method, reason: event.reason },
      });
    case 'secret_code.failed':
      return buildEvent(EVENTS.secretCodeFailed, {
        ...base,
        payload: { failures: event.failures },
      });
    case 'secret_code.locked':
      return buildEvent(EVENTS.secretCodeLocked, { ...base, payload: {} });
    case 'access.canary':
      return buildEvent(EVENTS.accessCanary, { ...base, payload: { method: event.method } });
  }
}
