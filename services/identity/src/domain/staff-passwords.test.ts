import { describe, expect, it } from 'vitest';
import { STAFF_PASSWORD_SCRYPT } from './identity-rules';
import { hashStaffPassword, needsRehash, verifyStaffPassword } from './staff-passwords';

// Cheap parameters for the tests that are not about the cost; one test uses the real ones.
const cheap = { ...STAFF_PASSWORD_SCRYPT, cost: 2 ** 10 };

describe('staff password hashes', () => {
  // Three real scrypt runs (128 MiB each): seconds on a loaded 2-core machine, hence the
  // longer bound.
  it(
    'are scrypt N=2^17, r=8, p=1 in PHC format, and verify only the right password',
    {
      timeout: 30_000,
    },
    async () => {
      const stored = await hashStaffPassword('correct horse battery');
      expect(stored).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      expect(stored).not.toContain('horse');
      expect(await verifyStaffPassword('correct horse battery', stored)).toBe(true);
      expect(await verifyStaffPassword('correct horse batterY', stored)).toBe(false);
      expect(needsRehash(stored)).toBe(false);
    },
  );

  it('use a fresh salt each time', async () => {
    const [a, b] = await Promise.all([
      hashStaffPassword('correct horse battery', cheap),
      hashStaffPassword('correct horse battery', cheap),
    ]);
    expect(a).not.toBe(b);
    expect(await verifyStaffPassword('correct horse battery', a)).toBe(true);
    expect(await verifyStaffPassword('correct horse battery', b)).toBe(true);
  });

  it('verify a password typed in another Unicode form of the same text (NFKC)', async () => {
    const stored = await hashStaffPassword('correct horse', cheap);
    expect(await verifyStaffPassword('ｃｏｒｒｅｃｔ ｈｏｒｓｅ', stored)).toBe(true);
  });

  it('keep verifying after the parameters are raised, and ask to be redone', async () => {
    const stored = await hashStaffPassword('correct horse battery', cheap);
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(await verifyStaffPassword('correct horse battery', stored)).toBe(true);
    expect(needsRehash(stored)).toBe(true);
  });

  it('never match a stored value that is not such a hash, nor one asking for gigabytes', async () => {
    const stored = await hashStaffPassword('correct horse battery', cheap);
    const greedy = stored.replace('ln=10', 'ln=30');
    for (const bad of [
      '',
      'correct horse battery',
      stored.replace('$scrypt$', '$argon2id$'),
      greedy,
    ]) {
      expect(await verifyStaffPassword('correct horse battery', bad)).toBe(false);
      expect(needsRehash(bad)).toBe(true);
    }
  });
});
