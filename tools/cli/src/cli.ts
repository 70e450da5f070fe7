// The `vaxguard` program: global options, the commands registered from commands.ts, and
// the one place a run's outcome becomes an exit code (0 ok, 1 a check failed, 2 a usage
// error, 3 the platform unreachable, 4 the audit log tampered with) and a failure a
// message on stderr.
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS } from './commands';
import { CommandContext, DEFAULT_PLATFORM_FILE, type CliIo, type GlobalOptions } from './context';
import { EXIT, toCliError, UsageError, type ExitCode } from './errors';

/**
 * What a command's action is: it runs with the context and its parsed options and
 * arguments, prints its result, and says how it went (nothing returned: 0).
 */
export type CommandAction<Options, Args extends unknown[]> = (
  context: CommandContext,
  options: Options,
  ...args: Args
) => Promise<ExitCode | void>;

/** What a command module registers its commands with. */
export interface CommandKit {
  /** An action for commander's `.action()`: the context made, the outcome recorded. */
  action<Options, Args extends unknown[]>(
    run: CommandAction<Options, Args>,
  ): (...received: unknown[]) => Promise<void>;
}

/** A command module: registers one top-level command (with its subcommands) on the program. */
export interface CliCommand {
  readonly register: (program: Command, kit: CommandKit) => void;
}

const USAGE_HINT = '(add --help for usage)';

export function createProgram(
  io: CliIo,
  onContext: (context: CommandContext) => void,
): {
  program: Command;
  outcome: () => ExitCode;
} {
  let exitCode: ExitCode = EXIT.ok;
  const program = new Command('vaxguard')
    .description(
      "The command line for VaxGuard's platform engineers: health, demo data, OTP sign-ins, certificates, the audit log, alerts, the kill switch and key rotation, against a running platform (npm start's, or any described by --platform).",
    )
    .addOption(
      new Option('--platform <file>', 'the platform description to use').default(
        DEFAULT_PLATFORM_FILE,
      ),
    )
    .option('--json', 'print results as JSON (one document, or one object a line when following)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError(USAGE_HINT)
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 a check failed or the platform refused, 2 a usage error, 3 the platform is unreachable, 4 the audit log failed verification (audit verify: see its help).
Nothing printed holds a raw mobile, identity number, OTP or token unless a command is asked for it.`,
    );
  const kit: CommandKit = {
    action<Options, Args extends unknown[]>(run: CommandAction<Options, Args>) {
      return async (...received: unknown[]) => {
        const command = received.at(-1) as Command;
        const options = command.opts<Options & object>();
        const args = received.slice(0, -2) as Args;
        const context = new CommandContext(io, command.optsWithGlobals<GlobalOptions>());
        onContext(context);
        exitCode = (await run(context, options, ...args)) ?? EXIT.ok;
      };
    },
  };
  for (const command of COMMANDS) command.register(program, kit);
  applyToAll(program, (command) => {
    command.exitOverride();
    command.configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) => write(text.replace(/^error: /, 'vaxguard: ')),
    });
  });
  return { program, outcome: () => exitCode };
}

function applyToAll(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyToAll(sub, apply);
}

/** Commander's own ways of ending that are not mistakes. */
const COMMANDER_OK = new Set(['commander.helpDisplayed', 'commander.version']);

/** Runs the command line and returns its exit code; everything it prints goes through `io`. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const contexts: CommandContext[] = [];
  const { program, outcome } = createProgram(io, (context) => contexts.push(context));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return outcome();
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (and the help, for a command given none).
      return COMMANDER_OK.has(error.code) ? EXIT.ok : EXIT.usage;
    }
    const failure = toCliError(error);
    io.stderr(`vaxguard: ${failure.message}\n`);
    if (failure instanceof UsageError) io.stderr(`${USAGE_HINT}\n`);
    return failure.exitCode;
  } finally {
    for (const context of contexts) context.close();
  }
}
