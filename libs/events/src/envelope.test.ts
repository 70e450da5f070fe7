import { describe, expect, it } from 'vitest';
import { otpEventsV1 } from '@vaxguard/proto';
import {
  ActorKind,
  createEvent,
  decodeEnvelope,
  encodeEnvelope,
  EventDecodeError,
  eventsTopic,
  payloadType,
  readPayload,
  SubjectKind,
} from './envelope';

const Locked = payloadType(otpEventsV1.protobufPackage, 'OtpLocked', otpEventsV1.OtpLocked);
const Revoked = payloadType(otpEventsV1.protobufPackage, 'TokenRevoked', otpEventsV1.TokenRevoked);

const event = createEvent({
  type: 'otp.locked',
  producer: 'otp',
  actor: { kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT, principalId: 'umang', clientId: 'umang' },
  subject: { kind: SubjectKind.SUBJECT_KIND_MOBILE, ref: 'ab'.repeat(32) },
  payloadType: Locked,
  payload: { consecutiveFailures: 100, lockedUntil: new Date('2026-11-22T12:00:00Z') },
  occurredAt: new Date('2026-11-22T11:00:00Z'),
  correlationId: 'req-1',
});

describe('event envelope', () => {
  it('survives the wire with its payload', () => {
    const decoded = decodeEnvelope(encodeEnvelope(event));
    expect(decoded).toEqual(event);
    expect(decoded.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(readPayload(decoded, Locked)).toEqual({
      consecutiveFailures: 100,
      lockedUntil: new Date('2026-11-22T12:00:00Z'),
    });
  });

  it('refuses to read a payload as another type', () => {
    expect(() => readPayload(event, Revoked)).toThrow(EventDecodeError);
  });

  it('refuses bytes that are not an envelope, and envelopes without a valid id', () => {
    expect(() => decodeEnvelope(Buffer.from('not protobuf at all'))).toThrow(EventDecodeError);
    expect(() => decodeEnvelope(encodeEnvelope({ ...event, eventId: 'x' }))).toThrow(
      EventDecodeError,
    );
  });

  it('names each producer topic the same way', () => {
    expect(eventsTopic('otp')).toBe('vaxguard.otp.events');
  });
});
