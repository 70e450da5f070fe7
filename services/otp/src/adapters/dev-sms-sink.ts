import { appendFile, readFile } from 'node:fs/promises';
import { maskMobile } from '@vaxguard/pii';
import type { OtpDelivery, OtpMessage } from '../domain/model';

/** One line of the development SMS sink. */
export interface DevSms {
  readonly txnId: string;
  /** The masked mobile (`XXXXXX1234`): the raw number is never written. */
  readonly to: string;
  readonly code: string;
  readonly purpose: string;
  readonly expiresAt: string;
}

/**
 * The development SMS adapter: appends each message as a JSON line to a local file
 * (mode 0600) that tests, the CLI and the demo read. It is the only place a code is
 * written in clear, and it is enabled only by development configuration.
 */
export class DevSmsSink implements OtpDelivery {
  constructor(private readonly file: string) {}

  async deliver(message: OtpMessage): Promise<void> {
    const line: DevSms = {
      txnId: message.txnId,
      to: maskMobile(message.mobile),
      code: message.code,
      purpose: message.purpose,
      expiresAt: message.expiresAt.toISOString(),
    };
    await appendFile(this.file, `${JSON.stringify(line)}\n`, { encoding: 'utf8', mode: 0o600 });
  }
}

/** The latest message the development sink holds for a transaction, if any. */
export async function readDevSms(file: string, txnId: string): Promise<DevSms | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let latest: DevSms | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const message = JSON.parse(line) as DevSms;
    if (message.txnId === txnId) latest = message;
  }
  return latest;
}
