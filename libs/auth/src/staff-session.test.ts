import { describe, expect, it } from 'vitest';
import type { Principal } from '@vaxguard/grpc-kit';
import { AUDIENCE, type TokenClaims } from '@vaxguard/tokens';
import { requireStaffSession, staffSessionOf } from './staff-session';

const claims = (overrides: Partial<TokenClaims>): TokenClaims =>
  ({
    tokenId: '00000000-0000-4000-8000-000000000000',
    subject: 'stf_1',
    audience: AUDIENCE.staff,
    clientId: 'portal',
    scopes: [],
    staff: { role: 'VACCINATOR', centreId: 'ctr_1' },
    ...overrides,
  }) as TokenClaims;

const principal = (token?: TokenClaims): Principal => ({
  kind: token ? 'staff' : 'client',
  id: 'stf_1',
  clientId: 'relay',
  scopes: [],
  ...(token ? { token } : {}),
});

describe('staffSessionOf', () => {
  it('names the staff member, role and centre of a staff session, and the client it came through', () => {
    expect(staffSessionOf(principal(claims({})))).toEqual({
      staffId: 'stf_1',
      role: 'VACCINATOR',
      centreId: 'ctr_1',
      clientId: 'relay',
    });
  });

  it('is nothing for a call without a token, another audience, or a staff token without its claim', () => {
    expect(staffSessionOf(principal())).toBeUndefined();
    expect(staffSessionOf(principal(claims({ audience: AUDIENCE.citizen })))).toBeUndefined();
    expect(staffSessionOf(principal(claims({ staff: undefined })))).toBeUndefined();
    expect(() => requireStaffSession(principal())).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REQUIRED' }),
    );
  });
});
