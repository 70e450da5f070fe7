import { describe, expect, it } from 'vitest';
import { ActorKind, readPayload, SubjectKind, payloadType } from '@vaxguard/events';
import { otpEventsV1, otpV1 } from '@vaxguard/proto';
import { TokenRevokedPayload } from '@vaxguard/tokens';
import { toEnvelope } from './otp-events';

const at = new Date('2026-11-22T10:00:00Z');
const INDEX = 'b'.repeat(64);

describe('OTP events', () => {
  it('name the client as actor and the blind index as subject', () => {
    const envelope = toEnvelope({
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
    expect(envelope).toMatchObject({
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
    const payload = readPayload(
      envelope,
      payloadType(otpEventsV1.protobufPackage, 'OtpFailed', otpEventsV1.OtpFailed),
    );
    expect(payload).toEqual({
      txnId: 'txn-1',
      purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
      reason: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_WRONG_CODE,
      attemptsLeft: 2,
      consecutiveFailures: 1,
    });
  });

  it('publish revocations in the form the token library listens for', () => {
    const expiresAt = new Date('2026-11-22T10:15:00Z');
    const envelope = toEnvelope({
      type: 'token.revoked',
      clientId: 'umang',
      occurredAt: at,
      tokenId: 'tok-1',
      expiresAt,
    });
    expect(envelope.subject).toEqual({ kind: SubjectKind.SUBJECT_KIND_TOKEN, ref: 'tok-1' });
    expect(readPayload(envelope, TokenRevokedPayload)).toEqual({ tokenId: 'tok-1', expiresAt });
  });
});
