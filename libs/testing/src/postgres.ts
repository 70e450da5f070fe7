import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { log, testLabels } from './containers';
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
  stop(): Promise<void>;
}

const USER = 'vaxguard';
const PASSWORD = 'vaxguard';

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
function opens(host: string, port: number, timeoutMs: number): Promise<boolean> {
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
export async function startPostgres(): Promise<PostgresFixture> {
  const external = process.env['TEST_DATABASE_URL'];
  let container: StartedTestContainer | undefined;
  let adminUrl: string;
  const created: string[] = [];
  try {
    if (external) {
      adminUrl = external;
    } else {
      const image = await ensureImage('postgres');
      const started = Date.now();
      container = await new GenericContainer(image)
        .withEnvironment({
          PG_FAST: '1',
          PG_USER: USER,
          PG_PASSWORD: PASSWORD,
          PG_DATABASE: 'vaxguard',
        })
        .withExposedPorts(5432)
        .withLabels(testLabels())
        .withTmpFs({ '/var/lib/postgresql': 'rw' })
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/))
        .withStartupTimeout(60_000)
        .start();
      const address = await reachableAddress(container);
      adminUrl = `postgres://${USER}:${PASSWORD}@${address}/vaxguard`;
      log(
        `PostgreSQL 15 container ${container.getId().slice(0, 12)} (${image}) ready on ${address} in ${Date.now() - started} ms`,
      );
    }
    const first = await createDatabaseOn(adminUrl);
    created.push(first.name);

    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      if (container) await container.stop({ remove: true, removeVolumes: true });
      else await dropDatabases(adminUrl, created);
    };
    return {
      url: first.url,
      adminUrl,
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
