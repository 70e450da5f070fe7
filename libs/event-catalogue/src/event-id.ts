import { randomBytes } from 'node:crypto';

/**
 * Event ids are UUIDv7 (RFC 9562 §5.7): 48 bits of Unix time in milliseconds, then the
 * version, a 12-bit counter (rand_a, §6.2 method 1), the variant and 62 random bits.
 * Ids made later sort later (as text and as bytes), so every index keyed by an event id
 * (processed_events, the outbox) is written at its right-hand end instead of at random
 * pages, and an id tells when it was made: the audit log refuses a redelivery older
 * than its deduplication window by that time.
 */
export const EVENT_ID_VERSION = 7;

const COUNTER_MAX = 0xfff;
/** The counter starts at a random value below this, leaving room to count up (§6.2). */
const COUNTER_SEED_LIMIT = 0x800;
const MAX_UNIX_MS = 2 ** 48 - 1;

/**
 * Makes UUIDv7 ids that strictly increase within one generator: in the same millisecond
 * the counter goes up; when it is spent, or the clock steps back, the id's time moves
 * one millisecond past the last one (ahead of the clock by at most that, as §6.2 allows).
 */
export class EventIdGenerator {
  private lastMs = -1;
  private counter = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly random: (size: number) => Uint8Array = randomBytes,
  ) {}

  next(): string {
    const bytes = Buffer.from(this.random(16));
    const now = this.now();
    if (!Number.isSafeInteger(now) || now < 0 || now > MAX_UNIX_MS) {
      throw new RangeError(`a UUIDv7 cannot hold the time ${now}`);
    }
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = (((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0)) % COUNTER_SEED_LIMIT;
    } else if (this.counter < COUNTER_MAX) {
      this.counter++;
    } else {
      this.lastMs++;
      this.counter = 0;
    }
    bytes.writeUIntBE(this.lastMs, 0, 6);
    bytes[6] = (EVENT_ID_VERSION << 4) | (this.counter >> 8);
    bytes[7] = this.counter & 0xff;
    bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** The version of an RFC 9562 UUID (4, 7, ...), or undefined for text that is not one. */
export function uuidVersion(id: string): number | undefined {
  const version = UUID.exec(id)?.[1];
  return version === undefined ? undefined : parseInt(version, 16);
}

/**
 * When a UUIDv7 event id was made (its 48-bit millisecond time); undefined for an id of
 * another version (events made before ids were UUIDv7 carry random v4 ids).
 */
export function eventIdTime(id: string): Date | undefined {
  if (uuidVersion(id) !== EVENT_ID_VERSION) return undefined;
  return new Date(parseInt(id.slice(0, 8) + id.slice(9, 13), 16));
}
