import { describe, expect, it } from 'vitest';
import { ConfigKeyProvider } from './config-key-provider';
import {
  judgeSealed,
  rotationComplete,
  type ColumnReport,
  type RotationReport,
} from './key-rotation';
import { decodeSealedRecord, encodeSealedRecord, EnvelopeVault } from './vault';

const kek1 = { id: 'kek-2026-01', key: Buffer.alloc(32, 1) };
const kek2 = { id: 'kek-2026-07', key: Buffer.alloc(32, 2) };
const kek0 = { id: 'kek-2025-07', key: Buffer.alloc(32, 9) };
const PAN = Buffer.from('ABCPE1234F');
const ROW = 'beneficiary/bnf_014d2pf2dbsqqzxq5tk1v58cgg/photo-id';

const sealUnder = (kek: typeof kek1) =>
  new EnvelopeVault(new ConfigKeyProvider({ current: kek })).seal(PAN, ROW);

describe('judgeSealed', () => {
  const keys = new ConfigKeyProvider({ current: kek2, previous: [kek1] });
  const vault = new EnvelopeVault(keys);
  const judge = (sealed: Buffer) => judgeSealed(vault, keys, kek2.id, sealed);

  it('re-wraps a record under a previous KEK: it then opens with the new KEK alone, same ciphertext', async () => {
    const sealed = await sealUnder(kek1);
    const verdict = await judge(sealed);
    if (verdict.outcome !== 'rewrap') throw new Error(`expected a re-wrap, got ${verdict.outcome}`);
    const after = decodeSealedRecord(verdict.rewrapped);
    const before = decodeSealedRecord(sealed);
    expect(after.kekId).toBe(kek2.id);
    expect(after.ciphertext).toEqual(before.ciphertext);
    expect(after.iv).toEqual(before.iv);
    expect(after.tag).toEqual(before.tag);
    const onlyNewKey = new EnvelopeVault(new ConfigKeyProvider({ current: kek2 }));
    expect(await onlyNewKey.open(verdict.rewrapped, ROW)).toEqual(PAN);
  });

  it('leaves a record already under the current KEK', async () => {
    expect(await judge(await sealUnder(kek2))).toEqual({ outcome: 'alreadyCurrent' });
  });

  it('names the KEK of a record that no configured key opens, and leaves it', async () => {
    expect(await judge(await sealUnder(kek0))).toEqual({
      outcome: 'unknownKey',
      keyId: kek0.id,
    });
  });

  it('calls a record that does not decode, or whose data key does not unwrap, damaged', async () => {
    expect(await judge(Buffer.from('not a sealed record'))).toEqual({ outcome: 'damaged' });
    const record = decodeSealedRecord(await sealUnder(kek1));
    const wrappedDek = Buffer.from(record.wrappedDek);
    wrappedDek[20] = wrappedDek[20]! ^ 0x01;
    expect(await judge(encodeSealedRecord({ ...record, wrappedDek }))).toEqual({
      outcome: 'damaged',
    });
  });
});

describe('rotationComplete', () => {
  const column = (counts: Partial<ColumnReport> = {}): ColumnReport => ({
    examined: 0,
    rewrapped: 0,
    alreadyCurrent: 0,
    unknownKey: 0,
    damaged: 0,
    ...counts,
  });
  const report = (photoId: Partial<ColumnReport>): RotationReport => ({
    currentKeyId: kek2.id,
    columns: {
      mobile_sealed: column({ examined: 3, rewrapped: 2, alreadyCurrent: 1 }),
      photo_id_sealed: column(photoId),
    },
    unknownKeyIds: {},
  });

  it('holds when every record ends under the current KEK, and fails on any left behind', () => {
    expect(rotationComplete(report({ examined: 3, rewrapped: 3 }))).toBe(true);
    expect(rotationComplete(report({ examined: 3, rewrapped: 2, unknownKey: 1 }))).toBe(false);
    expect(rotationComplete(report({ examined: 3, rewrapped: 2, damaged: 1 }))).toBe(false);
  });
});
