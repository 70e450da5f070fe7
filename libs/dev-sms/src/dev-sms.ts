import { appendFile, readFile } from 'node:fs/promises';

/**
 * One line of the development SMS inbox: the file the OTP service's development
 * adapter writes and that tests, the demo, the benchmark and the CLI read. It is the
 * only place a code is written in clear, so it never holds the raw mobile.
 */
export interface DevSms {
  readonly txnId: string;
  /** The masked mobile (`XXXXXX1234`). */
  readonly to: string;
  readonly code: string;
  readonly purpose: string;
  readonly expiresAt: string;
}

/** Appends a message to the inbox, created readable by its owner only. */
export async function appendDevSms(file: string, sms: DevSms): Promise<void> {
  await appendFile(file, `${JSON.stringify(sms)}\n`, { encoding: 'utf8', mode: 0o600 });
}

/** Every message in the inbox, oldest first; none when it does not exist yet. */
export async function readAllDevSms(file: string): Promise<DevSms[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as DevSms);
}

/** The latest message for a transaction, if any. */
export async function readDevSms(file: string, txnId: string): Promise<DevSms | undefined> {
  return (await readAllDevSms(file)).findLast((sms) => sms.txnId === txnId);
}
