import type { Kafka } from 'kafkajs';
import { EVENTS, isEvent } from '@vaxguard/event-catalogue';
import { BroadcastListener } from '@vaxguard/events';
import type { ServiceClient } from '@vaxguard/grpc-kit';
import type { Logger } from '@vaxguard/logging';
import type { otpV1 } from '@vaxguard/proto';
import { MAX_TOKEN_LIFETIME_MS, type FetchKeys, type RevocationSet } from '@vaxguard/tokens';

/** Fetches the OTP service's published signing keys through the client kit (idempotent). */
export function otpServiceKeys(
  client: ServiceClient<typeof otpV1.OtpServiceService>,
  deadlineMs = 3_000,
): FetchKeys {
  return async () => {
    const response = await client.call('getSigningKeys', {}, { idempotent: true, deadlineMs });
    return response.keys;
  };
}

export interface RevocationListenerOptions {
  readonly kafka: Kafka;
  /** The listening service, to name its transient consumer group. */
  readonly service: string;
  readonly revocations: RevocationSet;
  readonly logger: Logger;
  readonly clock?: () => Date;
}

/**
 * Feeds a RevocationSet from `token.revoked` events, so every service refuses a revoked
 * token without asking anyone. Only revocations published within the longest token
 * lifetime can still matter, so reading starts there, not at the topic's beginning;
 * it returns once those have been read.
 */
export function startRevocationListener(
  options: RevocationListenerOptions,
): Promise<BroadcastListener> {
  const now = (options.clock ?? (() => new Date()))();
  return BroadcastListener.start({
    kafka: options.kafka,
    name: `vaxguard.${options.service}.revocations`,
    events: [EVENTS.tokenRevoked],
    since: new Date(now.getTime() - MAX_TOKEN_LIFETIME_MS),
    logger: options.logger,
    onEvent: (event) => {
      if (isEvent(event, EVENTS.tokenRevoked) && event.payload.expiresAt) {
        options.revocations.add(event.payload.tokenId, event.payload.expiresAt);
      }
    },
  });
}
