import { apiLockScopeToProto } from '@vaxguard/auth';
import {
  type Actor,
  buildEvent,
  eventActor,
  EVENTS,
  type OutgoingEvent,
  PRINCIPAL_KIND,
  STAFF_ROLE,
  SubjectKind,
} from '@vaxguard/event-catalogue';
import { apiLockKey } from '@vaxguard/tokens';
import { consentSmsQuotaOf } from '../domain/identity-rules';
import type {
  AdminActor,
  PartnerRecord,
  PrincipalEvent,
  StaffLoginEvent,
} from '../domain/principals';

function actorOf(actor: AdminActor): Actor {
  return actor.kind === 'staff'
    ? eventActor('STAFF', actor.staffId, actor.clientId)
    : eventActor('SERVICE', actor.clientId);
}

/** The consent SMS quota in force for a partner: its own, or the defaults. */
function consentSmsOf(partner: PartnerRecord) {
  const quota = consentSmsQuotaOf(partner);
  return { consentSmsPerMinute: quota.perMinute, consentSmsPerDay: quota.perDay };
}

function registryPartner(partner: PartnerRecord, base: { actor: Actor; occurredAt: Date }) {
  return buildEvent(EVENTS.registryPartner, {
    ...base,
    subject: { kind: SubjectKind.SUBJECT_KIND_PARTNER_CLIENT, ref: partner.clientId },
    key: `partner:${partner.clientId}`,
    payload: {
      clientId: partner.clientId,
      displayName: partner.displayName,
      secretSha256: partner.secretSha256,
      scopes: [...partner.scopes],
      quotaPerMinute: partner.quotaPerMinute,
      locked: partner.locked,
    },
  });
}

/**
 * A failed or locked staff sign-in: the actor is the client application it came
 * through (nobody has signed in), the subject the account or an unknown username's
 * keyed index. Never the username or the password.
 */
function staffLoginEvent(event: StaffLoginEvent): OutgoingEvent {
  const actor = eventActor('PARTNER_CLIENT', event.clientId);
  const base = { actor, occurredAt: event.occurredAt };
  if (event.type === 'staff_login.locked') {
    return buildEvent(EVENTS.staffLoginLocked, {
      ...base,
      subject: { kind: SubjectKind.SUBJECT_KIND_STAFF, ref: event.staffId },
      payload: { failures: event.failures },
    });
  }
  const { subject } = event;
  return buildEvent(EVENTS.staffLoginFailed, {
    ...base,
    subject:
      subject.kind === 'staff'
        ? { kind: SubjectKind.SUBJECT_KIND_STAFF, ref: subject.staffId }
        : { kind: SubjectKind.SUBJECT_KIND_STAFF_USERNAME, ref: subject.usernameIndex },
    payload: {
      failures: event.failures,
      accountLocked: event.accountLocked,
      clientThrottled: event.clientThrottled,
    },
  });
}

/**
 * A principal change as what it publishes: the audit event on identity's topic, and
 * the new state of the partner, principal or lock on the compacted registry topic that
 * every service replicates. Neither carries a secret: the registry holds the SHA-256 of
 * a 256-bit partner secret, which the audit event leaves out. A new centre or staff
 * member is an audit event only (the audit service names readers' centres from them).
 */
export function principalEvents(event: PrincipalEvent): OutgoingEvent[] {
  if (event.type === 'staff_login.failed' || event.type === 'staff_login.locked') {
    return [staffLoginEvent(event)];
  }
  const base = { actor: actorOf(event.actor), occurredAt: event.occurredAt };
  switch (event.type) {
    case 'centre.created': {
      const { centre } = event;
      return [
        buildEvent(EVENTS.centreCreated, {
          ...base,
          subject: { kind: SubjectKind.SUBJECT_KIND_SYSTEM, ref: centre.centreId },
          payload: {
            centreId: centre.centreId,
            name: centre.name,
            district: centre.district,
            state: centre.state,
          },
        }),
      ];
    }
    case 'staff.created':
      return [
        buildEvent(EVENTS.staffCreated, {
          ...base,
          subject: { kind: SubjectKind.SUBJECT_KIND_STAFF, ref: event.staffId },
          payload: { role: STAFF_ROLE.toProto(event.role), centreId: event.centreId },
        }),
      ];
    case 'partner.registered': {
      const subject = {
        kind: SubjectKind.SUBJECT_KIND_PARTNER_CLIENT,
        ref: event.partner.clientId,
      };
      return [
        buildEvent(EVENTS.partnerRegistered, {
          ...base,
          subject,
          payload: {
            scopes: [...event.partner.scopes],
            quotaPerMinute: event.partner.quotaPerMinute,
            displayName: event.partner.displayName,
            ...consentSmsOf(event.partner),
          },
        }),
        registryPartner(event.partner, base),
      ];
    }
    case 'partner.locked':
    case 'partner.unlocked': {
      const subject = {
        kind: SubjectKind.SUBJECT_KIND_PARTNER_CLIENT,
        ref: event.partner.clientId,
      };
      const definition =
        event.type === 'partner.locked' ? EVENTS.partnerLocked : EVENTS.partnerUnlocked;
      return [
        buildEvent(definition, { ...base, subject, payload: { reason: event.reason } }),
        registryPartner(event.partner, base),
      ];
    }
    case 'principal.suspended':
    case 'principal.reinstated': {
      const { principal } = event;
      const subject = {
        kind:
          principal.kind === 'STAFF'
            ? SubjectKind.SUBJECT_KIND_STAFF
            : SubjectKind.SUBJECT_KIND_PARTNER_CLIENT,
        ref: principal.id,
      };
      const suspended = event.type === 'principal.suspended';
      const definition = suspended ? EVENTS.principalSuspended : EVENTS.principalReinstated;
      return [
        buildEvent(definition, { ...base, subject, payload: { reason: event.reason } }),
        buildEvent(EVENTS.registryPrincipal, {
          ...base,
          subject,
          key: `principal:${principal.kind}:${principal.id}`,
          payload: {
            principal: { kind: PRINCIPAL_KIND.toProto(principal.kind), id: principal.id },
            suspended,
          },
        }),
      ];
    }
    case 'api.locked':
    case 'api.unlocked': {
      const key = apiLockKey(event.scope);
      const subject = { kind: SubjectKind.SUBJECT_KIND_SYSTEM, ref: key };
      const scope = apiLockScopeToProto(event.scope);
      const locked = event.type === 'api.locked';
      const definition = locked ? EVENTS.apiLocked : EVENTS.apiUnlocked;
      return [
        buildEvent(definition, { ...base, subject, payload: { scope, reason: event.reason } }),
        buildEvent(EVENTS.registryApiLock, { ...base, subject, key, payload: { scope, locked } }),
      ];
    }
  }
}
