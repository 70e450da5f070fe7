// The PostgreSQL fixture's faults, which the chaos suite injects under load: a restart of
// the container keeps the data and the address; a paused container hangs a query (no
// refusal) until it is thawed, and then answers it.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startPostgres } from './postgres';

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL fixture faults', () => {
  it('a restartable fixture restarts its container with the data on the same address; a paused one hangs a query until unpaused', async (context) => {
    if (process.env['TEST_DATABASE_URL']) context.skip();
    await using postgres = await startPostgres({ restartable: true });
    expect(postgres.restartable).toBe(true);
    await query(postgres.url, 'CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)');

    await postgres.restart();
    expect(await query(postgres.url, 'SELECT n FROM kept')).toEqual([{ n: 7 }]);

    const held = new pg.Client({ connectionString: postgres.url });
    await held.connect();
    try {
      await postgres.pause();
      let answered = false;
      const pending = held.query<{ n: number }>('SELECT n FROM kept').then((result) => {
        answered = true;
        return result.rows;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(answered).toBe(false);
      await postgres.unpause();
      expect(await pending).toEqual([{ n: 7 }]);
    } finally {
      await held.end();
    }
  });

  it('a fixture on tmpfs refuses to restart (its data would be gone)', async (context) => {
    if (process.env['TEST_DATABASE_URL']) context.skip();
    await using postgres = await startPostgres();
    expect(postgres.restartable).toBe(false);
    await expect(postgres.restart()).rejects.toThrow(/tmpfs/);
  });
});
