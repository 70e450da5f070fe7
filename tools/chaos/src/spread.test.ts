import { describe, expect, it, vi } from 'vitest';
import { unavailable, VaxGuardError, invalidArgument } from '@vaxguard/errors';
import type { ServiceClient } from '@vaxguard/grpc-kit';
import type { otpV1 } from '@vaxguard/proto';
import { EJECTED_FOR_MS, spreadOver } from './spread';

type Otp = typeof otpV1.OtpServiceService;

/** A client of one instance that answers with its address, or fails when told to. */
function fakeInstance(address: string, failing: { error?: Error }) {
  const closed = vi.fn();
  const client = {
    call: async () => {
      if (failing.error) throw failing.error;
      return { keys: [{ kid: address }] };
    },
    stream: () => (async function* () {})(),
    close: closed,
  } as unknown as ServiceClient<Otp>;
  return { client, closed };
}

const kidOf = async (client: ServiceClient<Otp>) =>
  (await client.call('getSigningKeys', {}, { idempotent: true })).keys[0]?.kid;

describe('spreadOver', () => {
  it('sends calls to each instance in turn, and closes them all', async () => {
    const fakes = ['a', 'b', 'c'].map((address) => fakeInstance(address, {}));
    const client = spreadOver(['a', 'b', 'c'], (address) => {
      const index = ['a', 'b', 'c'].indexOf(address);
      return (fakes[index] as (typeof fakes)[number]).client;
    });
    const answered = [];
    for (let i = 0; i < 6; i++) answered.push(await kidOf(client));
    expect(answered).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    client.close();
    expect(fakes.every((fake) => fake.closed.mock.calls.length === 1)).toBe(true);
  });

  it('passes over an instance that could not be reached for a while, not one that refused a request', async () => {
    vi.useFakeTimers();
    try {
      const gone: { error?: Error } = {};
      const instances = { a: fakeInstance('a', {}), b: fakeInstance('b', gone) };
      const client = spreadOver(['a', 'b'], (address) =>
        address === 'a' ? instances.a.client : instances.b.client,
      );
      expect(await kidOf(client)).toBe('a');
      gone.error = unavailable('connection refused');
      await expect(kidOf(client)).rejects.toBeInstanceOf(VaxGuardError);
      // b is passed over while ejected …
      expect([await kidOf(client), await kidOf(client), await kidOf(client)]).toEqual([
        'a',
        'a',
        'a',
      ]);
      // … and asked again after.
      vi.advanceTimersByTime(EJECTED_FOR_MS + 1);
      gone.error = undefined;
      expect([await kidOf(client), await kidOf(client)]).toEqual(['b', 'a']);
      // A refusal of the request itself is the instance answering: it stays in turn.
      gone.error = invalidArgument('bad request', { reason: 'BAD' });
      await expect(kidOf(client)).rejects.toBeInstanceOf(VaxGuardError);
      gone.error = undefined;
      expect([await kidOf(client), await kidOf(client)]).toEqual(['a', 'b']);
    } finally {
      vi.useRealTimers();
    }
  });
});
