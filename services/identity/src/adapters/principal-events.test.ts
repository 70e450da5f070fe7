import { describe, expect, it } from 'vitest';
import {
  ActorKind,
  decodeEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
  type DecodedEvent,
} from '@vaxguard/event-catalogue';
import { identityStaffV1 } from '@vaxguard/proto';
import type { AdminActor } from '../domain/principals';
import { principalEvents } from './principal-events';

const admin: AdminActor = {
  kind: 'staff',
  staffId: 'stf-admin',
  role: 'PLATFORM_ADMIN',
  centreId: '',
  clientId: 'admin-console',
};
const occurredAt = new Date('2026-12-01T06:00:00Z');

/** What a consumer reads back from the topic: the events as they travel. */
function travelled(events: ReturnType<typeof principalEvents>): DecodedEvent[] {
  return events.map((event) => {
    const decoded = decodeEvent(encodeEnvelope(event.envelope));
    if (!decoded.ok) throw new Error(`undecodable: ${decoded.reason}`);
    return decoded.event;
  });
}

describe('principalEvents', () => {
  it("announces a centre's name and place, by its id, on identity's events topic", () => {
    const outgoing = principalEvents({
      type: 'centre.created',
      actor: admin,
      occurredAt,
      centre: {
        centreId: 'ctr-1',
        name: 'PHC Andheri',
        district: 'Mumbai Suburban',
        state: 'Maharashtra',
      },
    });
    expect(outgoing.map((event) => event.topic)).toEqual([EVENTS.centreCreated.topic]);
    const [event] = travelled(outgoing);
    expect(event?.name).toBe(EVENTS.centreCreated.name);
    expect(event?.envelope.subject).toEqual({
      kind: SubjectKind.SUBJECT_KIND_SYSTEM,
      ref: 'ctr-1',
    });
    expect(event?.envelope.actor).toEqual({
      kind: ActorKind.ACTOR_KIND_STAFF,
      principalId: 'stf-admin',
      clientId: 'admin-console',
    });
    expect(event?.payload).toEqual({
      centreId: 'ctr-1',
      name: 'PHC Andheri',
      district: 'Mumbai Suburban',
      state: 'Maharashtra',
    });
  });

  it('announces a staff member by id with their role and centre, and nothing else', () => {
    const [event] = travelled(
      principalEvents({
        type: 'staff.created',
        actor: admin,
        occurredAt,
        staffId: 'stf-7',
        role: 'VACCINATOR',
        centreId: 'ctr-1',
      }),
    );
    expect(event?.name).toBe(EVENTS.staffCreated.name);
    expect(event?.envelope.subject).toEqual({ kind: SubjectKind.SUBJECT_KIND_STAFF, ref: 'stf-7' });
    expect(event?.payload).toEqual({
      role: identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      centreId: 'ctr-1',
    });
  });

  it("names a new partner application in its audit event, never its secret's hash", () => {
    const secretSha256 = Buffer.alloc(32, 7);
    const outgoing = principalEvents({
      type: 'partner.registered',
      actor: admin,
      occurredAt,
      partner: {
        clientId: 'umang',
        displayName: 'UMANG',
        secretSha256,
        scopes: ['certificate:read'],
        quotaPerMinute: 60,
        consentSmsPerDay: 5_000,
        locked: false,
      },
    });
    const [registered, registry] = travelled(outgoing);
    expect(registered?.name).toBe(EVENTS.partnerRegistered.name);
    // The consent SMS quota in force: its own for the day, the default for the minute.
    expect(registered?.payload).toEqual({
      scopes: ['certificate:read'],
      quotaPerMinute: 60,
      displayName: 'UMANG',
      consentSmsPerMinute: 20,
      consentSmsPerDay: 5_000,
    });
    expect(registry?.name).toBe(EVENTS.registryPartner.name);
    // The registry record needs the hash to authenticate the partner; the audit event does not.
    const [audit] = outgoing;
    expect(audit && encodeEnvelope(audit.envelope).includes(secretSha256)).toBe(false);
  });

  it('names a failed sign-in by the client it came through, and an unknown username only by its index', () => {
    const actor = {
      kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT,
      principalId: 'staff-portal',
      clientId: 'staff-portal',
    };
    const [unknown, locked] = travelled([
      ...principalEvents({
        type: 'staff_login.failed',
        clientId: 'staff-portal',
        occurredAt,
        subject: { kind: 'unknown-username', usernameIndex: 'idx-of-a-username' },
        failures: 0,
        accountLocked: false,
        clientThrottled: true,
      }),
      ...principalEvents({
        type: 'staff_login.locked',
        clientId: 'staff-portal',
        occurredAt,
        staffId: 'stf-1',
        failures: 10,
      }),
    ]);
    expect(unknown?.name).toBe(EVENTS.staffLoginFailed.name);
    expect(unknown?.envelope.actor).toEqual(actor);
    expect(unknown?.envelope.subject).toEqual({
      kind: SubjectKind.SUBJECT_KIND_STAFF_USERNAME,
      ref: 'idx-of-a-username',
    });
    expect(unknown?.payload).toEqual({ failures: 0, accountLocked: false, clientThrottled: true });
    expect(locked?.name).toBe(EVENTS.staffLoginLocked.name);
    expect(locked?.envelope.actor).toEqual(actor);
    expect(locked?.envelope.subject).toEqual({
      kind: SubjectKind.SUBJECT_KIND_STAFF,
      ref: 'stf-1',
    });
    expect(locked?.payload).toEqual({ failures: 10 });
  });
});
