// What a backup folder holds and how `vaxguard restore` checks it before touching
// anything: manifest.json names every file with its SHA-256 and size, the databases in the
// order they were dumped, and the audit log's latest signed checkpoint when the backup
// began (what the restored log must extend).
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PLATFORM_SERVICES, type PlatformServiceName } from '@vaxguard/dev-platform';

export const BACKUP_FORMAT = 'vaxguard-backup/1';
export const MANIFEST_FILE = 'manifest.json';
/** The access registry topic's records, one JSON object a line. */
export const REGISTRY_FILE = 'access-registry.jsonl';
/**
 * The checkpoint the audit log served when the backup began, as its signed note: the
 * restored audit service's AUDIT_RESTORED_CHECKPOINT.
 */
export const AUDIT_CHECKPOINT_FILE = 'audit-checkpoint.note';

/**
 * The order the databases are dumped in: each service after every service that consumes
 * its events (audit consumes everyone's; vaccination-record hears identity's centres).
 * PostgreSQL has no snapshot across databases, so each is dumped from its own; in this
 * order whatever a consumer's dump has applied, its producer's later dump holds too,
 * and what a producer did after a consumer's dump is in the producer's outbox, which a
 * restore publishes again (consumers apply each event once).
 */
export const DUMP_ORDER: readonly PlatformServiceName[] = [
  'audit',
  'vaccination-record',
  'identity',
  'otp',
];

/** What the engineer must keep apart from a backup: it is not in the databases. */
export const NOT_IN_BACKUP: readonly string[] = [
  "the platform's secrets (key-encryption keys, index keys, the audit log's signer key, client secrets): the restored data can be read only with the same ones",
  "the audit service's AUDIT_STATE_DIR (the last checkpoint it signed and its witnesses cosigned, kept outside the database on purpose)",
  "the witnesses' own state (what they cosigned)",
  'the events topics: what was published and not yet consumed is published again from the restored outboxes',
];

