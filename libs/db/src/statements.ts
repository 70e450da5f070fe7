import { createHash } from 'node:crypto';
import type { Queryable } from './pool';

/** One parameterised statement: SQL text with $1..$n, and its values. */
export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * Several writes as one statement, so they cost one round trip: each becomes a
 * data-modifying WITH item (PostgreSQL runs every one of them to completion, whether or
 * not the outer query reads it), with its $n placeholders renumbered after the ones
 * before it. Only INSERT, UPDATE and DELETE statements whose results nobody reads, and
 * whose text holds no `$n` inside a string literal, may be combined. The items share one
 * snapshot: none sees another's rows, so the writes must not depend on each other
 * (foreign keys are still checked at the end of the statement, so a parent and its child
 * may go together).
 */
export function combineWrites(statements: readonly Statement[]): Statement {
  if (statements.length === 1) return statements[0] as Statement;
  let offset = 0;
  const items: string[] = [];
  const values: unknown[] = [];
  statements.forEach((statement, index) => {
    if (!/^\s*(INSERT|UPDATE|DELETE)\b/i.test(statement.text)) {
      throw new Error('combineWrites takes INSERT, UPDATE or DELETE statements only');
    }
    const shift = offset;
    const text = statement.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`);
    items.push(`w${index} AS (${text})`);
    values.push(...statement.values);
    offset += statement.values.length;
  });
  return { text: `WITH ${items.join(',\n')}\nSELECT 1`, values };
}

/**
 * Runs `statement` as a named (prepared) statement, named after its text: each
 * connection parses and plans each distinct text once, however many callers build it.
 */
export async function runPrepared(db: Queryable, statement: Statement): Promise<void> {
  const name = `vg-${createHash('sha1').update(statement.text).digest('base64url')}`;
  await db.query({ name, text: statement.text, values: statement.values as unknown[] });
}

/**
 * Writes held back until something needs them: `flush` sends all that were added since
 * the last flush as one combined statement. A unit of work adds its inserts here and
 * flushes before each read and before the commit, so the transaction sees its own
 * writes and pays one round trip for a run of them instead of one each.
 */
export class DeferredWrites {
  private pending: Statement[] = [];

  add(statement: Statement): void {
    this.pending.push(statement);
  }

  get size(): number {
    return this.pending.length;
  }

  async flush(db: Queryable): Promise<void> {
    if (this.pending.length === 0) return;
    const statements = this.pending;
    this.pending = [];
    await runPrepared(db, combineWrites(statements));
  }
}
