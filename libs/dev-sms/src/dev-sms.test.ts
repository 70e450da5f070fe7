import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendDevSms, readAllDevSms, readDevSms, type DevSms } from './dev-sms';

const sms = (txnId: string, code: string): DevSms => ({
  txnId,
  to: 'XXXXXX3210',
  code,
  purpose: 'CITIZEN_LOGIN',
  expiresAt: '2026-11-22T10:03:00.000Z',
});

describe('development SMS inbox', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dev-sms-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every message in order, the latest per transaction winning, owner-readable only', async () => {
    const file = join(dir, 'sms.jsonl');
    for (const message of [sms('t1', '111111'), sms('t2', '222222'), sms('t1', '333333')]) {
      await appendDevSms(file, message);
    }
    expect((await readAllDevSms(file)).map((m) => m.code)).toEqual(['111111', '222222', '333333']);
    expect((await readDevSms(file, 't1'))?.code).toBe('333333');
    expect(await readDevSms(file, 'nope')).toBeUndefined();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('reads nothing from an inbox that does not exist yet', async () => {
    expect(await readAllDevSms(join(dir, 'missing.jsonl'))).toEqual([]);
    expect(await readDevSms(join(dir, 'missing.jsonl'), 't1')).toBeUndefined();
  });
});
