// PostgreSQL as a primary and a standby with automatic failover (pg_auto_failover; issue
// 23): a monitor and two data nodes, containers from the project's PostgreSQL image on
// a network of their own, run by tools/images/postgres/pair-node.sh. Writes are
// acknowledged once the standby has them (pg_auto_failover's synchronous replication
// with one standby: synchronous_standby_names = 'ANY 1 (…)'); when the primary dies the
// monitor promotes the standby. Each database's URL names both nodes
// (postgres://…@a:5432,b:5432/db?target_session_attrs=read-write), which libs/db's pool
// follows to whichever takes writes.
//
//   await using pair = await startPostgresPair();
//   const url = await pair.createDatabase();
//   const killed = await pair.killPrimary();      // docker kill: SIGKILL, no goodbye
//   const promoted = await pair.waitForPrimary({ not: killed.node });
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { log, testLabels } from './containers';
import { ensureImage } from './images';
import { opens, type PostgresFixture } from './postgres';

/** How long a new database waits for the standby to have it (a standby gone: that long, then on). */
const STANDBY_REPLAY_WAIT_MS = 30_000;
const USER = 'vaxguard';
const PASSWORD = 'vaxguard';
const DATABASE = 'vaxguard';
const NODE_SCRIPT = fileURLToPath(
  new URL('../../../tools/images/postgres/pair-node.sh', import.meta.url),
);
/** The monitor's listener, once it serves (pg_autoctl run). */
const MONITOR_READY = /Contacting the monitor to LISTEN/;
const PRIMARY_ALONE = /pg_autoctl service is running, current state is "single"/;
const STANDBY_READY = /current state is now "secondary"/;

/** One data node of the pair. */
export interface PairNode {
  /** pg_auto_failover's name of the node: `a` or `b`. */
  readonly name: string;
  /** Where this process reaches it (`host:port`). */
  readonly address: string;
}

export interface PostgresPairFixture extends PostgresFixture {
  /** The data nodes, in the order every URL names them. */
  readonly nodes: readonly PairNode[];
  /** Where the monitor is (`host:port`, user autoctl_node, database pg_auto_failover). */
  readonly monitorAddress: string;
  /** The node that takes writes now; undefined while none does (mid-failover). */
  primary(): Promise<PairNode | undefined>;
  /**
   * Kills the primary's container with SIGKILL (docker kill): its server, its keeper and
   * every connection gone at once, nothing flushed. Returns the node killed and when the
   * kill was sent (ms since the epoch).
   */
  killPrimary(): Promise<{ readonly node: PairNode; readonly at: number }>;
  /** Resolves with the node that takes writes, other than `not`, once there is one. */
  waitForPrimary(options?: { not?: PairNode; timeoutMs?: number }): Promise<PairNode>;
  /** A database's URL on one node alone (what a checker that reads it directly wants). */
  urlOn(node: PairNode, databaseUrl: string): string;
  /** pg_auto_failover's view of the pair (pg_autoctl show state), for a log. */
  state(): Promise<string>;
}

export interface PostgresPairOptions {
  /**
   * Host ports to publish the nodes on (loopback), in the nodes' order, and the monitor's;
   * without them the nodes are reached on the network's own addresses (a Linux engine),
   * or on ports the engine picks.
   */
  readonly ports?: { readonly nodes: readonly [number, number]; readonly monitor: number };
  /** Containers' name prefix (npm start names its containers; tests leave it to the engine). */
  readonly namePrefix?: string;
  /** Labels for the containers (default: the test run's, for the orphan sweep). */
  readonly labels?: Record<string, string>;
}

/** The database a URL names (one host or several). */
const databaseName = (url: string) => /^[a-z]+:\/\/[^/]*\/([^/?]+)/i.exec(url)?.[1];

const sqlLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** Runs psql as the superuser inside a node (trusted on loopback there). */
async function psql(
  container: StartedTestContainer,
  sql: string,
  database = 'postgres',
): Promise<string> {
  const result = await container.exec([
    'psql',
    '-h',
    '127.0.0.1',
    '-U',
    'postgres',
    '-d',
    database,
    '-v',
    'ON_ERROR_STOP=1',
    '-qAtc',
    sql,
  ]);
  if (result.exitCode !== 0) throw new Error(`psql failed: ${result.output.trim()}`);
  return result.stdout.trim();
}

