// PostgreSQL's own tools, as a backup runs them: pg_dump and pg_restore from Debian's
// postgresql-client (tools/dev/ensure-prereqs.sh pgclient), run on this machine against
// the server in the description. The password goes in PGPASSWORD, never on the command
// line, where any user's `ps` would show it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { CheckFailedError, CliError, EXIT } from './errors';

const run = promisify(execFile);

const INSTALL_HINT =
  "install Debian's postgresql-client (bash tools/dev/ensure-prereqs.sh pgclient does, as root)";

/** A database URL as a tool's --dbname without its password, and the password apart. */
export function connectionOf(url: string): { dbname: string; env: Record<string, string> } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { dbname: parsed.toString(), env: password ? { PGPASSWORD: password } : {} };
}

/** The database's name in a URL. */
export const databaseName = (url: string): string =>
  decodeURIComponent(new URL(url).pathname.slice(1));

/** Runs pg_dump or pg_restore; a failure carries the tool's own words (no password in them). */
export async function pgTool(
  tool: 'pg_dump' | 'pg_restore',
  args: readonly string[],
  url?: string,
): Promise<string> {
  const connection = url ? connectionOf(url) : undefined;
  try {
    const { stdout } = await run(
      tool,
      [...args, ...(connection ? ['--dbname', connection.dbname] : [])],
      {
        env: { ...process.env, ...connection?.env, PGCONNECT_TIMEOUT: '10' },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return stdout;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new CliError(`${tool} is not installed: ${INSTALL_HINT}`, EXIT.failed, {
        cause: error,
      });
    }
    const said = (failure.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new CheckFailedError(`${tool} failed: ${said || failure.message}`, { cause: error });
  }
}

/** `pg_dump --version`'s answer, such as `pg_dump (PostgreSQL) 15.18 (Debian ...)`. */
export async function pgDumpVersion(): Promise<string> {
  return (await pgTool('pg_dump', ['--version'])).trim();
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

const USER_SCHEMAS = `SELECT nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'`;

/** How many tables, sequences, views... a database holds outside PostgreSQL's own schemas. */
export function userRelationCount(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ count: string }>(
      `SELECT count(*) AS count FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN (${USER_SCHEMAS})`,
    );
    return Number(rows[0]?.count ?? 0);
  });
}

/** Empties a database for a forced restore: every user schema dropped, `public` made again. */
export function emptyDatabase(url: string): Promise<void> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ nspname: string }>(USER_SCHEMAS);
    for (const { nspname } of rows) {
      await client.query(`DROP SCHEMA ${client.escapeIdentifier(nspname)} CASCADE`);
    }
    await client.query('CREATE SCHEMA IF NOT EXISTS public');
  });
}

/**
 * Marks every event still in a restored database's outbox as not yet published, so the
 * relay publishes it again to the new platform's Kafka: an event published before the
 * backup and not yet consumed (or consumed by a service whose dump was taken before)
 * would otherwise be lost with the old topics. Consumers apply each event once (their
 * processed_events outlives the outbox's sent rows), so those already applied are
 * passed over. Returns how many; 0 for a database without an outbox.
 */
export function republishOutbox(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ exists: boolean }>(
      "SELECT to_regclass('public.outbox') IS NOT NULL AS exists",
    );
    if (!rows[0]?.exists) return 0;
    const { rowCount } = await client.query(
      'UPDATE outbox SET sent_at = NULL, attempts = 0 WHERE sent_at IS NOT NULL',
    );
    return rowCount ?? 0;
  });
}
