import { open } from 'node:fs/promises';
import type { DevSms } from './dev-sms';

const NEWLINE = 0x0a;

export interface DevSmsInboxOptions {
  /** How often the file is read again while someone waits (default 50 ms). */
  readonly intervalMs?: number;
}

/**
 * Waits for the codes of transactions as the OTP service delivers them to the inbox,
 * reading it on from where the last read stopped: a caller confirming thousands of
 * sign-ins (a large seed) reads each message once instead of the whole file per code.
 * Every waiter shares one read at a time.
 */
export class DevSmsInbox {
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  private readonly latest = new Map<string, DevSms>();
  private reading: Promise<void> | undefined;
  private readonly intervalMs: number;

  constructor(
    private readonly file: string,
    options: DevSmsInboxOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 50;
  }

  /**
   * The latest message for a transaction, once the inbox has it; rejects naming the
   * transaction and the file when none arrives within `timeoutMs` (default 30 s).
   */
  async waitFor(
    txnId: string,
    { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
  ): Promise<DevSms> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.readNew();
      const found = this.latest.get(txnId);
      if (found) return found;
      if (Date.now() >= deadline) {
        throw new Error(
          `no SMS for transaction ${txnId} reached ${this.file} within ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
  }

  private readNew(): Promise<void> {
    this.reading ??= this.readAppended().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async readAppended(): Promise<void> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      // A file shorter than what was read is a new inbox: start again.
      if (size < this.offset) {
        this.offset = 0;
        this.partial = Buffer.alloc(0);
        this.latest.clear();
      }
      if (size === this.offset) return;
      const appended = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(appended, 0, appended.length, this.offset);
      this.offset += bytesRead;
      const bytes = Buffer.concat([this.partial, appended.subarray(0, bytesRead)]);
      // Only whole lines: the OTP service may be half-way through appending one.
      const end = bytes.lastIndexOf(NEWLINE);
      this.partial = end === -1 ? bytes : bytes.subarray(end + 1);
      if (end === -1) return;
      for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const sms = JSON.parse(line) as DevSms;
        this.latest.set(sms.txnId, sms);
      }
    } finally {
      await handle.close();
    }
  }
}
