import { describe, expect, it } from 'vitest';
import { hashClientSecret, parseClientCredentials } from './auth';

describe('parseClientCredentials', () => {
  it('reads id, secret hash and scopes', () => {
    const hash = hashClientSecret('s3cret').toString('hex');
    expect(
      parseClientCredentials(`umang:${hash}:otp.generate+otp.confirm, aarogya-setu:${hash}`),
    ).toEqual([
      {
        clientId: 'umang',
        secretSha256: Buffer.from(hash, 'hex'),
        scopes: ['otp.generate', 'otp.confirm'],
      },
      { clientId: 'aarogya-setu', secretSha256: Buffer.from(hash, 'hex'), scopes: [] },
    ]);
  });

  it('refuses entries that are not id:sha256, without echoing them', () => {
    expect(() => parseClientCredentials('umang:plaintext-secret')).toThrow(
      /^each entry must be client-id:sha256-hex-of-secret\[:scope\+scope\]$/,
    );
  });
});
