import { describe, expect, it } from 'vitest';
import { ConfigKeyProvider } from './config-key-provider';
import {
  decodeSealedRecord,
  encodeSealedRecord,
  EnvelopeVault,
  sealedKeyId,
  VaultError,
  type SealedRecord,
} from './vault';

const kek1 = { id: 'kek-2026-01', key: Buffer.alloc(32, 1) };
const kek2 = { id: 'kek-2026-07', key: Buffer.alloc(32, 2) };
const vaultWith = (current: typeof kek1, ...previous: (typeof kek1)[]) =>
  new EnvelopeVault(new ConfigKeyProvider({ current, previous }));

const PAN = Buffer.from('ABCPE1234F');
const ROW = 'beneficiary/bnf_014d2pf2dbsqqzxq5tk1v58cgg/photo-id';

/** A copy of a record with one byte of one part flipped. */
function tampered(sealed: Buffer, part: keyof Omit<SealedRecord, 'version' | 'kekId'>): Buffer {
  const record = decodeSealedRecord(sealed);
  const bytes = Buffer.from(record[part]);
  bytes[0] = bytes[0]! ^ 0x01;
  return encodeSealedRecord({ ...record, [part]: bytes });
}

describe('EnvelopeVault', () => {
  it('opens what it sealed, for the same associated data', async () => {
    const vault = vaultWith(kek1);
    const sealed = await vault.seal(PAN, ROW);
    expect(await vault.open(sealed, ROW)).toEqual(PAN);
    expect(sealed.toString('latin1')).not.toContain('ABCPE1234F');
    expect(sealed.toString('hex')).not.toContain(PAN.toString('hex'));
  });

  it('writes one self-describing record: version, KEK id, wrapped DEK, IV, tag, ciphertext', async () => {
    const sealed = await vaultWith(kek1).seal(PAN, ROW);
    const record = decodeSealedRecord(sealed);
    expect(record.version).toBe(1);
    expect(record.kekId).toBe('kek-2026-01');
    expect(sealedKeyId(sealed)).toBe('kek-2026-01');
    expect(record.wrappedDek).toHaveLength(60);
    expect(record.iv).toHaveLength(12);
    expect(record.tag).toHaveLength(16);
    expect(record.ciphertext).toHaveLength(PAN.length);
    expect(encodeSealedRecord(record)).toEqual(sealed);
  });

  it('uses a fresh data key and IV for every record', async () => {
    const vault = vaultWith(kek1);
    const a = decodeSealedRecord(await vault.seal(PAN, ROW));
    const b = decodeSealedRecord(await vault.seal(PAN, ROW));
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.wrappedDek.equals(b.wrappedDek)).toBe(false);
    // Were the data key shared, b's wrapped key would open a's ciphertext.
    const crossed = encodeSealedRecord({ ...a, wrappedDek: b.wrappedDek });
    await expect(vault.open(crossed, ROW)).rejects.toThrow(VaultError);
  });

  it('does not open for another row or purpose: records cannot be swapped', async () => {
    const vault = vaultWith(kek1);
    const sealed = await vault.seal(PAN, ROW);
    for (const other of [
      'beneficiary/bnf_7zzzzzzzzzzzzzzzzzzzzzzzzz/photo-id',
      'beneficiary/bnf_014d2pf2dbsqqzxq5tk1v58cgg/mobile',
      '',
    ]) {
      await expect(vault.open(sealed, other)).rejects.toThrow(VaultError);
    }
  });

  it.each(['ciphertext', 'tag', 'iv', 'wrappedDek'] as const)(
    'detects a changed %s',
    async (part) => {
      const vault = vaultWith(kek1);
      const sealed = await vault.seal(PAN, ROW);
      await expect(vault.open(tampered(sealed, part), ROW)).rejects.toThrow(
        'sealed record does not open',
      );
    },
  );

  it('refuses a record of another version, or cut short', async () => {
    const vault = vaultWith(kek1);
    const sealed = await vault.seal(PAN, ROW);
    const otherVersion = Buffer.from(sealed);
    otherVersion[0] = 2;
    await expect(vault.open(otherVersion, ROW)).rejects.toThrow('not a sealed record of version 1');
    await expect(vault.open(sealed.subarray(0, 40), ROW)).rejects.toThrow('truncated');
    await expect(vault.open(Buffer.alloc(0), ROW)).rejects.toThrow(VaultError);
  });

  it('refuses a record whose KEK the provider does not hold, naming only its id', async () => {
    const sealed = await vaultWith(kek1).seal(PAN, ROW);
    const error: unknown = await vaultWith(kek2)
      .open(sealed, ROW)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(VaultError);
    expect((error as Error).message).toBe(
      'sealed under key-encryption key kek-2026-01, which the key provider does not hold',
    );
  });

  it('binds a wrapped key to its KEK id: relabelled to another id, even with the same key bytes, it does not open', async () => {
    const alias = { id: 'kek-alias', key: kek1.key };
    const sealed = await vaultWith(kek1, alias).seal(PAN, ROW);
    const relabelled = encodeSealedRecord({ ...decodeSealedRecord(sealed), kekId: 'kek-alias' });
    await expect(vaultWith(kek1, alias).open(relabelled, ROW)).rejects.toThrow(
      'sealed record does not open',
    );
  });

  it('rotates: a record sealed under KEK1 is re-wrapped under KEK2 and opens with only KEK2, its ciphertext unchanged', async () => {
    const sealed = await vaultWith(kek1).seal(PAN, ROW);
    const rewrapped = await vaultWith(kek2, kek1).rewrap(sealed);

    const before = decodeSealedRecord(sealed);
    const after = decodeSealedRecord(rewrapped);
    expect(after.kekId).toBe('kek-2026-07');
    expect(after.ciphertext).toEqual(before.ciphertext);
    expect(after.iv).toEqual(before.iv);
    expect(after.tag).toEqual(before.tag);
    expect(after.wrappedDek.equals(before.wrappedDek)).toBe(false);

    const onlyKek2 = vaultWith(kek2);
    expect(await onlyKek2.open(rewrapped, ROW)).toEqual(PAN);
    await expect(onlyKek2.open(sealed, ROW)).rejects.toThrow('does not hold');
    // Re-wrapping needs no associated data and does not loosen it.
    await expect(onlyKek2.open(rewrapped, 'beneficiary/other/photo-id')).rejects.toThrow(
      VaultError,
    );
  });

  it('leaves a record already under the current KEK as it is', async () => {
    const vault = vaultWith(kek2, kek1);
    const sealed = await vault.seal(PAN, ROW);
    expect(await vault.rewrap(sealed)).toEqual(sealed);
  });

  it('refuses to re-wrap a record with a damaged wrapped key', async () => {
    const sealed = await vaultWith(kek1).seal(PAN, ROW);
    await expect(vaultWith(kek2, kek1).rewrap(tampered(sealed, 'wrappedDek'))).rejects.toThrow(
      'sealed record does not open',
    );
  });
});
