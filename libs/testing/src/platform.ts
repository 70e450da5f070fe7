import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Metadata } from '@grpc/grpc-js';
import { readDevSms } from '@vaxguard/dev-sms';
import { createServiceClient, type ServiceClient } from '@vaxguard/grpc-kit';
import { identityV1, otpV1 } from '@vaxguard/proto';
import { SERVICE_SCOPES, TOKEN_HEADER } from '@vaxguard/tokens';
import { eventually } from './eventually';
import { startKafka, type KafkaFixture } from './kafka';
import { startPostgres, type PostgresFixture } from './postgres';
import { spawnService, type ServiceProcess } from './service-process';
import { testClient } from './service-scenarios';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
const key = () => randomBytes(32).toString('base64');

/** The built services a platform runs as their own processes; OTP always runs. */
export type PlatformService = 'otp' | 'identity';

export interface PlatformOptions {
  /** `['otp']`, or `['otp', 'identity']` to run identity too (a test of identity runs its own). */
  readonly services: readonly PlatformService[];
  /** CLIENT_CREDENTIALS entries OTP accepts besides identity's own principal. */
  readonly otpClients: readonly string[];
  /** CLIENT_CREDENTIALS entries the identity process accepts. */
  readonly identityClients?: readonly string[];
  /** The bootstrapped platform admin's mobile (its username and password are fixed). */
  readonly adminMobile?: string;
  /** Variables that replace or add to a service's environment. */
  readonly env?: Partial<Record<PlatformService, Record<string, string>>>;
}

/** The OTP and identity clients of one client application. */
export interface PlatformClients {
  readonly otp: ServiceClient<typeof otpV1.OtpServiceService>;
  readonly identity: ServiceClient<typeof identityV1.IdentityServiceService>;
}

export interface Platform extends AsyncDisposable {
  readonly postgres: PostgresFixture;
  readonly kafka: KafkaFixture;
  /** The OTP process; identity's when `services` names it. */
  readonly otp: ServiceProcess;
  readonly identity: ServiceProcess | undefined;
  /** A running service's gRPC address; throws for one `services` did not name. */
  address(service: PlatformService): string;
  /** The key OTP indexes mobiles with, which identity must share. */
  readonly mobileIndexKey: string;
  /** Identity's own principal at OTP (consent and staff sign-in transactions, grants). */
  readonly identityPrincipal: ReturnType<typeof testClient>;
  /** The platform admin identity bootstraps (PLATFORM_ADMIN_BOOTSTRAP). */
  readonly admin: { readonly username: string; readonly password: string; readonly mobile: string };
  /** Clients of OTP and identity as a client application, closed when the platform is. */
  connect(
    client: { clientId: string; secret: string },
    options?: { deadlineMs?: number; identityAddress?: string },
  ): PlatformClients;
  /** The code OTP sent for a transaction, from the dev SMS inbox, once it is there. */
  smsCode(txnId: string): Promise<string>;
  /** A staff sign-in: the password, then the STAFF_LOGIN code sent to the staff mobile. */
  staffSession(clients: PlatformClients, username: string, password: string): Promise<string>;
  stop(): Promise<void>;
}

/** A call's options: never retried, with the user's token when there is one. */
export function callAs(token?: string): { idempotent: false; metadata?: Metadata } {
  if (!token) return { idempotent: false };
  const metadata = new Metadata();
  metadata.set(TOKEN_HEADER, token);
  return { idempotent: false, metadata };
}

/**
 * The scrypt hash of a staff password by identity's own built hash-password task, as
 * the dev environment computes it: the platform never reimplements identity's format.
 */
export async function hashStaffPasswordWithIdentity(password: string): Promise<string> {
  const run = promisify(execFile);
  const child = run(process.execPath, ['services/identity/dist/hash-password.js'], {
    cwd: WORKSPACE,
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'warn' },
  });
  child.child.stdin?.end(`${password}\n`);
  const { stdout } = await child;
  const hash = stdout.split('\n').find((line) => line.startsWith('$scrypt$'));
  if (!hash) throw new Error('identity hash-password printed no $scrypt$ hash');
  return hash;
}

