import { describe, expect, it } from 'vitest';
import { Sealer } from './sealer';

const kek = Buffer.alloc(32, 5);

describe('Sealer', () => {
  it('round-trips, with a fresh IV each time', () => {
    const sealer = new Sealer(kek, 'vaxguard/otp/txn-mobile/v1');
    const a = sealer.seal(Buffer.from('9876543210'), 'txn-1');
    const b = sealer.seal(Buffer.from('9876543210'), 'txn-1');
    expect(a.equals(b)).toBe(false);
    expect(a.toString('latin1')).not.toContain('9876543210');
    expect(sealer.open(a, 'txn-1').toString()).toBe('9876543210');
  });

  it('does not open for another row, another purpose, another key, or after tampering', () => {
    const sealed = new Sealer(kek, 'vaxguard/otp/txn-mobile/v1').seal(
      Buffer.from('9876543210'),
      'txn-1',
    );
    expect(() => new Sealer(kek, 'vaxguard/otp/txn-mobile/v1').open(sealed, 'txn-2')).toThrow();
    expect(() => new Sealer(kek, 'vaxguard/otp/signing-key/v1').open(sealed, 'txn-1')).toThrow();
    expect(() =>
      new Sealer(Buffer.alloc(32, 6), 'vaxguard/otp/txn-mobile/v1').open(sealed, 'txn-1'),
    ).toThrow();
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    expect(() => new Sealer(kek, 'vaxguard/otp/txn-mobile/v1').open(tampered, 'txn-1')).toThrow();
  });
});
