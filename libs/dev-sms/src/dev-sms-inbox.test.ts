import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendDevSms, type DevSms } from './dev-sms';
import { DevSmsInbox } from './dev-sms-inbox';

const sms = (txnId: string, code: string): DevSms => ({
  txnId,
  to: 'XXXXXX3210',
  code,
  purpose: 'CITIZEN_LOGIN',
  expiresAt: '2026-11-22T10:03:00.000Z',
});

describe('development SMS inbox waiter', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dev-sms-inbox-'));
    file = join(dir, 'sms.jsonl');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for a message that arrives after it started waiting, the inbox not there yet', async () => {
    const inbox = new DevSmsInbox(file, { intervalMs: 5 });
    const waiting = inbox.waitFor('t2');
    await appendDevSms(file, sms('t1', '111111'));
    await appendDevSms(file, sms('t2', '222222'));
    expect((await waiting).code).toBe('222222');
    // What it read before is kept: an earlier transaction is answered at once.
    expect((await inbox.waitFor('t1', { timeoutMs: 0 })).code).toBe('111111');
  });

  it('reads a line only once it is whole, and the latest message of a transaction wins', async () => {
    const inbox = new DevSmsInbox(file, { intervalMs: 5 });
    const line = JSON.stringify(sms('t1', '111111'));
    await writeFile(file, line.slice(0, 20));
    await expect(inbox.waitFor('t1', { timeoutMs: 20 })).rejects.toThrow(
      `no SMS for transaction t1 reached ${file} within 20 ms`,
    );
    await appendFile(file, `${line.slice(20)}\n`);
    expect((await inbox.waitFor('t1')).code).toBe('111111');
    await appendDevSms(file, sms('t1', '333333'));
    await expect.poll(async () => (await inbox.waitFor('t1')).code, { interval: 5 }).toBe('333333');
  });

  it('starts again when the inbox is replaced by a shorter one', async () => {
    const inbox = new DevSmsInbox(file, { intervalMs: 5 });
    await appendDevSms(file, sms('old-transaction', '111111'));
    await appendDevSms(file, sms('t1', '111111'));
    await inbox.waitFor('t1');
    await writeFile(file, `${JSON.stringify(sms('t2', '222222'))}\n`);
    expect((await inbox.waitFor('t2')).code).toBe('222222');
  });
});
