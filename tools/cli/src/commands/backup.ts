// `vaxguard backup <dir>` and `vaxguard restore <dir>`: every service's database dumped
// with pg_dump (custom format, each from one snapshot), the access registry topic copied,
// and a manifest with each file's SHA-256 and the audit log's signed checkpoint when the
// backup began; restored into a fresh platform's empty databases once the files match
// their manifest, before its services start.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { PLATFORM_SERVICES } from '@vaxguard/dev-platform';
import { ACCESS_REGISTRY_TOPIC } from '@vaxguard/event-catalogue';
import { checkHealth } from '@vaxguard/grpc-kit';
import { auditCheckpoint } from '@vaxguard/tlog';
import {
  AUDIT_CHECKPOINT_FILE,
  BACKUP_FORMAT,
  BackupProblem,
  DUMP_ORDER,
  dumpFileOf,
  fileDigest,
  MANIFEST_FILE,
  mismatchedFiles,
  NOT_IN_BACKUP,
  parseManifest,
  REGISTRY_FILE,
  type BackupManifest,
  type DumpEntry,
} from '../backup-manifest';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { CheckFailedError, UsageError } from '../errors';
import {
  databaseName,
  emptyDatabase,
  pgDumpVersion,
  pgTool,
  republishOutbox,
  userRelationCount,
} from '../pg-tools';
import { copyRegistryTopic, registryRecordCount, restoreRegistryTopic } from '../registry-topic';

const HOLDS = `A backup holds every service's database (pg_dump custom format, each dumped from one snapshot, consumers before producers), the access registry topic (partners, suspensions, API locks), the audit log's checkpoint when the backup began (${AUDIT_CHECKPOINT_FILE}, the signed note with its witnesses' cosignatures), and ${MANIFEST_FILE}: each file's SHA-256 and size.`;

const KEEP_APART = `Not in a backup, to keep apart (safely: they are secrets or the log's own word):\n${NOT_IN_BACKUP.map((line) => `  - ${line}`).join('\n')}`;

async function backup(context: CommandContext, _options: object, dirArgument: string) {
  const dir = context.path(dirArgument);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(`${context.shown(dir)} is not empty: back up into a new folder`);
  }
  const platform = context.platform();
  const pgDump = await pgDumpVersion();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const startedAt = new Date().toISOString();

  // The checkpoint first: every entry it covers is in the audit dump taken after it.
  const served = await context.operator().audit.call('getCheckpoint', {}, { idempotent: true });
  const checkpoint = auditCheckpoint({
    verifierKey: platform.auditLog.verifierKey,
    signedCheckpoint: served.signedCheckpoint,
  });
  writeFileSync(join(dir, AUDIT_CHECKPOINT_FILE), served.signedCheckpoint, { mode: 0o600 });
  if (served.halted) {
    context.note(
      `the audit log is halted (${served.haltReason}): the backup goes on, and the restored log will have the same tree`,
    );
  }

  // Before identity's dump: what identity announced later is in its outbox, published again.
  const registryRecords = await copyRegistryTopic(platform.kafkaBrokers, join(dir, REGISTRY_FILE));

  const databases: DumpEntry[] = [];
  for (const service of DUMP_ORDER) {
    const url = platform.postgres.databases[service];
    const file = dumpFileOf(service);
    const dumpStarted = new Date().toISOString();
    // --serializable-deferrable: the snapshot is one no running transaction can still
    // make inconsistent (pg_dump waits for one), as PostgreSQL advises for a backup.
    await pgTool(
      'pg_dump',
      [
        '--format=custom',
        '--no-owner',
        '--no-privileges',
        '--serializable-deferrable',
        '--file',
        join(dir, file),
      ],
      url,
    );
    databases.push({
      service,
      database: databaseName(url),
      file,
      ...(await fileDigest(join(dir, file))),
      startedAt: dumpStarted,
      finishedAt: new Date().toISOString(),
    });
  }

  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    startedAt,
    finishedAt: new Date().toISOString(),
    pgDump,
    databases,
    accessRegistry: {
      topic: ACCESS_REGISTRY_TOPIC,
      file: REGISTRY_FILE,
      records: registryRecords,
      ...(await fileDigest(join(dir, REGISTRY_FILE))),
    },
    auditLog: {
      file: AUDIT_CHECKPOINT_FILE,
      ...(await fileDigest(join(dir, AUDIT_CHECKPOINT_FILE))),
      origin: checkpoint.origin,
      verifierKey: platform.auditLog.verifierKey,
      size: checkpoint.size,
      rootHash: Buffer.from(checkpoint.rootHash).toString('base64'),
      signedCheckpoint: served.signedCheckpoint,
      halted: served.halted,
    },
    notIncluded: NOT_IN_BACKUP,
  };
  // Written last, and whole or not at all: a folder without it is no backup.
  const temporary = join(dir, `${MANIFEST_FILE}.tmp`);
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, join(dir, MANIFEST_FILE));

  context.result(
    [
      `backed up to ${context.shown(dir)}:`,
      ...databases.map(
        (entry) => `  ${entry.service.padEnd(19)} ${entry.file} (${entry.bytes} bytes)`,
      ),
      `  ${'access registry'.padEnd(19)} ${REGISTRY_FILE} (${registryRecords} records)`,
      `the audit log ${checkpoint.origin} was at ${checkpoint.size} entries (root ${manifest.auditLog.rootHash}) when the backup began`,
      KEEP_APART,
    ],
    { ok: true, dir, manifest },
  );
}

