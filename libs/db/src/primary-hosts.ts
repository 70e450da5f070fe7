import pg from 'pg';
import { dependencyUnavailable, isConnectionLost } from '@vaxguard/errors';

// A connection URL naming several servers, as libpq reads it
// (postgres://user:password@h1:5432,h2:5432/db?target_session_attrs=read-write), for a
// primary and its standby of which either may be the primary: node-postgres takes one
// host only, so the pool's clients are made here, each for one host, and a pool made
// with such a URL connects only where it can write and follows the primary when it moves.

/** One server of a connection URL. */
export interface DatabaseHost {
  readonly host: string;
  readonly port: number;
}

/** libpq's target_session_attrs that this pool honours. */
export type TargetSessionAttrs = 'any' | 'read-write';
const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write'];

export interface DatabaseTarget {
  /** The servers, in the URL's order. */
  readonly hosts: readonly DatabaseHost[];
  /** `read-write`: only a server that accepts writes is kept (libpq's default is `any`). */
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** The URL for one of the hosts alone, without target_session_attrs: what node-postgres reads. */
  urlFor(host: DatabaseHost): string;
}

const DEFAULT_PORT = 5432;
const URL_PARTS = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/i;

function parseHost(entry: string): DatabaseHost {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry);
  if (!match) throw new Error(`the database URL's host "${entry}" is not host or host:port`);
  const port = match[2] === undefined ? DEFAULT_PORT : Number(match[2]);
  if (port < 1 || port > 65_535) throw new Error(`the database URL's port ${port} is out of range`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

const hostText = ({ host, port }: DatabaseHost) =>
  `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * Reads a postgres:// URL with one host or several (comma-separated, each with its own
 * port or 5432) and its target_session_attrs (`any`, the default, or `read-write`; any
 * other is refused here, at start-up, rather than ignored). The password is never in an
 * error's message.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  const parts = URL_PARTS.exec(url);
  if (!parts) throw new Error('the database URL must be a postgres:// URL');
  const [, scheme = '', userInfo = '', hostList = '', rest = ''] = parts;
  const hosts = hostList.split(',').map((entry) => parseHost(entry.trim()));
  const queryAt = rest.indexOf('?');
  const path = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : rest.slice(queryAt + 1));
  const attrs = query.get('target_session_attrs') ?? 'any';
  if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(attrs)) {
    throw new Error(
      `target_session_attrs=${attrs} is not supported: ${TARGET_SESSION_ATTRS.join(' or ')}`,
    );
  }
  query.delete('target_session_attrs');
  const search = query.toString();
  return {
    hosts,
    targetSessionAttrs: attrs as TargetSessionAttrs,
    urlFor: (host) => `${scheme}${userInfo}${hostText(host)}${path}${search ? `?${search}` : ''}`,
  };
}

/**
 * The URL read with parseDatabaseUrl when it needs this file's clients (several hosts, or
 * target_session_attrs); undefined for a plain URL, which node-postgres reads as before.
 */
export function multiHostTarget(url: string): DatabaseTarget | undefined {
  const multi = /^[a-z]+:\/\/[^/?#]*,/i.test(url) || /[?&]target_session_attrs=/.test(url);
  return multi ? parseDatabaseUrl(url) : undefined;
}

/**
 * Which host a pool's next connection goes to: the one last found writable (at first
 * the URL's first), and after a failure there, the next in the URL's order, round again.
 */
export class HostSelector {
  private preferred = 0;

  constructor(readonly hosts: readonly DatabaseHost[]) {
    if (hosts.length === 0) throw new Error('a database URL names at least one host');
  }

  /** Where a new connection goes. */
  current(): DatabaseHost {
    return this.hosts[this.preferred] as DatabaseHost;
  }

  /**
   * A connection to `host` could not be opened, was lost, or found it not writable: the
   * next connection tries the host after it. A report about a host already passed over
   * (by a connection that raced this one) changes nothing.
   */
  passOver(host: DatabaseHost): void {
    if (this.hosts[this.preferred] === host)
      this.preferred = (this.preferred + 1) % this.hosts.length;
  }
}

/** The server a new connection reached accepts no writes (a standby, or a primary being demoted). */
export class NotWritableError extends Error {
  constructor(host: DatabaseHost) {
    super(`the database server at ${hostText(host)} accepts no writes (a standby)`);
    this.name = 'NotWritableError';
  }
}

/** A connection to the host could not be opened (refused, unreachable, timed out). */
export class HostUnreachableError extends Error {
  constructor(host: DatabaseHost, cause: unknown) {
    super(`the database server at ${hostText(host)} could not be reached`, { cause });
    this.name = 'HostUnreachableError';
  }
}

/** Whether a new connection's failure is its host's: the next host may serve. */
const hostFailed = (error: unknown) =>
  error instanceof NotWritableError ||
  error instanceof HostUnreachableError ||
  isConnectionLost(error);

/** PostgreSQL's read_only_sql_transaction: a write on a server that no longer takes writes. */
const READ_ONLY_SQL_TRANSACTION = '25006';

/** A connection's own time to open, per host: a dead host must not take the whole checkout. */
export const HOST_CONNECT_TIMEOUT_MS = 3_000;

type ConnectCallback = ((error: Error) => void) | ((error: null, client: pg.Client) => void);
type QueryCallback = (error: Error | undefined, result: unknown) => void;

/**
 * The pool's client class for a URL that follows the primary: each client is made for
 * the host the selector names, checks on connecting that it may write there (`SHOW
 * transaction_read_only`, which a standby and a primary pg_auto_failover is demoting
 * both answer `on`), and when a statement finds the server no longer writable (25006) it
 * ends every connection of the pool to that server and the statement fails UNAVAILABLE
 * DEPENDENCY_UNAVAILABLE, which callers retry.
 */
export function primaryFollowingClient(
  target: DatabaseTarget,
  selector: HostSelector,
): typeof pg.Client {
  const live = new Set<FollowingClient>();

  /** Every connection to a server that was demoted goes: each would fail its next write. */
  const demoted = (host: DatabaseHost) => {
    selector.passOver(host);
    for (const client of live) {
      if (client.server === host) {
        (
          client as unknown as { connection?: { stream?: { destroy(): void } } }
        ).connection?.stream?.destroy();
      }
    }
  };

  class FollowingClient extends pg.Client {
    readonly server: DatabaseHost;

    constructor(config: string | pg.ClientConfig = {}) {
      const options = typeof config === 'string' ? { connectionString: config } : config;
      const server = selector.current();
      super({
        ...options,
        connectionString: target.urlFor(server),
        connectionTimeoutMillis: Math.min(
          options.connectionTimeoutMillis || HOST_CONNECT_TIMEOUT_MS,
          HOST_CONNECT_TIMEOUT_MS,
        ),
      });
      this.server = server;
      live.add(this);
      this.once('end', () => live.delete(this));
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<pg.Client> | void {
      const connecting = this.connectWritable().then(() => this);
      if (!callback) return connecting;
      connecting.then(
        (client) => (callback as (error: null, client: pg.Client) => void)(null, client),
        (error: Error) => (callback as (error: Error) => void)(error),
      );
    }

    private async connectWritable(): Promise<void> {
      try {
        await super.connect();
      } catch (error) {
        live.delete(this);
        selector.passOver(this.server);
        // The server's own refusal (a password, a database) is the caller's to see; any
        // other failure (refused, unreachable, this connection's own timeout) is the host's.
        throw error instanceof pg.DatabaseError
          ? error
          : new HostUnreachableError(this.server, error);
      }
      if (target.targetSessionAttrs !== 'read-write') return;
      let writable = false;
      try {
        const { rows } = await super.query<{ transaction_read_only: string }>(
          'SHOW transaction_read_only',
        );
        writable = rows[0]?.transaction_read_only === 'off';
      } catch (error) {
        selector.passOver(this.server);
        await this.end().catch(() => undefined);
        throw error;
      }
      if (!writable) {
        selector.passOver(this.server);
        await this.end().catch(() => undefined);
        throw new NotWritableError(this.server);
      }
    }

    /** What a failed statement becomes: see the class. */
    private failed(error: Error): Error {
      if ((error as { code?: unknown }).code === READ_ONLY_SQL_TRANSACTION) {
        demoted(this.server);
        return dependencyUnavailable(error);
      }
      if (isConnectionLost(error)) selector.passOver(this.server);
      return error;
    }

    // Every form of query (promise, callback, submittable) goes through here.
    override query(...args: unknown[]): never {
      const last = args.at(-1);
      if (typeof last === 'function') {
        const callback = last as QueryCallback;
        args[args.length - 1] = (error: Error | undefined, result: unknown) =>
          callback(error ? this.failed(error) : undefined, result);
      }
      const result = (super.query as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise) {
        return result.catch((error: Error) => {
          throw this.failed(error);
        }) as never;
      }
      return result as never;
    }
  }
  return FollowingClient;
}

/**
 * Makes `pool` try each host in turn for a new connection (at most once round the URL's
 * hosts) until one is writable: a checkout that finds none is refused UNAVAILABLE
 * DEPENDENCY_UNAVAILABLE (during a failover, until the standby is promoted). Idle
 * clients are handed out as before.
 */
export function followPrimary(pool: pg.Pool, selector: HostSelector): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- applied to this pool below
  const connectOnce = pg.Pool.prototype.connect as (this: pg.Pool) => Promise<pg.PoolClient>;
  const connect = async (): Promise<pg.PoolClient> => {
    let lastError: unknown;
    for (let tries = 0; tries < selector.hosts.length; tries++) {
      try {
        return await connectOnce.call(pool);
      } catch (error) {
        if (!hostFailed(error)) throw error;
        lastError = error;
      }
    }
    throw dependencyUnavailable(lastError);
  };
  pool.connect = ((
    callback?: (error: Error | undefined, client?: pg.PoolClient, done?: () => void) => void,
  ) => {
    const connecting = connect();
    if (!callback) return connecting;
    connecting.then(
      (client) => callback(undefined, client, (error?: Error) => client.release(error)),
      (error: Error) => callback(error, undefined, () => undefined),
    );
    return undefined;
  }) as pg.Pool['connect'];
}

/**
 * A connection of its own, outside any pool (a session that holds a lock or LISTENs),
 * connected: to the URL's server, or where the URL names several, to the first in turn
 * that takes writes (as a pool's checkout; none: UNAVAILABLE DEPENDENCY_UNAVAILABLE).
 * Errors of a connection that failed to open are not emitted; the caller listens for
 * those of the one it gets.
 */
export async function connectSession(
  config: pg.ClientConfig & { readonly connectionString: string },
): Promise<pg.Client> {
  const target = multiHostTarget(config.connectionString);
  const Client = target
    ? primaryFollowingClient(target, new HostSelector(target.hosts))
    : pg.Client;
  let lastError: unknown;
  for (let tries = 0; tries < (target?.hosts.length ?? 1); tries++) {
    const client = new Client(config);
    const ignore = () => undefined;
    client.on('error', ignore);
    try {
      await client.connect();
      client.off('error', ignore);
      return client;
    } catch (error) {
      await client.end().catch(ignore);
      if (!target || !hostFailed(error)) throw error;
      lastError = error;
    }
  }
  throw dependencyUnavailable(lastError);
}
