// One client over several instances of a service, as a client-side balancer spreads
// calls: each call to the next instance in turn, skipping for a while an instance a call
// could not reach (outlier ejection), so that a killed instance costs a call now and
// then rather than every other one.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { isVaxGuardError } from '@vaxguard/errors';
import type { ServiceClient } from '@vaxguard/grpc-kit';

/** How long an instance a call could not reach is passed over. */
export const EJECTED_FOR_MS = 3_000;

/** What a call to an instance that is gone ends with (it never answers). */
const UNREACHABLE: ReadonlySet<string> = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED']);

export function spreadOver<D extends ServiceDefinition>(
  addresses: readonly string[],
  open: (address: string) => ServiceClient<D>,
): ServiceClient<D> {
  if (addresses.length === 0) throw new Error('spreadOver: no addresses');
  const instances = addresses.map((address) => ({ client: open(address), ejectedUntil: 0 }));
  let turn = 0;
  const next = () => {
    const now = Date.now();
    for (let tried = 0; tried < instances.length; tried++) {
      const instance = instances[turn++ % instances.length];
      if (instance && instance.ejectedUntil <= now) return instance;
    }
    // Every instance ejected: the next in turn all the same.
    return instances[turn++ % instances.length] as (typeof instances)[number];
  };
  return {
    async call(method, request, options) {
      const instance = next();
      try {
        return await instance.client.call(method, request, options);
      } catch (error) {
        if (isVaxGuardError(error) && UNREACHABLE.has(error.code) && !error.reason)
          instance.ejectedUntil = Date.now() + EJECTED_FOR_MS;
        throw error;
      }
    },
    stream: (method, request, options) => next().client.stream(method, request, options),
    close: () => instances.forEach((instance) => instance.client.close()),
  };
}
