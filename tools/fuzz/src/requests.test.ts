import { BinaryReader } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MESSAGE_SIZE_LIMIT, redactedHex, requestArb } from './requests';
import { platformRpcs } from './rpcs';

/** Reads every top-level field's tag and skips its value: throws on a broken frame. */
function readFields(bytes: Uint8Array): number {
  const reader = new BinaryReader(bytes);
  let fields = 0;
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    reader.skip(wireType, number);
    fields++;
  }
  return fields;
}

const known = { ids: ['ref-1'], tokens: ['eyJhbGciOiJFZERTQSJ9.e30.c2ln'] };

describe('the fuzz requests', () => {
  it('cover every RPC of the four services, unary and streaming', () => {
    const rpcs = platformRpcs();
    expect(new Set(rpcs.map((rpc) => rpc.service))).toEqual(
      new Set(['otp', 'identity', 'vaccination-record', 'audit']),
    );
    expect(rpcs.map((rpc) => rpc.name)).toContain('VaccinationRecordService/RecordDose');
    expect(rpcs.map((rpc) => rpc.name)).toContain('AuditService/ExportEntries');
    expect(rpcs.find((rpc) => rpc.name === 'AuditService/ExportEntries')?.serverStreaming).toBe(
      true,
    );
  });

  it('are well-formed messages of the RPC when the frame is not spoiled, and spoiled in every way', () => {
    const rpcs = platformRpcs();
    const shapes = new Set<string>();
    for (const request of fc.sample(requestArb(rpcs, known, ['citizen']), {
      seed: 7,
      numRuns: 2_000,
    })) {
      shapes.add(request.shape);
      // Invalid UTF-8 in a string is still a well-formed frame.
      if (request.shape === 'well-formed') expect(() => readFields(request.bytes)).not.toThrow();
      if (request.shape === 'oversize')
        expect(request.bytes.length).toBeGreaterThan(MESSAGE_SIZE_LIMIT);
    }
    expect([...shapes].sort()).toEqual([
      'oversize',
      'random-bytes',
      'truncated',
      'well-formed',
      'wrong-wire-type',
    ]);
  });

  it('are reported with the planted mobile and Aadhaar digits hidden', () => {
    const bytes = Buffer.from('\x0a\x0a9876543210\x12\x0c234567890124');
    const hex = redactedHex({ bytes, personal: ['9876543210', '234567890124'] });
    const shown = Buffer.from(hex, 'hex').toString('latin1');
    expect(shown).not.toContain('9876543210');
    expect(shown).not.toContain('234567890124');
    expect(shown).toContain('XXXXXXXXXX');
  });
});