export interface DumpEntry {
  readonly service: PlatformServiceName;
  /** The database's name on the server it was dumped from. */
  readonly database: string;
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface TopicEntry {
  readonly topic: string;
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly records: number;
}

/** The audit log as the audit service served it when the backup began. */
export interface AuditLogAtBackup {
  /** AUDIT_CHECKPOINT_FILE: the signed note alone. */
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly origin: string;
  readonly verifierKey: string;
  readonly size: number;
  /** Base64. */
  readonly rootHash: string;
  /** The checkpoint as the signed note the log served (with its witnesses' cosignatures). */
  readonly signedCheckpoint: string;
  readonly halted: boolean;
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** `pg_dump --version`. */
  readonly pgDump: string;
  /** In DUMP_ORDER. */
  readonly databases: readonly DumpEntry[];
  readonly accessRegistry: TopicEntry;
  readonly auditLog: AuditLogAtBackup;
  readonly notIncluded: readonly string[];
}

/** A manifest that is not one, or a folder that does not match its manifest. */
export class BackupProblem extends Error {
  override readonly name = 'BackupProblem';
}

/** File names a manifest may name: plain names in the backup folder, never a path. */
const FILE_NAME = /^[a-z][a-z0-9-]*\.(dump|jsonl|note)$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function field<T>(
  object: Record<string, unknown>,
  key: string,
  where: string,
  is: (value: unknown) => value is T,
  what: string,
): T {
  const value = object[key];
  if (!is(value)) throw new BackupProblem(`${where}.${key} is not ${what}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isFileName = (value: unknown): value is string => isString(value) && FILE_NAME.test(value);
const isSha256 = (value: unknown): value is string => isString(value) && SHA256_HEX.test(value);
const isService = (value: unknown): value is PlatformServiceName =>
  isString(value) && (PLATFORM_SERVICES as readonly string[]).includes(value);

function fileFields(object: Record<string, unknown>, where: string) {
  return {
    file: field(object, 'file', where, isFileName, 'a plain file name (.dump, .jsonl or .note)'),
    sha256: field(object, 'sha256', where, isSha256, 'a SHA-256 in hex'),
    bytes: field(object, 'bytes', where, isCount, 'a size in bytes'),
  };
}

/** Reads manifest.json's text, naming the first field that is wrong. */
export function parseManifest(text: string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BackupProblem(`${MANIFEST_FILE} is not JSON`, { cause: error });
  }
  if (!isRecord(json)) throw new BackupProblem(`${MANIFEST_FILE} is not a JSON object`);
  if (json['format'] !== BACKUP_FORMAT) {
    throw new BackupProblem(
      `${MANIFEST_FILE} is not a ${BACKUP_FORMAT} manifest (format ${JSON.stringify(json['format'])})`,
    );
  }
  const where = 'manifest';
  const rawDatabases = json['databases'];
  if (!Array.isArray(rawDatabases)) throw new BackupProblem(`${where}.databases is not a list`);
  const databases = rawDatabases.map((entry: unknown, i): DumpEntry => {
    const at = `${where}.databases[${i}]`;
    if (!isRecord(entry)) throw new BackupProblem(`${at} is not an object`);
    return {
      service: field(entry, 'service', at, isService, `one of ${PLATFORM_SERVICES.join(', ')}`),
      database: field(entry, 'database', at, isString, 'a database name'),
      ...fileFields(entry, at),
      startedAt: field(entry, 'startedAt', at, isString, 'a time'),
      finishedAt: field(entry, 'finishedAt', at, isString, 'a time'),
    };
  });
  const services = databases.map((entry) => entry.service);
  const missing = PLATFORM_SERVICES.filter((service) => !services.includes(service));
  if (missing.length > 0) {
    throw new BackupProblem(`the manifest has no dump of ${missing.join(', ')}`);
  }
  if (new Set(services).size !== services.length) {
    throw new BackupProblem('the manifest names a service twice');
  }
  const registry = json['accessRegistry'];
  if (!isRecord(registry)) throw new BackupProblem(`${where}.accessRegistry is not an object`);
  const audit = json['auditLog'];
  if (!isRecord(audit)) throw new BackupProblem(`${where}.auditLog is not an object`);
  const notIncluded = json['notIncluded'];
  return {
    format: BACKUP_FORMAT,
    startedAt: field(json, 'startedAt', where, isString, 'a time'),
    finishedAt: field(json, 'finishedAt', where, isString, 'a time'),
    pgDump: field(json, 'pgDump', where, isString, 'a pg_dump version'),
    databases,
    accessRegistry: {
      topic: field(registry, 'topic', `${where}.accessRegistry`, isString, 'a topic'),
      records: field(registry, 'records', `${where}.accessRegistry`, isCount, 'a count'),
      ...fileFields(registry, `${where}.accessRegistry`),
    },
    auditLog: {
      ...fileFields(audit, `${where}.auditLog`),
      origin: field(audit, 'origin', `${where}.auditLog`, isString, 'an origin'),
      verifierKey: field(audit, 'verifierKey', `${where}.auditLog`, isString, 'a verifier key'),
      size: field(audit, 'size', `${where}.auditLog`, isCount, 'a tree size'),
      rootHash: field(audit, 'rootHash', `${where}.auditLog`, isString, 'a root hash'),
      signedCheckpoint: field(
        audit,
        'signedCheckpoint',
        `${where}.auditLog`,
        isString,
        'a signed note',
      ),
      halted: field(audit, 'halted', `${where}.auditLog`, isBoolean, 'true or false'),
    },
    notIncluded: Array.isArray(notIncluded) ? notIncluded.filter(isString) : [],
  };
}

/** SHA-256 (hex) and size of a file, read as a stream: dumps can be large. */
export async function fileDigest(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Every file the manifest names, checked against the folder: present, of its size and
 * SHA-256. Returns what does not match (empty when all do), one line per file.
 */
export async function mismatchedFiles(manifest: BackupManifest, dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const entry of [...manifest.databases, manifest.accessRegistry, manifest.auditLog]) {
    const path = join(dir, entry.file);
    if (!existsSync(path) || !statSync(path).isFile()) {
      problems.push(`${entry.file} is missing`);
      continue;
    }
    const { sha256, bytes } = await fileDigest(path);
    if (sha256 !== entry.sha256 || bytes !== entry.bytes) {
      problems.push(
        `${entry.file} is not the file the backup wrote: SHA-256 ${sha256} (${bytes} bytes), the manifest says ${entry.sha256} (${entry.bytes} bytes)`,
      );
    }
  }
  return problems;
}

/** The dump's file name for a service. */
export const dumpFileOf = (service: PlatformServiceName): string => `${service}.dump`;
