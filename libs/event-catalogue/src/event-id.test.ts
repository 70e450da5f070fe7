import { describe, expect, it } from 'vitest';
import { EventIdGenerator, eventIdTime, uuidVersion } from './event-id';

const LAYOUT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function bits(id: string): bigint {
  return BigInt(`0x${id.replaceAll('-', '')}`);
}

describe('event ids (UUIDv7, RFC 9562)', () => {
  it('puts the millisecond time in the first 48 bits, version 7 and variant 10', () => {
    const at = Date.UTC(2026, 11, 7, 21, 0, 0, 123);
    const id = new EventIdGenerator(() => at).next();
    expect(id).toMatch(LAYOUT);
    const value = bits(id);
    expect(Number(value >> 80n)).toBe(at);
    expect(Number((value >> 76n) & 0xfn)).toBe(7);
    expect(Number((value >> 62n) & 0x3n)).toBe(0b10);
    expect(eventIdTime(id)).toEqual(new Date(at));
    expect(uuidVersion(id)).toBe(7);
  });

  it('matches the example of RFC 9562 appendix A.6 in its time, version and variant', () => {
    // 017F22E2-79B0-7CC3-98C4-DC0C0C07398F: 2022-02-22 19:22:22 UTC.
    const example = '017f22e2-79b0-7cc3-98c4-dc0c0c07398f';
    expect(eventIdTime(example)).toEqual(new Date('2022-02-22T19:22:22.000Z'));
    expect(uuidVersion(example)).toBe(7);
  });

  it('strictly increases within one millisecond, and when the clock steps back', () => {
    let now = 1_800_000_000_000;
    const generator = new EventIdGenerator(() => now);
    const ids: string[] = [];
    for (let i = 0; i < 5_000; i++) ids.push(generator.next());
    now -= 5_000;
    for (let i = 0; i < 10; i++) ids.push(generator.next());
    now += 10_000;
    ids.push(generator.next());
    expect(ids.filter((id) => !LAYOUT.test(id))).toEqual([]);
    const outOfOrder = ids.filter(
      (id, i) => i > 0 && !(id > (ids[i - 1] ?? '') && bits(id) > bits(ids[i - 1] ?? '')),
    );
    expect(outOfOrder).toEqual([]);
    // 5,000 ids in one millisecond spend the 12-bit counter: the time moves on by one.
    expect(eventIdTime(ids[4_999] ?? '')!.getTime()).toBeGreaterThan(1_800_000_000_000);
    expect(eventIdTime(ids.at(-1) ?? '')).toEqual(new Date(now));
  });

  it('keeps 62 random bits, so two generators in the same millisecond do not collide', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) seen.add(new EventIdGenerator(() => 42).next());
    expect(seen.size).toBe(1_000);
  });

  it('reads no time from a v4 id, nor from text that is not a UUID', () => {
    expect(eventIdTime('3f1c2a9e-5b7d-4e10-9c2f-8a6b4d3e2f10')).toBeUndefined();
    expect(uuidVersion('3f1c2a9e-5b7d-4e10-9c2f-8a6b4d3e2f10')).toBe(4);
    expect(uuidVersion('not-a-uuid')).toBeUndefined();
  });
});