async function whetherWritable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ transaction_read_only: string }>(
      'SHOW transaction_read_only',
    );
    return rows[0]?.transaction_read_only === 'off';
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts the pair; see the file's header. Everything started is released on a failed start. */
export async function startPostgresPair(
  options: PostgresPairOptions = {},
): Promise<PostgresPairFixture> {
  const started = Date.now();
  const image = await ensureImage('postgres');
  const containers: StartedTestContainer[] = [];
  let network: StartedNetwork | undefined;
  const release = async () => {
    for (const container of containers.splice(0).reverse()) {
      await container.stop({ remove: true, removeVolumes: true }).catch(() => undefined);
    }
    await network?.stop().catch(() => undefined);
    network = undefined;
  };
  try {
    network = await new Network().start();
    // Named, the nodes find the monitor by its name on the pair's network.
    const prefix = options.namePrefix ?? `vaxguard-test-pair-${randomBytes(4).toString('hex')}`;
    const monitorHost = `${prefix}-monitor`;
    const definition = (name: string, mode: 'monitor' | 'node', port: number | undefined) => {
      const container = new GenericContainer(image)
        .withNetwork(network as StartedNetwork)
        .withCopyFilesToContainer([{ source: NODE_SCRIPT, target: '/pair-node.sh', mode: 0o755 }])
        .withEntrypoint(['/pair-node.sh'])
        .withCommand([mode])
        .withTmpFs({ '/var/lib/postgresql': 'rw' })
        .withLabels(options.labels ?? testLabels())
        .withExposedPorts(port ? { container: 5432, host: port } : 5432)
        .withStartupTimeout(120_000);
      return container.withName(`${prefix}-${name}`);
    };
    const nodeDefinition = (name: string, index: number) =>
      definition(name, 'node', options.ports?.nodes[index]).withEnvironment({
        PAIR_MONITOR: monitorHost,
        PAIR_NODE_NAME: name,
        PG_USER: USER,
        PG_DATABASE: DATABASE,
      });
    // The monitor and the first node start together (the node's pg_autoctl waits for the
    // monitor); the first node registers alone and becomes the primary, the second then
    // copies it.
    const starting = await Promise.allSettled([
      definition('monitor', 'monitor', options.ports?.monitor)
        .withWaitStrategy(Wait.forLogMessage(MONITOR_READY))
        .start(),
      nodeDefinition('a', 0).withWaitStrategy(Wait.forLogMessage(PRIMARY_ALONE)).start(),
    ]);
    for (const outcome of starting)
      if (outcome.status === 'fulfilled') containers.push(outcome.value);
    const [monitor, first] = starting.map((outcome) => {
      if (outcome.status === 'rejected') throw outcome.reason;
      return outcome.value;
    }) as [StartedTestContainer, StartedTestContainer];
    const phases = [`monitor and primary ${Date.now() - started} ms`];
    // The standby's copy (pg_basebackup) waits for a checkpoint, which the primary would
    // spread over minutes: asked for now, it is immediate.
    let copying = true;
    const checkpoints = (async () => {
      while (copying) {
        await psql(first, 'CHECKPOINT').catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    let second: StartedTestContainer;
    try {
      second = await nodeDefinition('b', 1)
        .withWaitStrategy(Wait.forLogMessage(STANDBY_READY))
        .start();
    } finally {
      copying = false;
      await checkpoints;
    }
    containers.push(second);
    phases.push(`standby copied ${Date.now() - started} ms`);
    // Settled: the monitor has seen the standby healthy and caught up, the primary
    // waits for it on every commit (until then a killed primary has no successor).
    await settled(monitor, 'a:primary:primary,b:secondary:secondary', 120_000);
    phases.push(`synchronous ${Date.now() - started} ms`);
    // The role the services log in as, with its password (scram-sha-256 from anywhere,
    // pair-node.sh's rule); on the primary, replicated to the standby.
    await psql(
      first,
      `CREATE ROLE ${USER} SUPERUSER LOGIN PASSWORD ${sqlLiteral(PASSWORD)}; ALTER DATABASE ${DATABASE} OWNER TO ${USER}`,
    );

    const byName = new Map<string, StartedTestContainer>([
      ['a', first],
      ['b', second],
    ]);
    const reach = async (container: StartedTestContainer): Promise<string> => {
      const published = options.ports ? `127.0.0.1:${container.getMappedPort(5432)}` : undefined;
      if (published) return published;
      const ip = container.getIpAddress(network?.getName() ?? '');
      return (await opens(ip, 5432, 1_000))
        ? `${ip}:5432`
        : `127.0.0.1:${container.getMappedPort(5432)}`;
    };
    const nodes: PairNode[] = [
      { name: 'a', address: await reach(first) },
      { name: 'b', address: await reach(second) },
    ];
    const monitorAddress = await reach(monitor);
    const urlFor = (database: string) =>
      `postgres://${USER}:${PASSWORD}@${nodes.map((node) => node.address).join(',')}/${database}?target_session_attrs=read-write`;
    const nodeUrl = (node: PairNode, database: string) =>
      `postgres://${USER}:${PASSWORD}@${node.address}/${database}`;

    const primary = async (): Promise<PairNode | undefined> => {
      for (const node of nodes) {
        if (await whetherWritable(nodeUrl(node, DATABASE))) return node;
      }
      return undefined;
    };
    const created: string[] = [];
    const createDatabase = async (): Promise<string> => {
      const name = `vg_test_${randomBytes(6).toString('hex')}`;
      const node = await primary();
      if (!node) throw new Error('no node of the PostgreSQL pair takes writes');
      const admin = new pg.Client({ connectionString: nodeUrl(node, DATABASE) });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      created.push(name);
      // The standby has the database only once it has replayed the commit (synchronous
      // replication waits for its flush, not its replay): until then a client that tries
      // the standby first is refused "database does not exist" there (seen in CI).
      for (const other of nodes.filter((each) => each !== node)) {
        const until = Date.now() + STANDBY_REPLAY_WAIT_MS;
        while (Date.now() < until) {
          const probe = new pg.Client({ connectionString: nodeUrl(other, name) });
          probe.on('error', () => undefined);
          const replayed = await probe.connect().then(
            () => true,
            () => false,
          );
          await probe.end().catch(() => undefined);
          if (replayed) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      return urlFor(name);
    };
    const url = await createDatabase();
    log(
      `PostgreSQL pair (pg_auto_failover: monitor ${monitorAddress}, primary a ${nodes[0]?.address}, standby b ${nodes[1]?.address}, synchronous) ready in ${Date.now() - started} ms (${phases.join(', ')})`,
    );

    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await release();
    };
    const notForThePair = (what: string) => () =>
      Promise.reject(
        new Error(`the PostgreSQL pair is not ${what} as a whole: kill its primary instead`),
      );
    return {
      url,
      adminUrl: urlFor(DATABASE),
      nodes,
      monitorAddress,
      restartable: false,
      restart: notForThePair('restarted'),
      pause: notForThePair('paused'),
      unpause: notForThePair('unpaused'),
      createDatabase,
      async dump(databaseUrl) {
        const name = databaseName(databaseUrl);
        if (!name || !created.includes(name)) {
          throw new Error('dump only databases this fixture created');
        }
        const node = await primary();
        const container = node && byName.get(node.name);
        if (!container) throw new Error('no node of the PostgreSQL pair takes writes');
        const result = await container.exec([
          'pg_dump',
          '-h',
          '127.0.0.1',
          '-U',
          'postgres',
          '--no-owner',
          name,
        ]);
        if (result.exitCode !== 0) throw new Error(`pg_dump failed: ${result.stderr}`);
        return result.stdout;
      },
      primary,
      async killPrimary() {
        const node = await primary();
        const container = node && byName.get(node.name);
        if (!node || !container) throw new Error('no node of the PostgreSQL pair takes writes');
        const client = await getContainerRuntimeClient();
        const at = Date.now();
        await client.container.getById(container.getId()).kill({ signal: 'SIGKILL' });
        log(`PostgreSQL pair: primary ${node.name} (${node.address}) killed with SIGKILL`);
        return { node, at };
      },
      async waitForPrimary({ not, timeoutMs = 120_000 } = {}) {
        const until = Date.now() + timeoutMs;
        for (;;) {
          for (const node of nodes) {
            if (node === not) continue;
            if (await whetherWritable(nodeUrl(node, DATABASE))) return node;
          }
          if (Date.now() > until) {
            throw new Error(`no node of the PostgreSQL pair took writes within ${timeoutMs} ms`);
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      },
      urlOn(node, databaseUrl) {
        return nodeUrl(node, databaseName(databaseUrl) ?? DATABASE);
      },
      async state() {
        const result = await monitor.exec([
          'setpriv',
          '--reuid=postgres',
          '--regid=postgres',
          '--init-groups',
          'env',
          'HOME=/var/lib/postgresql',
          'pg_autoctl',
          'show',
          'state',
          '--pgdata',
          '/var/lib/postgresql/pgaf',
        ]);
        return result.stdout;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await release();
    throw error;
  }
}

/** Resolves once the monitor's nodes are `name:reported:assigned`, joined by commas in node order. */
async function settled(monitor: StartedTestContainer, expected: string, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < until) {
    seen = await psql(
      monitor,
      "SELECT string_agg(nodename || ':' || reportedstate || ':' || goalstate, ',' ORDER BY nodeid) FROM pgautofailover.node",
      'pg_auto_failover',
    ).catch((error: unknown) => String(error));
    if (seen === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the PostgreSQL pair did not settle as ${expected} (last: ${seen})`);
}

/** Whether this host reaches a container's PostgreSQL on its network address (a Linux engine). */
