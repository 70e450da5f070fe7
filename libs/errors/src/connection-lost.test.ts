import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { dependencyUnavailable, isConnectionLost } from './connection-lost';

/** The error a real connection to a port nobody listens on fails with. */
async function refusedConnection(): Promise<Error> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return new Promise((resolve) => {
    connect({ host: '127.0.0.1', port: address.port }).once('error', resolve);
  });
}

describe('isConnectionLost', () => {
  it('recognises a socket refused or cut, a database connection exception and a server going down', async () => {
    expect(isConnectionLost(await refusedConnection())).toBe(true);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isConnectionLost(reset)).toBe(true);
    // SQLSTATE 08006 connection_failure, 57P01 admin_shutdown, 57P03 cannot_connect_now.
    for (const code of ['08006', '08001', '57P01', '57P03']) {
      expect(isConnectionLost(Object.assign(new Error('x'), { code }))).toBe(true);
    }
    // node-postgres names these without a code.
    expect(isConnectionLost(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionLost(new Error('timeout exceeded when trying to connect'))).toBe(true);
    // Wrapped: the cause is looked at.
    expect(isConnectionLost(new Error('query failed', { cause: reset }))).toBe(true);
  });

  it('leaves every other failure alone: a bad query, a constraint, a timeout of a statement, a bug', () => {
    for (const code of ['42P01', '23505', '57014', '40001', 'ERR_INVALID_ARG_TYPE']) {
      expect(isConnectionLost(Object.assign(new Error('x'), { code }))).toBe(false);
    }
    expect(
      isConnectionLost(new TypeError("Cannot read properties of undefined (reading 'x')")),
    ).toBe(false);
    expect(isConnectionLost('ECONNRESET')).toBe(false);
    expect(isConnectionLost(undefined)).toBe(false);
  });

  it('becomes an UNAVAILABLE refusal that says nothing of the cause', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), {
      code: 'ECONNREFUSED',
    });
    const refusal = dependencyUnavailable(cause);
    expect([refusal.code, refusal.reason]).toEqual(['UNAVAILABLE', 'DEPENDENCY_UNAVAILABLE']);
    expect(refusal.message).not.toContain('5432');
    expect(refusal.cause).toBe(cause);
  });
});
