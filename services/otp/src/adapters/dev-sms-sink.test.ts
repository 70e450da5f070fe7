import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mobile } from '@vaxguard/pii';
import { readDevSms } from '@vaxguard/dev-sms';
import { DevSmsSink } from './dev-sms-sink';

describe('development SMS sink', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otp-sms-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the code with the masked mobile only, readable per transaction, latest first', async () => {
    const file = join(dir, 'sms.jsonl');
    const sink = new DevSmsSink(file);
    const expiresAt = new Date('2026-11-22T10:03:00Z');
    await sink.deliver({
      txnId: 't1',
      mobile: '9876543210' as Mobile,
      code: '111111',
      purpose: 'CITIZEN_LOGIN',
      expiresAt,
    });
    await sink.deliver({
      txnId: 't2',
      mobile: '9876543210' as Mobile,
      code: '222222',
      purpose: 'CONSENT',
      expiresAt,
    });
    await sink.deliver({
      txnId: 't1',
      mobile: '9876543210' as Mobile,
      code: '333333',
      purpose: 'CITIZEN_LOGIN',
      expiresAt,
    });
    expect(await readDevSms(file, 't1')).toEqual({
      txnId: 't1',
      to: 'XXXXXX3210',
      code: '333333',
      purpose: 'CITIZEN_LOGIN',
      expiresAt: '2026-11-22T10:03:00.000Z',
    });
    expect(await readDevSms(file, 'nope')).toBeUndefined();
    expect(await readFile(file, 'utf8')).not.toContain('9876543210');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});
