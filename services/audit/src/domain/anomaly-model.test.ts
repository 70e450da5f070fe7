import { describe, expect, it } from 'vitest';
import { bucketStart, countWindowStart, MemoryWindowStore } from './anomaly-model';

const MINUTE = 60_000;
const T0 = new Date('2024-03-04T04:30:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('window semantics (the reference store)', () => {
  const hour = { name: 'hour', durationMs: 60 * MINUTE };

  it('counts a member once however often it is seen', async () => {
    const store = new MemoryWindowStore();
    await store.addDistinct('k', 'a', at(0), [hour]);
    await store.addDistinct('k', 'a', at(MINUTE), [hour]);
    expect(await store.addDistinct('k', 'b', at(2 * MINUTE), [hour])).toEqual({ hour: 2 });
  });

  it('lets a member leave a distinct window exactly one duration after it was last seen', async () => {
    const store = new MemoryWindowStore();
    await store.addDistinct('k', 'a', at(0), [hour]);
    expect(await store.addDistinct('k', 'b', at(60 * MINUTE - 1), [hour])).toEqual({ hour: 2 });
    expect(await store.addDistinct('k', 'c', at(60 * MINUTE), [hour])).toEqual({ hour: 2 });
  });

  it('keeps a member seen again in the window from the later sighting', async () => {
    const store = new MemoryWindowStore();
    await store.addDistinct('k', 'a', at(0), [hour]);
    await store.addDistinct('k', 'a', at(50 * MINUTE), [hour]);
    expect(await store.addDistinct('k', 'b', at(100 * MINUTE), [hour])).toEqual({ hour: 2 });
  });

  it('counts members seen later than the time asked about (out-of-order arrival)', async () => {
    const store = new MemoryWindowStore();
    await store.addDistinct('k', 'late', at(30 * MINUTE), [hour]);
    expect(await store.addDistinct('k', 'early', at(0), [hour])).toEqual({ hour: 2 });
  });

  it('keeps separate keys apart', async () => {
    const store = new MemoryWindowStore();
    await store.addDistinct('k1', 'a', at(0), [hour]);
    expect(await store.addDistinct('k2', 'a', at(0), [hour])).toEqual({ hour: 1 });
  });

  const minute = { name: 'minute', durationMs: MINUTE, bucketMs: 10_000 };

  it('aligns buckets to the epoch and keeps the most recent ones, the current included', () => {
    expect(bucketStart(new Date('2024-03-04T04:30:17.500Z'), 10_000)).toEqual(
      new Date('2024-03-04T04:30:10.000Z'),
    );
    expect(countWindowStart(new Date('2024-03-04T04:30:17.500Z'), minute)).toEqual(
      new Date('2024-03-04T04:29:20.000Z'),
    );
  });

  it('drops a bucket from a count window up to one bucket early, never late', async () => {
    const store = new MemoryWindowStore();
    await store.increment('k', at(5_000), [minute]); // bucket T0+0 s
    // As of T0+59.999 s the current bucket starts at T0+50 s: 6 buckets back to T0.
    expect(await store.increment('k', at(59_999), [minute])).toEqual({ minute: 2 });
    // As of T0+60 s the first bucket has left: 55 s after that event, not 60.
    expect(await store.increment('k', at(60_000), [minute])).toEqual({ minute: 2 });
  });

  it('sums every window from its own bucket series', async () => {
    const store = new MemoryWindowStore();
    const hourly = { name: 'hourly', durationMs: 60 * MINUTE, bucketMs: 15 * MINUTE };
    await store.increment('k', at(0), [minute, hourly]);
    expect(await store.increment('k', at(2 * MINUTE), [minute, hourly])).toEqual({
      minute: 1,
      hourly: 2,
    });
  });

  it('grants an alert claim once while it is held, and again once it lapses', async () => {
    const store = new MemoryWindowStore();
    expect(await store.claimAlert('rule|STAFF:s1', at(0), 60 * MINUTE)).toBe(true);
    expect(await store.claimAlert('rule|STAFF:s1', at(59 * MINUTE), 60 * MINUTE)).toBe(false);
    expect(await store.claimAlert('rule|STAFF:s2', at(59 * MINUTE), 60 * MINUTE)).toBe(true);
    expect(await store.claimAlert('rule|STAFF:s1', at(60 * MINUTE), 60 * MINUTE)).toBe(true);
  });

  it('does not grant a claim to an earlier observation arriving late', async () => {
    const store = new MemoryWindowStore();
    expect(await store.claimAlert('rule|STAFF:s1', at(60 * MINUTE), 60 * MINUTE)).toBe(true);
    expect(await store.claimAlert('rule|STAFF:s1', at(0), 60 * MINUTE)).toBe(false);
  });
});