/**
 * Real PostgreSQL and Kafka with the built OTP service (and identity, when asked) as
 * their own processes, OTP's codes going to a dev SMS inbox. A test file starts one in
 * `beforeAll` and shares it across its tests; `stop` (or `await using`) releases
 * everything, also what a half-failed start had started.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const releases: (() => Promise<unknown>)[] = [];
  const opened: { close(): void }[] = [];
  const stop = async () => {
    for (const client of opened.splice(0)) client.close();
    for (const release of releases.splice(0).reverse()) await release().catch(() => undefined);
  };
  try {
    const [postgres, kafka] = await Promise.all([
      startPostgres().then((fixture) => (releases.push(() => fixture.stop()), fixture)),
      startKafka().then((fixture) => (releases.push(() => fixture.stop()), fixture)),
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'vaxguard-platform-'));
    releases.push(() => rm(dir, { recursive: true, force: true }));
    const smsSink = join(dir, 'sms.jsonl');
    const brokers = kafka.brokers.join(',');
    const mobileIndexKey = key();
    const identityPrincipal = testClient('svc-identity');
    const admin = {
      username: 'root.admin',
      password: 'bootstrap admin passphrase',
      mobile: options.adminMobile ?? '',
    };

    const otp = await spawnService({
      entry: 'services/otp/dist/main.js',
      env: {
        DATABASE_URL: await postgres.createDatabase(),
        KAFKA_BROKERS: brokers,
        // Identity starts consent and staff sign-in transactions for the clients that
        // confirm them, and has secret-code grants signed.
        CLIENT_CREDENTIALS: [
          ...options.otpClients,
          `${identityPrincipal.credential}:${SERVICE_SCOPES.onBehalf}+${SERVICE_SCOPES.issueConsent}`,
        ].join(','),
        LOG_LEVEL: 'warn',
        OTP_HASH_KEY: key(),
        MOBILE_INDEX_KEY: mobileIndexKey,
        OTP_KEY_ENCRYPTION_KEY: key(),
        OTP_SMS_DELIVERY: 'dev-sink',
        OTP_DEV_SMS_SINK: smsSink,
        ...options.env?.otp,
      },
    });
    releases.push(() => otp.stop());

    let identity: ServiceProcess | undefined;
    if (options.services.includes('identity')) {
      const adminHash = await hashStaffPasswordWithIdentity(admin.password);
      identity = await spawnService({
        entry: 'services/identity/dist/main.js',
        env: {
          DATABASE_URL: await postgres.createDatabase(),
          KAFKA_BROKERS: brokers,
          CLIENT_CREDENTIALS: (options.identityClients ?? []).join(','),
          LOG_LEVEL: 'warn',
          PLATFORM_ADMIN_BOOTSTRAP: `${admin.username}:${admin.mobile}:${adminHash}`,
          OTP_GRPC_ADDRESS: otp.address,
          SERVICE_CLIENT_ID: identityPrincipal.clientId,
          SERVICE_CLIENT_SECRET: identityPrincipal.secret,
          MOBILE_INDEX_KEY: mobileIndexKey,
          DOCUMENT_INDEX_KEY: key(),
          SECRET_CODE_KEY: key(),
          IDENTITY_KEY_ENCRYPTION_KEYS: `kek-1:${key()}`,
          ...options.env?.identity,
        },
      });
      const started = identity;
      releases.push(() => started.stop());
    }

    const smsCode = async (txnId: string): Promise<string> => {
      const sms = await eventually(async () => {
        const found = await readDevSms(smsSink, txnId);
        if (!found) throw new Error('no SMS yet');
        return found;
      });
      return sms.code;
    };

    return {
      postgres,
      kafka,
      otp,
      identity,
      mobileIndexKey,
      identityPrincipal,
      admin,
      address(service) {
        const process = service === 'otp' ? otp : identity;
        if (!process) throw new Error(`the platform runs no ${service}`);
        return process.address;
      },
      connect(client, connectOptions = {}) {
        const identityAddress = connectOptions.identityAddress ?? identity?.address;
        if (!identityAddress) throw new Error('no identity address: pass identityAddress');
        const kitOptions = {
          clientId: client.clientId,
          secret: client.secret,
          deadlineMs: connectOptions.deadlineMs ?? 10_000,
        };
        const clients = {
          otp: createServiceClient(otpV1.OtpServiceService, {
            ...kitOptions,
            address: otp.address,
          }),
          identity: createServiceClient(identityV1.IdentityServiceService, {
            ...kitOptions,
            address: identityAddress,
          }),
        };
        opened.push(clients.otp, clients.identity);
        return clients;
      },
      smsCode,
      async staffSession(clients, username, password) {
        const { txnId } = await clients.identity.call(
          'startStaffLogin',
          { username, password },
          callAs(),
        );
        const code = await smsCode(txnId);
        const { token } = await clients.otp.call('confirmOtp', { txnId, otp: code }, callAs());
        return token;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
