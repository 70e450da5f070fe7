import { describe, expect, it } from 'vitest';
import { combineWrites } from './statements';

describe('combineWrites', () => {
  it('renumbers each statement’s placeholders after those before it, values in order', () => {
    const combined = combineWrites([
      { text: 'INSERT INTO a (x, y) VALUES ($1, $2)', values: [1, 2] },
      { text: 'UPDATE b SET z = $1 WHERE id = $2 AND w = $1', values: ['z', 7] },
      { text: 'DELETE FROM c WHERE id = $1', values: [9] },
    ]);
    expect(combined.text).toBe(
      [
        'WITH w0 AS (INSERT INTO a (x, y) VALUES ($1, $2)),',
        'w1 AS (UPDATE b SET z = $3 WHERE id = $4 AND w = $3),',
        'w2 AS (DELETE FROM c WHERE id = $5)',
        'SELECT 1',
      ].join('\n'),
    );
    expect(combined.values).toEqual([1, 2, 'z', 7, 9]);
  });

  it('leaves a single statement as it is, and refuses anything but a write', () => {
    const one = { text: 'INSERT INTO a VALUES ($1)', values: [1] };
    expect(combineWrites([one])).toBe(one);
    expect(() =>
      combineWrites([one, { text: 'SELECT * FROM a WHERE x = $1', values: [1] }]),
    ).toThrow('INSERT, UPDATE or DELETE statements only');
  });

  it('renumbers past nine without touching the digits that follow', () => {
    const ten = Array.from({ length: 10 }, (_, i) => `$${i + 1}`).join(', ');
    const combined = combineWrites([
      { text: `INSERT INTO a VALUES (${ten})`, values: Array.from({ length: 10 }, (_, i) => i) },
      { text: `INSERT INTO a VALUES (${ten})`, values: Array.from({ length: 10 }, (_, i) => i) },
    ]);
    expect(combined.text).toContain(
      `w1 AS (INSERT INTO a VALUES (${Array.from({ length: 10 }, (_, i) => `$${i + 11}`).join(', ')}))`,
    );
    expect(combined.values).toHaveLength(20);
  });
});
