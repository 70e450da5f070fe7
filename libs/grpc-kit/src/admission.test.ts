import { describe, expect, it } from 'vitest';
import { Admission, OVERLOAD_RETRY_AFTER_MS } from './admission';

const A = '/vaxguard.test.v1.Test/A';
const B = '/vaxguard.test.v1.Test/B';

describe('Admission', () => {
  it('admits up to a method’s bound, refuses the next at once with a retry hint, and admits again after a release', () => {
    const admission = new Admission({ total: 10, perMethod: 2 });
    const first = admission.admit(A);
    const second = admission.admit(A);
    const third = admission.admit(A);
    expect('release' in first && 'release' in second).toBe(true);
    expect(third).toMatchObject({
      refusal: {
        code: 'RESOURCE_EXHAUSTED',
        reason: 'SERVER_BUSY',
        retryAfterMs: OVERLOAD_RETRY_AFTER_MS,
      },
    });
    // Another method is not held back by A's bound.
    expect('release' in admission.admit(B)).toBe(true);
    if ('release' in first) first.release();
    expect('release' in admission.admit(A)).toBe(true);
  });

  it('bounds the whole server, and a method by its own bound where one is given', () => {
    const admission = new Admission({ total: 3, perMethod: 3, methods: { [B]: 1 } });
    expect('release' in admission.admit(B)).toBe(true);
    expect('refusal' in admission.admit(B)).toBe(true);
    expect('release' in admission.admit(A)).toBe(true);
    expect('release' in admission.admit(A)).toBe(true);
    expect('refusal' in admission.admit(A)).toBe(true);
    expect(admission.load()).toBe(3);
  });

  it('releases a place once however often release is called', () => {
    const admission = new Admission({ total: 5, perMethod: 5 });
    const admitted = admission.admit(A);
    if (!('release' in admitted)) throw new Error('refused');
    admitted.release();
    admitted.release();
    expect([admission.load(), admission.load(A)]).toEqual([0, 0]);
  });

  it('refuses limits that are not whole numbers of at least 1', () => {
    expect(() => new Admission({ total: 0, perMethod: 1 })).toThrow(/total/);
    expect(() => new Admission({ total: 1, perMethod: 1, methods: { [A]: 1.5 } })).toThrow(A);
  });
});
