// The commands of `vaxguard`, in the order --help lists them. A new command is a module
// exporting a CliCommand, added here (the lead's replay-leak goes in the same way).
import type { CliCommand } from './cli';
import { alertsCommand } from './commands/alerts';
import { auditCommand } from './commands/audit';
import { backupCommands } from './commands/backup';
import { certificateCommand } from './commands/certificate';
import { keysCommand } from './commands/keys';
import { lockCommands } from './commands/lock';
import { otpCommand } from './commands/otp';
import { replayLeakCommand } from './commands/replay-leak';
import { seedCommand } from './commands/seed';
import { statusCommand } from './commands/status';

export const COMMANDS: readonly CliCommand[] = [
  statusCommand,
  seedCommand,
  otpCommand,
  certificateCommand,
  auditCommand,
  alertsCommand,
  lockCommands,
  keysCommand,
  backupCommands,
  replayLeakCommand,
];
