import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { callAs } from '@vaxguard/dev-operator';
import {
  writePlatformDescription,
  type PlatformDescription,
  type PlatformServiceName,
} from '@vaxguard/dev-platform';
import { readDevSms } from '@vaxguard/dev-sms';
import { createServiceClient, type RetryPolicy, type ServiceClient } from '@vaxguard/grpc-kit';
import { auditV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { parseSignerKey } from '@vaxguard/tlog';
import { startWitness, witnessBinDir, type RunningWitness } from '@vaxguard/witness';
import { freePort } from './containers';
import { eventually } from './eventually';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { startKafka, type KafkaFixture, type KafkaListener } from './kafka';
import {
  completeSecrets,
  serviceClientId,
  serviceEnvironment,
  type PlatformLayout,
  type PlatformSecrets,
} from './platform-environment';
import { startPostgres, type PostgresFixture } from './postgres';
import { startPostgresPair, type PostgresPairFixture } from './postgres-pair';
import { spawnService, type ServiceProcess } from './service-process';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
const AUDIT_LOG_ORIGIN = 'audit.vaxguard.test';
const OPERATOR_CLIENT = 'platform-operator';

/** The built services a platform runs as their own processes; OTP always runs. */
export type PlatformService = PlatformServiceName;

export interface PlatformOptions {
  /**
   * The services to run, in start order: OTP first, then identity, then the others
   * (which need identity). A test of one service runs that one itself.
   */
  readonly services: readonly PlatformService[];
  /** CLIENT_CREDENTIALS entries every service accepts besides the operator's and the services'. */
  readonly clients?: readonly string[];
  /** CLIENT_CREDENTIALS entries OTP accepts besides the operator's and the services'. */
  readonly otpClients?: readonly string[];
  /** CLIENT_CREDENTIALS entries the identity process accepts besides those. */
  readonly identityClients?: readonly string[];
  /** The bootstrapped platform admin's mobile (default: a made-up one; its username and password are fixed). */
  readonly adminMobile?: string;
  /** Variables that replace or add to a service's environment. */
  readonly env?: Partial<Record<PlatformService, Record<string, string>>>;
  /** The services' LOG_LEVEL (default `warn`; a test that scans logs for leaks wants `info`). */
  readonly logLevel?: string;
  /**
   * Services that reach PostgreSQL or Kafka through a fault proxy the platform owns
   * (`platform.proxies`), for a test that cuts that one service's network to it.
   */
  readonly faultProxies?: {
    readonly postgres?: readonly PlatformService[];
    readonly kafka?: readonly PlatformService[];
  };
  /**
   * Another platform's secrets (its `secrets`), for a platform that takes over that one's
   * data (a restore): its keys, admin and clients. Default: fresh ones.
   */
  readonly secrets?: PlatformSecrets;
  /**
   * Another platform's running witness, which this one's audit log submits to instead of
   * a witness of its own; it is neither restarted nor stopped with this platform.
   */
  readonly witness?: RunningWitness;
  /**
   * Runs once the databases exist (empty) and the description is written, before any
   * service starts (and migrates its database): where a test restores a backup.
   */
  readonly beforeServices?: (descriptionFile: string) => Promise<void>;
  /**
   * `pair`: PostgreSQL as a primary and a standby with automatic failover
   * (postgres-pair.ts), every service's DATABASE_URL naming both; default `single`.
   */
  readonly postgres?: 'single' | 'pair';
  /**
   * How many instances of each service run (default 1), each its own process and port on
   * one database, Kafka's consumer groups and keys (issue 19): every service's peers, the
   * platform's clients and `address()` name them all (`ip:port,ip:port`, round_robin).
   */
  readonly instances?: number;
}

/** The OTP and identity clients of one client application. */
export interface PlatformClients {
  readonly otp: ServiceClient<typeof otpV1.OtpServiceService>;
  readonly identity: ServiceClient<typeof identityV1.IdentityServiceService>;
}

/** Clients of all four services, for a platform that runs them all. */
export interface AllPlatformClients extends PlatformClients {
  readonly records: ServiceClient<typeof vaccinationRecordV1.VaccinationRecordServiceService>;
  readonly audit: ServiceClient<typeof auditV1.AuditServiceService>;
}

export interface Platform extends AsyncDisposable {
  readonly postgres: PostgresFixture;
  /** The same fixture when the platform runs on the pair (`postgres: 'pair'`), else undefined. */
  readonly postgresPair: PostgresPairFixture | undefined;
  readonly kafka: KafkaFixture;
  /** The OTP process; identity's when `services` names it. */
  readonly otp: ServiceProcess;
  readonly identity: ServiceProcess | undefined;
  /** Each running service's process. */
  readonly processes: Readonly<Partial<Record<PlatformService, ServiceProcess>>>;
  /**
   * A running service's gRPC address; throws for one `services` did not name. With
   * `instances` above 1, every instance's, comma-separated (clients balance over them).
   */
  address(service: PlatformService): string;
  /**
   * Every running instance of a service: the first (`processes`), those `instances` asked
   * for, then those `startInstance` added.
   */
  instancesOf(service: PlatformService): ServiceProcess[];
  /** Each running service's database URL (straight to PostgreSQL, never through a proxy). */
  readonly databases: Readonly<Partial<Record<PlatformService, string>>>;
  /**
   * The fault proxies between a service and PostgreSQL or Kafka, for the services
   * `faultProxies` named: every connection that service (and its other instances)
   * makes to it goes through the proxy, and no other service's does.
   */
  readonly proxies: {
    readonly postgres: Readonly<Partial<Record<PlatformService, FaultProxy>>>;
    readonly kafka: Readonly<Partial<Record<PlatformService, FaultProxy>>>;
  };
  /** The key OTP indexes mobiles with, which identity must share. */
  readonly mobileIndexKey: string;
  /** Identity's own principal at OTP (consent and staff sign-in transactions, grants). */
  readonly identityPrincipal: { clientId: string; secret: string; credential: string };
  /** The operator's client, accepted by every service with a partner's scopes. */
  readonly operator: { readonly clientId: string; readonly secret: string };
  /** The platform admin identity bootstraps (PLATFORM_ADMIN_BOOTSTRAP). */
  readonly admin: { readonly username: string; readonly password: string; readonly mobile: string };
  /** The dev SMS inbox OTP writes to. */
  readonly smsInbox: string;
  /** Every secret the services were started with: a second platform given them shares its keys. */
  readonly secrets: PlatformSecrets;
  /**
   * The audit log's signer key (a C2SP note signer key), for tests that play an audit
   * service whose key was stolen: what it signs, a witness must still refuse to cosign
   * when it does not extend what the witness saw.
   */
  readonly auditLogSignerKey: string;
  /**
   * The witness that cosigns the audit log's checkpoints (a real litewitness), when the
   * platform runs audit. A test stops it to see the log go on without cosignatures.
   */
  readonly witness: RunningWitness | undefined;
  /** Starts the witness again (stopped or not) on the same address with what it saw. */
  restartWitness(): Promise<RunningWitness>;
  /**
   * The platform described as npm start describes its own (libs/dev-platform), written
   * to `descriptionFile`: what the `vaxguard` command line reads.
   */
  readonly description: PlatformDescription;
  readonly descriptionFile: string;
  /** Clients of OTP and identity as a client application, closed when the platform is. */
  connect(
    client: { clientId: string; secret: string },
    options?: {
      deadlineMs?: number;
      identityAddress?: string;
      /** The kit's retry policy (its default otherwise); `{ maxAttempts: 1 }`: none. */
      retry?: Partial<RetryPolicy>;
    },
  ): PlatformClients;
  /** Clients of all four services (the platform must run them all). */
  connectAll(
    client: { clientId: string; secret: string },
    options?: { deadlineMs?: number },
  ): AllPlatformClients;
  /** The code OTP sent for a transaction, from the dev SMS inbox, once it is there. */
  smsCode(txnId: string): Promise<string>;
  /** A staff sign-in: the password, then the STAFF_LOGIN code sent to the staff mobile. */
  staffSession(clients: PlatformClients, username: string, password: string): Promise<string>;
  /**
   * Stops a service (SIGTERM, or SIGKILL) and starts it again on the same address with
   * the same environment; resolves when it is SERVING again.
   */
  restart(service: PlatformService, signal?: NodeJS.Signals): Promise<ServiceProcess>;
  /**
   * Another instance of a running service, as a second pod would be: its own process
   * and gRPC port, the same environment (database, Kafka and consumer groups, keys,
   * proxies). A second vaccination-record serves no issuer HTTP (the first does, at the
   * issuer's URL). Stopped with the platform, or by the test (`stop('SIGKILL')`).
   */
  startInstance(service: PlatformService): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** A call's options (never retried, the user's token when there is one): the operator's. */
export { callAs };

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
 * Real PostgreSQL and Kafka with the built services as their own processes, configured
 * as `npm start` configures them (libs/testing's platform-environment), OTP's codes going
 * to a dev SMS inbox. A test file starts one in `beforeAll` and shares it across its
 * tests; `stop` (or `await using`) releases everything, also what a half-failed start
 * had started.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const releases: (() => Promise<unknown>)[] = [];
  const opened: { close(): void }[] = [];
  const processes: Partial<Record<PlatformService, ServiceProcess>> = {};
  const stop = async () => {
    for (const client of opened.splice(0)) client.close();
    for (const release of releases.splice(0).reverse()) await release().catch(() => undefined);
  };
  try {
    const wanted = (['otp', 'identity', 'vaccination-record', 'audit'] as const).filter(
      (service) => service === 'otp' || options.services.includes(service),
    );
    if (wanted.some((s) => s === 'vaccination-record' || s === 'audit')) {
      if (!wanted.includes('identity'))
        throw new Error('vaccination-record and audit need identity');
    }
    // A Kafka client connects again where the broker advertises, so a proxy in front of
    // the bootstrap address alone would be bypassed: each proxied service gets a listener
    // of its own, advertised at its proxy's port.
    const kafkaListeners: (KafkaListener & { service: PlatformService })[] = [];
    for (const service of wanted.filter((s) => options.faultProxies?.kafka?.includes(s))) {
      kafkaListeners.push({
        service,
        name: `PROXIED_${service.toUpperCase().replace(/-/g, '_')}`,
        advertisedPort: await freePort(),
      });
    }
    const [postgres, kafka] = await Promise.all([
      (options.postgres === 'pair' ? startPostgresPair() : startPostgres()).then(
        (fixture) => (releases.push(() => fixture.stop()), fixture),
      ),
      startKafka({ listeners: kafkaListeners }).then(
        (fixture) => (releases.push(() => fixture.stop()), fixture),
      ),
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'vaxguard-platform-'));
    releases.push(() => rm(dir, { recursive: true, force: true }));
    // Without a mobile of the test's own, the admin gets a made-up one (identity
    // refuses to bootstrap an admin it cannot send a sign-in code to).
    const secrets =
      options.secrets ??
      completeSecrets(AUDIT_LOG_ORIGIN, {
        adminPassword: 'bootstrap admin passphrase',
        ...(options.adminMobile ? { adminMobile: options.adminMobile } : {}),
      });
    const admin = {
      username: 'root.admin',
      password: secrets.adminPassword,
      mobile: secrets.adminMobile,
    };
    const instanceCount = options.instances ?? 1;
    if (!Number.isInteger(instanceCount) || instanceCount < 1) {
      throw new Error(`instances must be a whole number of at least 1 (got ${instanceCount})`);
    }
    const ports = {} as Record<PlatformService, number>;
    const instancePorts = {} as Record<PlatformService, number[]>;
    const databases = {} as Record<PlatformService, string>;
    for (const service of ['otp', 'identity', 'vaccination-record', 'audit'] as const) {
      instancePorts[service] = [];
      for (let i = 0; i < instanceCount; i++) instancePorts[service].push(await freePort());
      ports[service] = instancePorts[service][0] as number;
      // Only the running services get a database; the others' URLs are never read.
      databases[service] = wanted.includes(service) ? await postgres.createDatabase() : '';
    }
    const addresses = Object.fromEntries(
      Object.entries(instancePorts).map(([service, list]) => [
        service,
        list.map((port) => `127.0.0.1:${port}`).join(','),
      ]),
    ) as Record<PlatformService, string>;
    const proxies = {
      postgres: {} as Partial<Record<PlatformService, FaultProxy>>,
      kafka: {} as Partial<Record<PlatformService, FaultProxy>>,
    };
    // Stopped after the services (releases run in reverse).
    releases.push(async () => {
      for (const proxy of [...Object.values(proxies.postgres), ...Object.values(proxies.kafka)])
        await proxy.stop();
    });
    // Where a proxied service's own environment says PostgreSQL or Kafka is.
    const reachedAt: Partial<Record<PlatformService, Record<string, string>>> = {};
    for (const service of wanted.filter((s) => options.faultProxies?.postgres?.includes(s))) {
      const direct = new URL(databases[service]);
      const proxy = await startFaultProxy({
        target: direct.host,
        name: `PostgreSQL for ${service}`,
      });
      proxies.postgres[service] = proxy;
      const proxied = new URL(direct);
      proxied.host = proxy.address;
      reachedAt[service] = { ...reachedAt[service], DATABASE_URL: proxied.toString() };
    }
    for (const listener of kafkaListeners) {
      const proxy = await startFaultProxy({
        target: kafka.listenerAddress(listener.name),
        port: listener.advertisedPort,
        name: `Kafka for ${listener.service}`,
      });
      proxies.kafka[listener.service] = proxy;
      reachedAt[listener.service] = {
        ...reachedAt[listener.service],
        KAFKA_BROKERS: proxy.address,
      };
    }
    const issuerPort = await freePort();
    // The audit log's witness, before the services: audit submits its first checkpoint
    // as it starts. Its key and database live in the platform's folder.
    const auditLog = {
      origin: AUDIT_LOG_ORIGIN,
      verifierKey: parseSignerKey(secrets.auditLogSignerKey).verifierKey,
    };
    const witnessOptions = {
      dir: join(dir, 'witness'),
      logs: [auditLog],
      binDir: witnessBinDir(process.env['VAXGUARD_CACHE_DIR']),
    };
    let witness: RunningWitness | undefined = options.witness;
    if (wanted.includes('audit') && !witness) {
      witness = await startWitness(witnessOptions);
      // The witness of the moment: restartWitness replaces it.
      releases.push(async () => witness?.stop());
    }
    const layout: PlatformLayout = {
      addresses,
      databases,
      brokers: kafka.brokers.join(','),
      secrets,
      operatorClientId: OPERATOR_CLIENT,
      smsSink: join(dir, 'sms.jsonl'),
      auditStateDir: join(dir, 'audit-state'),
      ...(witness
        ? { auditWitnesses: `${witness.name}|${witness.url}|${witness.verifierKey}` }
        : {}),
      admin: {
        username: admin.username,
        passwordHash: wanted.includes('identity')
          ? await hashStaffPasswordWithIdentity(admin.password)
          : '',
      },
      // The issuer is where its keys are served: a verifier finds them at iss + /.well-known/jwks.json.
      issuer: { url: `http://127.0.0.1:${issuerPort}/issuer`, httpPort: issuerPort },
      logLevel: options.logLevel ?? 'warn',
      running: wanted,
      // Every process serves metrics on a free port of its own (spawnService resolves 0).
      metricsPorts: Object.fromEntries(wanted.map((service) => [service, 0])),
      extraClients: {
        otp: [...(options.clients ?? []), ...(options.otpClients ?? [])],
        identity: [...(options.clients ?? []), ...(options.identityClients ?? [])],
        'vaccination-record': options.clients ?? [],
        audit: options.clients ?? [],
      },
    };
    const environments = Object.fromEntries(
      wanted.map((service) => [
        service,
        {
          ...serviceEnvironment(service, layout),
          ...reachedAt[service],
          ...options.env?.[service],
        },
      ]),
    ) as Partial<Record<PlatformService, Record<string, string>>>;
    const launch = async (service: PlatformService): Promise<ServiceProcess> => {
      const started = await spawnService({
        entry: `services/${service}/dist/main.js`,
        env: environments[service] as Record<string, string>,
        port: ports[service],
      });
      processes[service] = started;
      return started;
    };
    const instances: ServiceProcess[] = [];
    // Each service's instances after the first: those `instances` asked for, then any
    // startInstance added.
    const laterInstances: Partial<Record<PlatformService, ServiceProcess[]>> = {};
    const launchLater = async (service: PlatformService, instance: number) => {
      const started = await spawnService({
        entry: `services/${service}/dist/main.js`,
        env: {
          ...serviceEnvironment(service, layout, instance),
          ...reachedAt[service],
          ...options.env?.[service],
        },
        port: instancePorts[service][instance],
      });
      instances.push(started);
      (laterInstances[service] ??= []).push(started);
      return started;
    };
    // Stopped in reverse: the services before Kafka and PostgreSQL.
    releases.push(async () => {
      await Promise.all(
        [...Object.values(processes), ...instances].map((process) => process.stop()),
      );
    });
    const description: PlatformDescription = {
      services: addresses,
      postgres: { adminUrl: postgres.adminUrl, databases },
      kafkaBrokers: layout.brokers,
      client: { id: OPERATOR_CLIENT, secret: secrets.demoClientSecret },
      admin: { username: admin.username, password: admin.password },
      smsInbox: layout.smsSink,
      issuer: {
        url: layout.issuer.url,
        keysUrl: `http://127.0.0.1:${issuerPort}/issuer/.well-known/jwks.json`,
      },
      auditLog,
      witnesses: witness
        ? [{ name: witness.name, url: witness.url, verifierKey: witness.verifierKey }]
        : [],
    };
    const descriptionFile = join(dir, 'platform.json');
    writePlatformDescription(descriptionFile, description);
    await options.beforeServices?.(descriptionFile);
    // OTP first: the others verify tokens with its keys and hear revocations on its
    // topic, which it creates; then identity, which the other two call.
    const otp = await launch('otp');
    const identity = wanted.includes('identity') ? await launch('identity') : undefined;
    await Promise.all(
      wanted.filter((s) => s === 'vaccination-record' || s === 'audit').map(launch),
    );
    // The other instances once the first of each serves (the topics and schemas exist).
    await Promise.all(
      wanted.flatMap((service) =>
        Array.from({ length: instanceCount - 1 }, (_, i) => launchLater(service, i + 1)),
      ),
    );

    const smsCode = async (txnId: string): Promise<string> => {
      const sms = await eventually(async () => {
        const found = await readDevSms(layout.smsSink, txnId);
        if (!found) throw new Error('no SMS yet');
        return found;
      });
      return sms.code;
    };
    const address = (service: PlatformService): string => {
      if (!processes[service]) throw new Error(`the platform runs no ${service}`);
      return addresses[service];
    };
    const connect: Platform['connect'] = (client, connectOptions = {}) => {
      const identityAddress =
        connectOptions.identityAddress ?? (identity ? addresses.identity : undefined);
      if (!identityAddress) throw new Error('no identity address: pass identityAddress');
      const kitOptions = {
        clientId: client.clientId,
        secret: client.secret,
        deadlineMs: connectOptions.deadlineMs ?? 10_000,
        ...(connectOptions.retry ? { retry: connectOptions.retry } : {}),
      };
      const clients = {
        otp: createServiceClient(otpV1.OtpServiceService, {
          ...kitOptions,
          address: addresses.otp,
        }),
        identity: createServiceClient(identityV1.IdentityServiceService, {
          ...kitOptions,
          address: identityAddress,
        }),
      };
      opened.push(clients.otp, clients.identity);
      return clients;
    };
    const svcIdentity = serviceClientId('identity');
    const identitySecret = secrets.serviceClientSecrets[svcIdentity] as string;

    return {
      postgres,
      postgresPair: options.postgres === 'pair' ? (postgres as PostgresPairFixture) : undefined,
      kafka,
      otp,
      identity,
      processes,
      databases,
      proxies,
      mobileIndexKey: secrets.mobileIndexKey,
      identityPrincipal: {
        clientId: svcIdentity,
        secret: identitySecret,
        credential: `${svcIdentity}:${sha256Hex(identitySecret)}`,
      },
      operator: { clientId: OPERATOR_CLIENT, secret: secrets.demoClientSecret },
      admin,
      smsInbox: layout.smsSink,
      secrets,
      auditLogSignerKey: secrets.auditLogSignerKey,
      get witness() {
        return witness;
      },
      async restartWitness() {
        if (!witness) throw new Error('the platform runs no audit, so no witness');
        if (witness === options.witness) throw new Error("the witness is another platform's");
        await witness.stop();
        witness = await startWitness({ ...witnessOptions, port: witness.port });
        return witness;
      },
      description,
      descriptionFile,
      address,
      instancesOf(service) {
        const first = processes[service];
        return first ? [first, ...(laterInstances[service] ?? [])] : [];
      },
      connect,
      connectAll(client, connectOptions = {}) {
        const kitOptions = {
          clientId: client.clientId,
          secret: client.secret,
          deadlineMs: connectOptions.deadlineMs ?? 10_000,
        };
        const clients = {
          ...connect(client, connectOptions),
          records: createServiceClient(vaccinationRecordV1.VaccinationRecordServiceService, {
            ...kitOptions,
            address: address('vaccination-record'),
          }),
          audit: createServiceClient(auditV1.AuditServiceService, {
            ...kitOptions,
            address: address('audit'),
          }),
        };
        opened.push(clients.records, clients.audit);
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
      async restart(service, signal = 'SIGTERM') {
        const running = processes[service];
        if (!running) throw new Error(`the platform runs no ${service}`);
        await running.stop(signal);
        return launch(service);
      },
      async startInstance(service) {
        const environment = environments[service];
        if (!environment) throw new Error(`the platform runs no ${service}`);
        // One issuer URL, served by the first instance: a loopback issuer's URL must name
        // the port its keys are served on.
        const env = { ...environment };
        delete env['ISSUER_HTTP_PORT'];
        const instance = await spawnService({
          entry: `services/${service}/dist/main.js`,
          env,
          port: await freePort(),
        });
        instances.push(instance);
        (laterInstances[service] ??= []).push(instance);
        return instance;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
