// Where a running platform is and how to call it as its operator: written by `npm start`
// (.vaxguard/dev/platform.json) and by the test harness (in its own temporary folder),
// read by the `vaxguard` command line. One file, so the CLI finds a test's platform the
// way it finds a developer's. It holds development secrets: mode 0600.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const PLATFORM_SERVICES = ['identity', 'otp', 'vaccination-record', 'audit'] as const;
export type PlatformServiceName = (typeof PLATFORM_SERVICES)[number];

export interface PlatformDescription {
  /**
   * Each service's gRPC address, `host:port`; for a service that runs as several
   * instances (`npm start -- --instances 2`), every instance's, comma-separated, which the
   * CLI's clients balance over (round_robin) and `vaxguard status` checks one by one.
   */
  readonly services: Readonly<Record<PlatformServiceName, string>>;
  /** PostgreSQL's administrative URL, and each service's own database. */
  readonly postgres: {
    readonly adminUrl: string;
    readonly databases: Readonly<Record<PlatformServiceName, string>>;
  };
  /** Kafka's bootstrap brokers, `host:port` comma-separated. */
  readonly kafkaBrokers: string;
  /** The client application the operator calls with (npm start: demo-portal). */
  readonly client: { readonly id: string; readonly secret: string };
  /** The bootstrapped platform admin; its STAFF_LOGIN codes reach the dev SMS inbox. */
  readonly admin: { readonly username: string; readonly password: string };
  /** The development SMS inbox (JSON lines) the OTP service writes codes to. */
  readonly smsInbox: string;
  /** The SMART Health Card issuer (`iss`) and where its key set is served. */
  readonly issuer: { readonly url: string; readonly keysUrl: string };
  /** The audit log's origin and C2SP verifier key (what an outside witness trusts). */
  readonly auditLog: { readonly origin: string; readonly verifierKey: string };
  /**
   * The witnesses that cosign the audit log's checkpoints (c2sp.org/tlog-witness): each
   * one's name, add-checkpoint URL prefix and cosignature/v1 verifier key.
   */
  readonly witnesses: readonly WitnessDescription[];
  /**
   * Where metrics are: Prometheus's UI and API, and each service's `/metrics` URL (every
   * instance's, comma-separated). Absent where no Prometheus runs (the test platforms).
   */
  readonly metrics?: {
    readonly prometheus: string;
    readonly services: Readonly<Record<PlatformServiceName, string>>;
  };
}

export interface WitnessDescription {
  readonly name: string;
  readonly url: string;
  readonly verifierKey: string;
}

/** Writes the description (mode 0600), creating its folder. */
export function writePlatformDescription(file: string, description: PlatformDescription): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(description, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Reads a description, naming the file and the missing field when it is not one. */
export function readPlatformDescription(file: string): PlatformDescription {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read the platform description ${file}: ${reason}`);
  }
  const missing = missingFields(parsed);
  if (missing.length > 0) {
    throw new Error(`${file} is not a platform description: missing ${missing.join(', ')}`);
  }
  // A description written before witnesses were described names none.
  const { witnesses = [] } = parsed as Partial<PlatformDescription>;
  return { ...(parsed as PlatformDescription), witnesses };
}

function missingFields(value: unknown): string[] {
  const at = (path: string): unknown =>
    path.split('.').reduce<unknown>((node, key) => {
      return node !== null && typeof node === 'object'
        ? (node as Record<string, unknown>)[key]
        : undefined;
    }, value);
  const required = [
    ...PLATFORM_SERVICES.map((service) => `services.${service}`),
    'postgres.adminUrl',
    'kafkaBrokers',
    'client.id',
    'client.secret',
    'admin.username',
    'admin.password',
    'smsInbox',
    'issuer.url',
    'issuer.keysUrl',
    'auditLog.origin',
    'auditLog.verifierKey',
  ];
  const missing = required.filter((path) => typeof at(path) !== 'string');
  const witnesses = at('witnesses');
  const described = (witness: unknown) =>
    ['name', 'url', 'verifierKey'].every(
      (key) =>
        witness !== null &&
        typeof witness === 'object' &&
        typeof (witness as Record<string, unknown>)[key] === 'string',
    );
  if (witnesses !== undefined && (!Array.isArray(witnesses) || !witnesses.every(described))) {
    missing.push('witnesses');
  }
  return missing;
}
