// Bulk rows into PostgreSQL with COPY ... FROM STDIN (pg-copy-streams), in COPY's text
// format: one row a line, columns separated by tabs, NULL as \N, bytea as \\x hex.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** A column's value as the seeders give it. */
export type CopyValue = string | number | boolean | Date | Buffer | Uint8Array | null;

/** One value in COPY's text format. */
export function copyText(value: CopyValue): string {
  if (value === null) return '\\N';
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\\\x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  // Text the seeders make holds no tab, newline or backslash; anything else is escaped.
  return value.replace(
    /[\\\t\n\r]/g,
    (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n' })[c] ?? '\\r',
  );
}

/** A table's rows for one COPY: its columns, in the order each row gives its values. */
export interface CopyBatch {
  readonly table: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly CopyValue[])[];
}

/** Copies the batch's rows into its table on `client`; the number of rows copied. */
export async function copyRows(client: pg.PoolClient, batch: CopyBatch): Promise<number> {
  if (batch.rows.length === 0) return 0;
  const stream = client.query(
    copyFrom(`COPY ${batch.table} (${batch.columns.join(', ')}) FROM STDIN`),
  );
  const lines = function* () {
    // Lines are grouped so the stream is not handed one small string per row.
    let chunk = '';
    for (const row of batch.rows) {
      if (row.length !== batch.columns.length) {
        throw new Error(
          `a ${batch.table} row has ${row.length} values for ${batch.columns.length} columns`,
        );
      }
      chunk += `${row.map(copyText).join('\t')}\n`;
      if (chunk.length > 1 << 20) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  };
  await pipeline(Readable.from(lines()), stream);
  return stream.rowCount;
}
