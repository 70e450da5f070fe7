import { describe, expect, it } from 'vitest';
import { ConfigKeyProvider } from './config-key-provider';

const kek1 = { id: 'kek-2026-01', key: Buffer.alloc(32, 1) };
const kek2 = { id: 'kek-2026-07', key: Buffer.alloc(32, 2) };

describe('ConfigKeyProvider', () => {
  it('gives the current KEK and every KEK by id', async () => {
    const provider = new ConfigKeyProvider({ current: kek2, previous: [kek1] });
    expect((await provider.current()).id).toBe('kek-2026-07');
    expect((await provider.byId('kek-2026-01'))?.key).toEqual(kek1.key);
    expect((await provider.byId('kek-2026-07'))?.key).toEqual(kek2.key);
    expect(await provider.byId('kek-2025-01')).toBeUndefined();
  });

  it('keeps its own copy of each key', async () => {
    const key = Buffer.alloc(32, 7);
    const provider = new ConfigKeyProvider({ current: { id: 'k', key } });
    key.fill(0);
    expect((await provider.current()).key).toEqual(Buffer.alloc(32, 7));
  });

  it.each([
    ['a 16-byte key', { current: { id: 'k1', key: Buffer.alloc(16, 3) } }, /k1 must be 32 bytes/],
    ['an empty id', { current: { id: '', key: kek1.key } }, /ids must be 1 to 64/],
    ['an id with a colon', { current: { id: 'k:1', key: kek1.key } }, /ids must be 1 to 64/],
    ['an id given twice', { current: kek1, previous: [kek1] }, /kek-2026-01 is given twice/],
  ])('refuses %s at construction, never showing key bytes', (_, config, message) => {
    expect(() => new ConfigKeyProvider(config)).toThrow(message);
    expect(() => new ConfigKeyProvider(config)).not.toThrow(config.current.key.toString('base64'));
  });

  it('takes a configured list current first, and refuses an empty one', async () => {
    const keys = ConfigKeyProvider.fromList([kek2, kek1]);
    expect((await keys.current()).id).toBe(kek2.id);
    expect((await keys.byId(kek1.id))?.key).toEqual(kek1.key);
    expect(() => ConfigKeyProvider.fromList([])).toThrow('no key-encryption key configured');
  });
});
