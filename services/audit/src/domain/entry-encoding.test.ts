import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  decodeEntry,
  encodeEntry,
  entryObject,
  EntryFormatError,
} from './entry-encoding';
import { aRecord } from './fakes';
import type { AuditRecord } from './model';

const RECORD: AuditRecord = {
  event: {
    eventId: '3f1c2a9e-5b7d-4e10-9c2f-8a6b4d3e2f10',
    type: 'access.granted',
    occurredAt: new Date('2026-12-01T07:17:20.123Z'),
    producer: 'identity',
    actor: { kind: 'ACTOR_KIND_STAFF', principalId: 'stf_1', clientId: 'console' },
    subject: { kind: 'SUBJECT_KIND_BENEFICIARY', ref: 'bnf_0123456789abcdefghijklmnop' },
    payload: {
      typeUrl: 'type.googleapis.com/vaxguard.identity.v1.AccessGranted',
      value: Uint8Array.of(10, 3, 0xff),
    },
    correlationId: 'req-1',
  },
  ingestion: {
    topic: 'vaxguard.identity.events',
    partition: 4,
    offset: '17',
    ingestedAt: new Date('2026-12-01T07:17:21.000Z'),
  },
};

describe('canonical entry encoding', () => {
  it('is RFC 8785 JSON: keys in code-unit order at every level, no whitespace, payload in base64', () => {
    expect(Buffer.from(encodeEntry(RECORD)).toString()).toBe(
      '{"actor":{"clientId":"console","kind":"ACTOR_KIND_STAFF","principalId":"stf_1"},' +
        '"correlationId":"req-1","eventId":"3f1c2a9e-5b7d-4e10-9c2f-8a6b4d3e2f10",' +
        '"format":"vaxguard.audit.entry.v1",' +
        '"ingestion":{"ingestedAt":"2026-12-01T07:17:21.000Z","offset":"17","partition":4,"topic":"vaxguard.identity.events"},' +
        '"occurredAt":"2026-12-01T07:17:20.123Z",' +
        '"payload":{"typeUrl":"type.googleapis.com/vaxguard.identity.v1.AccessGranted","value":"CgP/"},' +
        '"producer":"identity",' +
        '"subject":{"kind":"SUBJECT_KIND_BENEFICIARY","ref":"bnf_0123456789abcdefghijklmnop"},' +
        '"type":"access.granted"}',
    );
  });

  it('serialises as RFC 8785 does: code-unit key order, JSON string escapes, integers only', () => {
    // RFC 8785 §3.2.3: "\u20ac" (€) sorts after "\r", and a non-BMP key by its surrogates.
    expect(canonicalJson({ '€': 1, '\r': 2, '😀': 3, a: 'line\n"q"\u0001' })).toBe(
      '{"\\r":2,"a":"line\\n\\"q\\"\\u0001","€":1,"😀":3}',
    );
    expect(() => canonicalJson({ n: 1.5 })).toThrow(RangeError);
  });

  it('writes exactly the canonical JSON of the entry object, whatever the strings hold', () => {
    const odd: AuditRecord = {
      ...RECORD,
      event: {
        ...RECORD.event,
        correlationId: 'quote " backslash \\ newline \n tab \t € 😀 \u0007',
        actor: { ...RECORD.event.actor, principalId: '</script>' },
      },
    };
    for (const record of [RECORD, odd, aRecord(), aRecord({ type: 'otp.failed' })]) {
      expect(Buffer.from(encodeEntry(record)).toString()).toBe(canonicalJson(entryObject(record)));
    }
  });

  it('reads back into the same record, and only from its canonical bytes', () => {
    const bytes = encodeEntry(RECORD);
    const decoded = decodeEntry(bytes);
    expect(Buffer.from(encodeEntry(decoded)).equals(Buffer.from(bytes))).toBe(true);
    expect(decoded.event.actor.principalId).toBe('stf_1');
    const spaced = Buffer.from(Buffer.from(bytes).toString().replace(',', ', '));
    expect(() => decodeEntry(spaced)).toThrow(EntryFormatError);
    const otherFormat = Buffer.from(Buffer.from(bytes).toString().replace('entry.v1', 'entry.v2'));
    expect(() => decodeEntry(otherFormat)).toThrow(EntryFormatError);
    expect(() => decodeEntry(Buffer.from('not json'))).toThrow(EntryFormatError);
  });

  it('changes with every field, so the leaf hash commits to all of them', () => {
    const base = Buffer.from(encodeEntry(RECORD)).toString();
    const variants: AuditRecord[] = [
      {
        ...RECORD,
        event: { ...RECORD.event, actor: { ...RECORD.event.actor, principalId: 'stf_2' } },
      },
      { ...RECORD, event: { ...RECORD.event, occurredAt: new Date('2026-12-01T07:17:20.124Z') } },
      {
        ...RECORD,
        event: { ...RECORD.event, payload: { ...RECORD.event.payload, value: Uint8Array.of(1) } },
      },
      { ...RECORD, ingestion: { ...RECORD.ingestion, offset: '18' } },
    ];
    for (const variant of variants) {
      expect(Buffer.from(encodeEntry(variant)).toString()).not.toBe(base);
    }
  });
});
