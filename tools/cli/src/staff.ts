// Commands that read what only staff may read (the audit log's entries, alerts) sign in
// as a staff member: the platform admin of the description unless --as names another.
import type { Command } from 'commander';
import type { CommandContext, StaffCredentials } from './context';
import { UsageError } from './errors';

export interface StaffOptions {
  readonly as?: string;
  readonly passwordFile?: string;
}

/** Adds --as and --password-file to a command. */
export function withStaffOptions(command: Command, who: string): Command {
  return command
    .option('--as <username>', `sign in as this ${who} (default: the platform admin)`)
    .option(
      '--password-file <file>',
      "the --as staff member's password, from a file or - for standard input",
    );
}

/** Whom to sign in as; the STAFF_LOGIN code comes from the dev SMS inbox. */
export async function staffCredentials(
  context: CommandContext,
  options: StaffOptions,
): Promise<StaffCredentials> {
  if (options.as === undefined) {
    if (options.passwordFile !== undefined) throw new UsageError('--password-file goes with --as');
    return context.adminCredentials();
  }
  if (options.passwordFile === undefined) {
    throw new UsageError(
      `--as ${options.as} needs --password-file <file> (or - to read the password from standard input)`,
    );
  }
  const password = await context.readInput(options.passwordFile, '--password-file');
  return { username: options.as, password };
}

/** Waits `ms`, or less when the run is aborted (Ctrl-C). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
