import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  GenericContainer,
  getContainerRuntimeClient,
  Wait,
  type StartedTestContainer,
} from 'testcontainers';
import { dockerStart, dockerStop, freePort, log, testLabels, waitForLog } from './containers';
import { ensureImage } from './images';

export interface PostgresFixture extends AsyncDisposable {
  /** URL of a fresh database created for this fixture. */
  readonly url: string;
  /** URL of the server's administrative database. */
  readonly adminUrl: string;
  /** Creates another fresh database and returns its URL. */
  createDatabase(): Promise<string>;
  /** `pg_dump` of one of this fixture's databases (by URL), as plain SQL: what a thief would get. */
  dump(databaseUrl: string): Promise<string>;
  /**
   * Whether this fixture owns a server it can restart with its data kept (a `restartable`
   * one: not for TEST_DATABASE_URL, and not on tmpfs, which a container's stop empties).
   */
  readonly restartable: boolean;
  /**
   * Stops the container (SIGTERM, as an orchestrator would) and starts it again on the
   * same address with its data; resolves once it accepts connections again. Every
   * connection open before is gone. Only for a `restartable` fixture.
   */
  restart(): Promise<void>;
  /**
   * Freezes the container (`docker pause`): connections stay open and new ones are
   * accepted by the kernel, but nothing answers; a hang, not a refusal. Only for a
   * fixture that owns its container.
   */
  pause(): Promise<void>;
  /** Thaws a paused container: what waited is answered. */
  unpause(): Promise<void>;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /**
   * Keep the data where a restart of the container keeps it (the container's own
   * layer, not tmpfs) and publish it on a fixed port on loopback (the container's
   * bridge address may change when it starts again). Default: TEST_POSTGRES_RESTARTABLE=1.
   * Slower than the default: only for tests that restart PostgreSQL.
   */
  readonly restartable?: boolean;
}

const USER = 'vaxguard';
const PASSWORD = 'vaxguard';
const READY = /database system is ready to accept connections/;

async function createDatabaseOn(adminUrl: string): Promise<{ url: string; name: string }> {
  const name = `vg_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name };
}

async function dropDatabases(adminUrl: string, names: readonly string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Whether a TCP connection to `host:port` opens within `timeoutMs`. */
export function opens(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/**
 * Where this process reaches the container's PostgreSQL: its own address on the bridge
 * network the engine gave it, when this host can route there (a Linux engine), else the
 * port published on loopback. The published port goes through Docker's userland proxy,
 * a process that copies every packet and took about a quarter of a core under the
 * benchmarks' load; the bridge address skips it.
 */
async function reachableAddress(container: StartedTestContainer): Promise<string> {
  for (const network of container.getNetworkNames()) {
    const ip = container.getIpAddress(network);
    if (ip && (await opens(ip, 5432, 1_000))) return `${ip}:5432`;
  }
  return `127.0.0.1:${container.getMappedPort(5432)}`;
}

/**
 * A real PostgreSQL 15 for a test: a container from the locally built image, or, when
 * TEST_DATABASE_URL is set, that server. Either way the test gets a database of its
 * own, dropped (or thrown away with the container) when the fixture is disposed.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresFixture> {
  const external = process.env['TEST_DATABASE_URL'];
  const restartable =
    !external && (options.restartable ?? process.env['TEST_POSTGRES_RESTARTABLE'] === '1');
  let container: StartedTestContainer | undefined;
  let adminUrl: string;
  const created: string[] = [];
  try {
    if (external) {
      adminUrl = external;
    } else {
      const image = await ensureImage('postgres');
      const started = Date.now();
      const hostPort = restartable ? await freePort() : undefined;
      const definition = new GenericContainer(image)
        .withEnvironment({
          PG_FAST: '1',
          PG_USER: USER,
          PG_PASSWORD: PASSWORD,
          PG_DATABASE: 'vaxguard',
        })
        .withExposedPorts(hostPort ? { container: 5432, host: hostPort } : 5432)
        .withLabels(testLabels())
        .withWaitStrategy(Wait.forLogMessage(READY))
        .withStartupTimeout(60_000);
      container = await (
        restartable ? definition : definition.withTmpFs({ '/var/lib/postgresql': 'rw' })
      ).start();
      const address = hostPort ? `127.0.0.1:${hostPort}` : await reachableAddress(container);
      adminUrl = `postgres://${USER}:${PASSWORD}@${address}/vaxguard`;
      log(
        `PostgreSQL 15 container ${container.getId().slice(0, 12)} (${image}) ready on ${address} in ${Date.now() - started} ms`,
      );
    }
    const first = await createDatabaseOn(adminUrl);
    created.push(first.name);

    let stopped = false;
    const owned = container;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      if (owned) {
        // A paused container cannot be stopped; thawing one that is not paused fails.
        await engineCall(owned, 'unpause').catch(() => undefined);
        await owned.stop({ remove: true, removeVolumes: true });
      } else await dropDatabases(adminUrl, created);
    };
    const ownedContainer = (what: string): StartedTestContainer => {
      if (!owned) throw new Error(`an external PostgreSQL (TEST_DATABASE_URL) cannot be ${what}`);
      return owned;
    };
    return {
      url: first.url,
      adminUrl,
      restartable,
      async restart() {
        const target = ownedContainer('restarted');
        if (!restartable) {
          throw new Error('this PostgreSQL keeps its data on tmpfs: start it restartable');
        }
        const since = Math.floor(Date.now() / 1000);
        await dockerStop(target);
        await dockerStart(target);
        await waitForLog(target, READY, since);
        await eventuallyConnects(adminUrl);
        log(`PostgreSQL container ${target.getId().slice(0, 12)} restarted`);
      },
      async pause() {
        const target = ownedContainer('paused');
        await engineCall(target, 'pause');
        log(`PostgreSQL container ${target.getId().slice(0, 12)} paused`);
      },
      async unpause() {
        const target = ownedContainer('unpaused');
        await engineCall(target, 'unpause');
        log(`PostgreSQL container ${target.getId().slice(0, 12)} unpaused`);
      },
      async createDatabase() {
        const next = await createDatabaseOn(adminUrl);
        created.push(next.name);
        return next.url;
      },
      async dump(databaseUrl) {
        const name = new URL(databaseUrl).pathname.slice(1);
        if (!created.includes(name)) throw new Error('dump only databases this fixture created');
        if (container) {
          const result = await container.exec(['pg_dump', '-U', USER, '--no-owner', name]);
          if (result.exitCode !== 0) throw new Error(`pg_dump failed: ${result.stderr}`);
          return result.stdout;
        }
        const { stdout } = await promisify(execFile)('pg_dump', ['--no-owner', databaseUrl], {
          maxBuffer: 256 * 1024 * 1024,
        });
        return stdout;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    // Half-finished setup: release what exists before reporting the failure.
    if (container)
      await container.stop({ remove: true, removeVolumes: true }).catch(() => undefined);
    throw error;
  }
}

/** `docker pause` or `docker unpause` of a container, through the engine. */
async function engineCall(
  container: StartedTestContainer,
  call: 'pause' | 'unpause',
): Promise<void> {
  const client = await getContainerRuntimeClient();
  await client.container.getById(container.getId())[call]();
}

/** Resolves once the server accepts a connection and answers a query (within 30 s). */
async function eventuallyConnects(url: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
