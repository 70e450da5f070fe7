import type { Metadata } from '@grpc/grpc-js';
import type { Kafka } from 'kafkajs';
import { decodeEnvelope, eventsTopic, payloadType, readPayload } from '@vaxguard/events';
import { unaryCall } from '@vaxguard/grpc-kit';
import type { Logger } from '@vaxguard/logging';
import { otpEventsV1, type otpV1 } from '@vaxguard/proto';
import type { FetchKeys } from './jwks';
import type { RevocationSet } from './revocations';

export const TOKEN_REVOKED_EVENT = 'token.revoked';
export const TokenRevokedPayload = payloadType(
  otpEventsV1.protobufPackage,
  'TokenRevoked',
  otpEventsV1.TokenRevoked,
);

/** Fetches the JWKS from the OTP service over gRPC. */
export function otpServiceKeys(
  client: otpV1.OtpServiceClient,
  metadata: () => Metadata,
  timeoutMs = 3_000,
): FetchKeys {
  return async () => {
    const response = await unaryCall<otpV1.GetSigningKeysResponse>((done) =>
      client.getSigningKeys({}, metadata(), { deadline: new Date(Date.now() + timeoutMs) }, done),
    );
    return response.keys;
  };
}

export interface RevocationListenerOptions {
  readonly kafka: Kafka;
  /** Unique per process: every instance must see every revocation. */
  readonly groupId: string;
  readonly revocations: RevocationSet;
  readonly logger: Logger;
}

/**
 * Feeds a RevocationSet from the OTP service's `token.revoked` events, so every
 * service refuses a revoked token without asking anyone.
 */
export async function startRevocationListener(
  options: RevocationListenerOptions,
): Promise<{ stop(): Promise<void> }> {
  const consumer = options.kafka.consumer({ groupId: options.groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: eventsTopic('otp'), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.headers?.['event-type']?.toString() !== TOKEN_REVOKED_EVENT || !message.value)
          return;
        try {
          const revoked = readPayload(decodeEnvelope(message.value), TokenRevokedPayload);
          if (revoked.expiresAt) options.revocations.add(revoked.tokenId, revoked.expiresAt);
        } catch (error) {
          options.logger.error('skipping unreadable token.revoked event', { err: error });
        }
      },
    });
  } catch (error) {
    await consumer.disconnect().catch(() => undefined);
    throw error;
  }
  return { stop: () => consumer.disconnect() };
}