interface RestoreOptions {
  readonly force?: boolean;
}

function readManifest(context: CommandContext, dir: string): BackupManifest {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) {
    throw new UsageError(`no ${MANIFEST_FILE} in ${context.shown(dir)}: not a vaxguard backup`);
  }
  try {
    return parseManifest(readFileSync(file, 'utf8'));
  } catch (error) {
    if (error instanceof BackupProblem) {
      throw new CheckFailedError(`refusing to restore: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** A service of the target that answers its health check: its database is in use. */
async function runningServices(context: CommandContext): Promise<string[]> {
  const platform = context.platform();
  const answers = await Promise.all(
    PLATFORM_SERVICES.map(async (service) => {
      try {
        await checkHealth(platform.services[service], '', 1_000);
        return service;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((service) => service !== undefined);
}

async function restore(context: CommandContext, options: RestoreOptions, dirArgument: string) {
  const dir = context.path(dirArgument);
  const manifest = readManifest(context, dir);
  // Nothing is touched before every file is shown to be the one the backup wrote.
  const mismatched = await mismatchedFiles(manifest, dir);
  if (mismatched.length > 0) {
    throw new CheckFailedError(
      `refusing to restore: ${context.shown(dir)} does not match its manifest:\n  ${mismatched.join('\n  ')}`,
    );
  }
  const platform = context.platform();
  if (
    manifest.auditLog.origin !== platform.auditLog.origin ||
    manifest.auditLog.verifierKey !== platform.auditLog.verifierKey
  ) {
    throw new CheckFailedError(
      `refusing to restore: the backup's audit log is ${manifest.auditLog.origin} (key ${manifest.auditLog.verifierKey}), this platform's is ${platform.auditLog.origin} (key ${platform.auditLog.verifierKey}); restore into a platform started with the backed-up platform's secrets`,
    );
  }
  const running = await runningServices(context);
  if (running.length > 0) {
    throw new CheckFailedError(
      `refusing to restore: ${running.join(', ')} ${running.length === 1 ? 'is' : 'are'} running on this platform; stop its services, restore, then start them`,
    );
  }
  const targets = await Promise.all(
    manifest.databases.map(async (entry) => {
      const url = platform.postgres.databases[entry.service];
      return { entry, url, relations: await userRelationCount(url) };
    }),
  );
  const registryRecords = await registryRecordCount(platform.kafkaBrokers);
  const occupied = [
    ...targets
      .filter((target) => target.relations > 0)
      .map(
        (target) =>
          `${target.entry.service}'s database ${databaseName(target.url)} holds ${target.relations} tables, sequences or views`,
      ),
    ...(registryRecords > 0 ? [`${ACCESS_REGISTRY_TOPIC} holds ${registryRecords} records`] : []),
  ];
  if (occupied.length > 0 && !options.force) {
    throw new CheckFailedError(
      `refusing to restore over data: ${occupied.join('; ')}. Restore into a fresh platform, or pass --force to replace it`,
    );
  }

  const restored: { service: string; database: string; republished: number }[] = [];
  for (const { entry, url, relations } of targets) {
    if (relations > 0) await emptyDatabase(url);
    // One transaction: a failed restore leaves the database as empty as it was.
    await pgTool(
      'pg_restore',
      [
        '--no-owner',
        '--no-privileges',
        '--exit-on-error',
        '--single-transaction',
        join(dir, entry.file),
      ],
      url,
    );
    restored.push({
      service: entry.service,
      database: databaseName(url),
      republished: await republishOutbox(url),
    });
  }
  const registry = await restoreRegistryTopic(
    platform.kafkaBrokers,
    join(dir, manifest.accessRegistry.file),
  );

  const { auditLog } = manifest;
  context.result(
    [
      `restored the backup of ${manifest.startedAt} from ${context.shown(dir)} (every file matched its manifest):`,
      ...restored.map(
        (entry) =>
          `  ${entry.service.padEnd(19)} into ${entry.database}; ${entry.republished} events in its outbox to be published again`,
      ),
      `  ${'access registry'.padEnd(19)} ${registry} records`,
      `the audit log ${auditLog.origin} was at ${auditLog.size} entries (root ${auditLog.rootHash}) when the backup began: the restored log extends that checkpoint.`,
      `Start the services now, the audit service with AUDIT_RESTORED_CHECKPOINT=${join(dir, AUDIT_CHECKPOINT_FILE)} and an empty AUDIT_STATE_DIR: it goes on from that checkpoint. If a witness cosigned a larger log after this backup, the audit service halts (a CRITICAL LOG_ROLLBACK alert, WITNESS_AHEAD) instead of accepting the rollback: see README, "Backup and restore".`,
    ],
    {
      ok: true,
      dir,
      backupStartedAt: manifest.startedAt,
      databases: restored,
      accessRegistryRecords: registry,
      auditLog: {
        origin: auditLog.origin,
        size: auditLog.size,
        rootHash: auditLog.rootHash,
        restoredCheckpoint: join(dir, auditLog.file),
      },
    },
  );
}

