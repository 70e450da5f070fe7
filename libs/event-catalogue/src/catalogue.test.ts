import { describe, expect, it } from 'vitest';
import { EVENTS, decodeEvent, definitionOf } from './catalogue';
import {
  ACCESS_REGISTRY_TOPIC,
  ALL_EVENT_TOPICS,
  buildEvent,
  eventActor,
  eventsTopic,
  SECURITY_ALERTS_TOPIC,
  type EventDefinition,
} from './define';
import { ActorKind, encodeEnvelope, SubjectKind } from './envelope';

const DEFINITIONS: readonly EventDefinition[] = Object.values(EVENTS);

/**
 * A payload of the definition's message with every scalar field set to something other
 * than its default, so a round trip that dropped or mixed up a field would show.
 */
function samplePayload(definition: EventDefinition): Record<string, unknown> {
  // Decoding no bytes gives the message with every field at its default.
  const payload = definition.payload.decode(new Uint8Array()) as Record<string, unknown>;
  for (const [field, value] of Object.entries(payload)) {
    // 64-bit integers are decimal strings, "0" by default.
    if (value === '0') payload[field] = '7';
    else if (typeof value === 'string') payload[field] = `${field}-sample`;
    else if (typeof value === 'number') payload[field] = 7;
    else if (typeof value === 'boolean') payload[field] = true;
  }
  return payload;
}

function sampleEvent(definition: EventDefinition, payload: unknown = samplePayload(definition)) {
  return buildEvent(definition, {
    actor: { kind: ActorKind.ACTOR_KIND_SERVICE, principalId: 'svc-test', clientId: 'svc-test' },
    subject: { kind: SubjectKind.SUBJECT_KIND_SYSTEM, ref: 'subject-ref' },
    payload,
    occurredAt: new Date('2026-12-07T10:00:00.000Z'),
  });
}

describe('the event catalogue', () => {
  it('declares each event name once, in the dotted form, and finds it by name', () => {
    const names = DEFINITIONS.map((definition) => definition.name);
    expect(new Set(names).size).toBe(names.length);
    for (const definition of DEFINITIONS) {
      expect(definition.name).toMatch(/^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/);
      expect(definitionOf(definition.name)).toBe(definition);
    }
  });

  it('derives every payload type URL from the generated message type, never a typed string', () => {
    for (const definition of DEFINITIONS) {
      expect(definition.payload.$type, definition.name).toMatch(/^vaxguard\.[a-z_]+\.v1\.\w+$/);
      expect(definition.typeUrl).toBe(`type.googleapis.com/${definition.payload.$type}`);
    }
  });

  it('puts each event on its producer’s topic, the access registry or the security alerts', () => {
    for (const definition of DEFINITIONS) {
      expect([
        eventsTopic(definition.producer),
        ACCESS_REGISTRY_TOPIC,
        SECURITY_ALERTS_TOPIC,
      ]).toContain(definition.topic);
      if (definition.topic !== ACCESS_REGISTRY_TOPIC) {
        expect(ALL_EVENT_TOPICS).toContain(definition.topic);
      }
    }
  });

  it.each(DEFINITIONS.map((definition) => [definition.name, definition] as const))(
    '%s round-trips through its envelope with every field intact',
    (name, definition) => {
      const payload = samplePayload(definition);
      const outgoing = sampleEvent(definition, payload);
      const decoded = decodeEvent(encodeEnvelope(outgoing.envelope));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      expect(decoded.event.name).toBe(name);
      expect(decoded.event.envelope.eventId).toBe(outgoing.envelope.eventId);
      expect(decoded.event.payload).toEqual(payload);
    },
  );

  it('keys every event type by its subject, so one subject’s events share a partition; the registry by its record', () => {
    // One beneficiary (or mobile, staff member, partner: the rule does not look at the
    // kind) as the subject of every event type: every event about it has the same key.
    const subject = { kind: SubjectKind.SUBJECT_KIND_BENEFICIARY, ref: 'subject-ref-1' };
    const actor = eventActor('SERVICE', 'svc-test');
    const build = (definition: EventDefinition, key?: string) =>
      buildEvent(definition, {
        actor,
        subject,
        payload: samplePayload(definition),
        occurredAt: new Date(),
        ...(key === undefined ? {} : { key }),
      });
    for (const definition of DEFINITIONS) {
      if (definition.topic === ACCESS_REGISTRY_TOPIC) {
        expect([definition.name, build(definition, 'principal:STAFF:s-1').key]).toEqual([
          definition.name,
          'principal:STAFF:s-1',
        ]);
      } else {
        expect([definition.name, build(definition).key]).toEqual([definition.name, subject.ref]);
        expect(() => build(definition, 'another-key')).toThrow(
          `${definition.name} is keyed by its subject: only the access registry's records take a key of their own`,
        );
      }
    }
    // Nobody's data: keyed by the event's own id, spread over the partitions.
    const unowned = buildEvent(EVENTS.auditQueried, {
      actor,
      subject: { kind: SubjectKind.SUBJECT_KIND_SYSTEM, ref: '' },
      payload: samplePayload(EVENTS.auditQueried) as never,
      occurredAt: new Date(),
    });
    expect(unowned.key).toBe(unowned.envelope.eventId);
  });

  it('refuses a payload of another message under a declared name, an unknown name and garbage', () => {
    const [first, second] = DEFINITIONS.filter(
      (definition, i, all) =>
        all.findIndex((other) => other.payload.$type === definition.payload.$type) === i,
    );
    if (!first || !second) throw new Error('the catalogue declares fewer than two messages');
    const mislabelled = sampleEvent(second);
    const envelope = { ...mislabelled.envelope, type: first.name };
    expect(decodeEvent(encodeEnvelope(envelope))).toMatchObject({
      ok: false,
      reason: 'UNREADABLE_PAYLOAD',
      type: first.name,
    });
    const unknown = { ...mislabelled.envelope, type: 'nobody.declared_this' };
    expect(decodeEvent(encodeEnvelope(unknown))).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_TYPE',
    });
    expect(decodeEvent(Buffer.from('not an envelope at all'))).toEqual({
      ok: false,
      reason: 'NOT_AN_ENVELOPE',
    });
  });
});

describe('eventActor', () => {
  it('builds an actor of each kind, the client defaulting to the principal itself', () => {
    expect(eventActor('STAFF', 'stf_1', 'portal')).toEqual({
      kind: ActorKind.ACTOR_KIND_STAFF,
      principalId: 'stf_1',
      clientId: 'portal',
    });
    expect(eventActor('SERVICE', 'svc-audit')).toEqual({
      kind: ActorKind.ACTOR_KIND_SERVICE,
      principalId: 'svc-audit',
      clientId: 'svc-audit',
    });
    expect(eventActor('CITIZEN', 'mobile-index', 'portal').kind).toBe(ActorKind.ACTOR_KIND_CITIZEN);
    expect(eventActor('PARTNER_CLIENT', 'partner').kind).toBe(ActorKind.ACTOR_KIND_PARTNER_CLIENT);
  });
});
