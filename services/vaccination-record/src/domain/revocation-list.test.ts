import { createRevocationList } from '@vaxguard/health-cards';
import { describe, expect, it } from 'vitest';
import { CertificateService } from './certificate-service';

const KID = 'kid-of-the-issuer-key';

function serviceWithOneKey(): CertificateService {
  const unused = {} as never;
  return new CertificateService({
    store: unused,
    access: unused,
    centres: unused,
    keys: {
      published: async () => ({
        jwks: { keys: [] },
        revocationLists: { [KID]: createRevocationList(KID, []) },
      }),
    } as never,
    clock: () => new Date('2024-03-01T10:00:00Z'),
    issuer: 'https://example.test',
    ridSecret: Buffer.alloc(32),
  });
}

describe('a key revocation list', () => {
  it('is given for a published kid', async () => {
    expect((await serviceWithOneKey().revocationList(KID)).kid).toBe(KID);
  });

  // Found by the fuzz suite (issue 18): `toString` found Object.prototype's function, and
  // GetRevocationList answered INTERNAL (the answer could not be serialised).
  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'nobody'])(
    'is NOT_FOUND UNKNOWN_KID for a kid no key has, %s included',
    async (kid) => {
      await expect(serviceWithOneKey().revocationList(kid)).rejects.toMatchObject({
        code: 'NOT_FOUND',
        reason: 'UNKNOWN_KID',
      });
    },
  );
});