export const backupCommands: CliCommand = {
  register(program: Command, kit) {
    program
      .command('backup')
      .description(
        "a consistent backup of every service's database (pg_dump) and the access registry, with a manifest",
      )
      .argument('<dir>', 'a new (or empty) folder to write the backup to')
      .addHelpText(
        'after',
        `\n${HOLDS}\nNeeds pg_dump (Debian's postgresql-client: bash tools/dev/ensure-prereqs.sh pgclient) and a running platform (the audit log's checkpoint is read from it).\n${KEEP_APART}`,
      )
      .action(kit.action(backup));
    program
      .command('restore')
      .description(
        "restores a backup into a fresh platform's empty databases, before its services start",
      )
      .argument('<dir>', 'the folder `vaxguard backup` wrote')
      .option(
        '--force',
        "replace what the target's databases and access registry hold (its services must still be stopped)",
      )
      .addHelpText(
        'after',
        `
Every file is checked against ${MANIFEST_FILE} (SHA-256 and size) before anything is written: a changed or missing file is refused (exit 1). The target platform (--platform) must be started with the backed-up platform's secrets, its services stopped, its databases and access registry empty (or --force). Each database is restored with pg_restore in one transaction; the events still in its outbox are published again once its service starts (consumers apply each event once), so none published but not consumed before the backup is lost with the old topics.
Start the audit service with AUDIT_RESTORED_CHECKPOINT=<dir>/${AUDIT_CHECKPOINT_FILE} and an empty AUDIT_STATE_DIR: it goes on from the checkpoint it served when the backup began. After the services start, \`vaxguard audit verify --state <a state saved before the backup>\` verifies the restored log against the checkpoints signed before it. A witness that cosigned a larger log after the backup makes the audit service halt with a CRITICAL LOG_ROLLBACK alert (WITNESS_AHEAD): the rollback is reported, not accepted.`,
      )
      .action(kit.action(restore));
  },
};
