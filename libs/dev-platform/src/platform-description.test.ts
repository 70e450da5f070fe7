import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  readPlatformDescription,
  writePlatformDescription,
  type PlatformDescription,
} from './platform-description';

const description: PlatformDescription = {
  services: {
    identity: '127.0.0.1:1',
    otp: '127.0.0.1:2',
    'vaccination-record': '127.0.0.1:3',
    audit: '127.0.0.1:4',
  },
  postgres: {
    adminUrl: 'postgres://u:p@127.0.0.1:5/vaxguard',
    databases: {
      identity: 'postgres://u:p@127.0.0.1:5/a',
      otp: 'postgres://u:p@127.0.0.1:5/b',
      'vaccination-record': 'postgres://u:p@127.0.0.1:5/c',
      audit: 'postgres://u:p@127.0.0.1:5/d',
    },
  },
  kafkaBrokers: '127.0.0.1:6',
  client: { id: 'demo-portal', secret: 's' },
  admin: { username: 'platform.admin', password: 'p' },
  smsInbox: '/tmp/sms.jsonl',
  issuer: {
    url: 'http://127.0.0.1:7/issuer',
    keysUrl: 'http://127.0.0.1:7/issuer/.well-known/jwks.json',
  },
  auditLog: { origin: 'audit.test', verifierKey: 'audit.test+abcd+key' },
  witnesses: [
    { name: 'witness.test', url: 'http://127.0.0.1:8', verifierKey: 'witness.test+ef01+key' },
  ],
};

describe('platform description', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vaxguard-platform-description-'));

  it('reads back what was written, readable by its owner only', () => {
    const file = join(dir, 'nested', 'platform.json');
    writePlatformDescription(file, description);
    expect(readPlatformDescription(file)).toEqual(description);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('names the file and every missing field of a file that is not a description', () => {
    const file = join(dir, 'partial.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...description,
        client: { id: 'x' },
        smsInbox: 3,
        witnesses: [{ name: 'witness.test', url: 'http://127.0.0.1:8' }],
      }),
    );
    expect(() => readPlatformDescription(file)).toThrow(
      `${file} is not a platform description: missing client.secret, smsInbox, witnesses`,
    );
  });

  it('reads a description written before witnesses were described as naming none', () => {
    const file = join(dir, 'older.json');
    writeFileSync(file, JSON.stringify({ ...description, witnesses: undefined }));
    expect(readPlatformDescription(file)).toEqual({ ...description, witnesses: [] });
  });

  it('names a file that does not exist or is not JSON', () => {
    expect(() => readPlatformDescription(join(dir, 'absent.json'))).toThrow(
      /cannot read the platform description .*absent\.json: ENOENT/,
    );
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{');
    expect(() => readPlatformDescription(file)).toThrow(/cannot read the platform description/);
  });
});
