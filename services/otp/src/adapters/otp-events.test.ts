import { describe, expect, it } from 'vitest';
import { ActorKind, decodeEvent, encodeEnvelope, SubjectKind } from '@vaxguard/event-catalogue';
import { otpEventsV1, otpV1 } from '@vaxguard/proto';
import { toOutgoingEvent } from './otp-events';

const at = new Date('2026-11-22T10:00:00Z');
const INDEX = 'b'.repeat(64);

/** What any consumer reads off the wire, through the catalogue. */
function received(event: ReturnType<typeof toOutgoingEvent>) {
  const decoded = decodeEvent(encodeEnvelope(event.envelope));
  if (!decoded.ok) throw new Error(`undecodable: ${decoded.reason}`);
  return decoded.event;
}

describe('OTP events', () => {
  it('name the client as actor and the blind index as subject', () => {
    const outgoing = toOutgoingEvent({
      type: 'otp.failed',
      clientId: 'cowin-portal',
      occurredAt: at,
      mobileIndex: INDEX,
      txnId: 'txn-1',
      purpose: 'CONSENT',
      reason: 'WRONG_CODE',
      attemptsLeft: 2,
      consecutiveFailures: 1,
    });
    expect(outgoing).toMatchObject({ topic: 'vaxguard.otp.events', key: INDEX });
    const event = received(outgoing);
    expect(event.envelope).toMatchObject({
      type: 'otp.failed',
      producer: 'otp',
      actor: {
        kind: ActorKind.ACTOR_KIND_PARTNER_CLIENT,
        principalId: 'cowin-portal',
        clientId: 'cowin-portal',
      },
      subject: { kind: SubjectKind.SUBJECT_KIND_MOBILE, ref: INDEX },
      occurredAt: at,
    });
    expect(event.name).toBe('otp.failed');
    expect(event.payload).toEqual({
      txnId: 'txn-1',
      purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
      reason: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_WRONG_CODE,
      attemptsLeft: 2,
      consecutiveFailures: 1,
    });
  });

  it('publish a send refused for the client quota with the quota in force, for the flood rule', () => {
    const event = received(
      toOutgoingEvent({
        type: 'otp.client_quota_refused',
        clientId: 'sms-pump',
        occurredAt: at,
        mobileIndex: INDEX,
        purpose: 'CITIZEN_LOGIN',
        quotaPerMinute: 30,
      }),
    );
    expect(event.name).toBe('otp.client_quota_refused');
    expect(event.envelope.actor?.clientId).toBe('sms-pump');
    expect(event.envelope.subject).toEqual({ kind: SubjectKind.SUBJECT_KIND_MOBILE, ref: INDEX });
    expect(event.payload).toEqual({
      purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
      quotaPerMinute: 30,
    });
  });

  it('publish revocations in the form every service listens for', () => {
    const expiresAt = new Date('2026-11-22T10:15:00Z');
    const event = received(
      toOutgoingEvent({
        type: 'token.revoked',
        clientId: 'umang',
        occurredAt: at,
        tokenId: 'tok-1',
        expiresAt,
      }),
    );
    expect(event.envelope.subject).toEqual({ kind: SubjectKind.SUBJECT_KIND_TOKEN, ref: 'tok-1' });
    expect(event.name).toBe('token.revoked');
    expect(event.payload).toEqual({ tokenId: 'tok-1', expiresAt });
  });
});
