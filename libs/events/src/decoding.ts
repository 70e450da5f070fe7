import type { KafkaMessage } from 'kafkajs';
import { decodeEvent, type DecodedEvent, type UndecodableReason } from '@vaxguard/event-catalogue';
import type { Logger } from '@vaxguard/logging';

export interface DecodingStats {
  readonly decoded: number;
  readonly undecodable: Readonly<Record<UndecodableReason, number>>;
}

/**
 * Decodes each message through the event catalogue. A message that cannot be read (not
 * an envelope, a type the catalogue does not declare, a payload that is not the
 * declared message) is counted and logged by position and reason only, never its bytes,
 * and skipped: it can never be applied, and skipping keeps the partition moving.
 */
export class CountingDecoder {
  private decoded = 0;
  private readonly undecodable: Record<UndecodableReason, number> = {
    NOT_AN_ENVELOPE: 0,
    UNKNOWN_TYPE: 0,
    UNREADABLE_PAYLOAD: 0,
  };

  constructor(private readonly logger: Logger) {}

  decode(topic: string, partition: number, message: KafkaMessage): DecodedEvent | undefined {
    const result = decodeEvent(message.value ?? Buffer.alloc(0));
    if (result.ok) {
      this.decoded++;
      return result.event;
    }
    this.undecodable[result.reason]++;
    this.logger.warn('skipping a message that cannot be decoded', {
      topic,
      partition,
      offset: message.offset,
      reason: result.reason,
      ...(result.eventId ? { eventId: result.eventId } : {}),
      ...(result.type ? { type: result.type } : {}),
    });
    return undefined;
  }

  get stats(): DecodingStats {
    return { decoded: this.decoded, undecodable: { ...this.undecodable } };
  }
}
