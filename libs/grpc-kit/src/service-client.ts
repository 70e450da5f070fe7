import {
  credentials,
  makeGenericClientConstructor,
  type Metadata,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import type { VaxGuardError } from '@vaxguard/errors';
import { clientMetadata, defaultChannelOptions } from './client';
import { fromStatusError } from './status';

/** How a failed call is tried again: exponential backoff with full jitter, bounded. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
  multiplier: 2,
};

/** The only codes ever retried; every other refusal is an answer. */
export const RETRYABLE_CODES = ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'] as const;

/**
 * How long to wait before attempt `attempt + 1`, or undefined to give up with `error`.
 * UNAVAILABLE is retried only for an idempotent call: the request may have been applied
 * before the connection failed. RESOURCE_EXHAUSTED is retried only when the server said
 * when (its retry-after), and only if that fits in the time left: the server refused
 * before doing anything, so waiting as told is not a blind retry.
 */
export function retryDelayMs(
  error: VaxGuardError,
  attempt: number,
  call: { readonly idempotent: boolean; readonly remainingMs: number },
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= policy.maxAttempts) return undefined;
  let delay: number;
  if (error.code === 'UNAVAILABLE' && call.idempotent) {
    const ceiling = Math.min(
      policy.maxBackoffMs,
      policy.initialBackoffMs * policy.multiplier ** (attempt - 1),
    );
    delay = Math.floor(random() * ceiling);
  } else if (error.code === 'RESOURCE_EXHAUSTED' && error.retryAfterMs !== undefined) {
    // A little jitter on top, so that callers told the same time do not return together.
    delay = error.retryAfterMs + Math.floor(random() * policy.initialBackoffMs);
  } else {
    return undefined;
  }
  return delay < call.remainingMs ? delay : undefined;
}

export interface ServiceClientOptions {
  /** `host:port` of the service. */
  readonly address: string;
  /** The calling service's own client credentials. */
  readonly clientId: string;
  readonly secret: string;
  /** The deadline of a call, all its attempts included (default 5 s). */
  readonly deadlineMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly random?: () => number;
}

export interface CallOptions {
  /** Whether the call may be applied twice without harm: only then is UNAVAILABLE retried. */
  readonly idempotent: boolean;
  /** Extra metadata for this call, such as a user's token. */
  readonly metadata?: Metadata;
  readonly deadlineMs?: number;
}

type RequestOf<M> = M extends { requestSerialize(value: infer Req): Buffer } ? Req : never;
type ResponseOf<M> = M extends { responseDeserialize(bytes: Buffer): infer Res } ? Res : never;

/** A typed client of one service for calls from another: see `createServiceClient`. */
export interface ServiceClient<D extends ServiceDefinition> {
  call<K extends keyof D & string>(
    method: K,
    request: RequestOf<D[K]>,
    options: CallOptions,
  ): Promise<ResponseOf<D[K]>>;
  close(): void;
}

function compile(options: ServiceClientOptions): Required<Omit<ServiceClientOptions, 'retry'>> & {
  retry: RetryPolicy;
} {
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const deadlineMs = options.deadlineMs ?? 5_000;
  const problems: string[] = [];
  if (!/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/.test(options.address))
    problems.push('address must be host:port');
  if (!options.clientId || !options.secret) problems.push('clientId and secret are required');
  if (!(deadlineMs > 0)) problems.push('deadlineMs must be positive');
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    problems.push('retry.maxAttempts must be a whole number of at least 1');
  }
  if (!(retry.initialBackoffMs > 0) || retry.maxBackoffMs < retry.initialBackoffMs) {
    problems.push('retry backoffs must be positive, the maximum at least the initial');
  }
  if (!(retry.multiplier >= 1)) problems.push('retry.multiplier must be at least 1');
  if (problems.length > 0) throw new Error(`service client: ${problems.join('; ')}`);
  return { ...options, deadlineMs, retry, random: options.random ?? Math.random };
}

/**
 * A client for one service calling another: every call carries the calling service's
 * own credentials and a deadline that bounds all its attempts; UNAVAILABLE and
 * RESOURCE_EXHAUSTED are retried as `retryDelayMs` allows; a refusal becomes the same
 * VaxGuardError the server threw (code, message, reason, retry delay).
 *
 *   const otp = createServiceClient(otpV1.OtpServiceService, { address, clientId, secret });
 *   const { keys } = await otp.call('getSigningKeys', {}, { idempotent: true });
 */
export function createServiceClient<D extends ServiceDefinition>(
  definition: D,
  options: ServiceClientOptions,
): ServiceClient<D> {
  const compiled = compile(options);
  const Constructor = makeGenericClientConstructor(definition, 'VaxGuardServiceClient');
  const client: Client = new Constructor(
    compiled.address,
    credentials.createInsecure(),
    defaultChannelOptions,
  );

  const attempt = (
    method: D[keyof D],
    request: unknown,
    metadata: Metadata,
    deadline: Date,
  ): Promise<unknown> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline },
        (error: ServiceError | null, response?: unknown) =>
          error ? reject(fromStatusError(error)) : resolve(response),
      );
    });

  return {
    async call(name, request, callOptions) {
      const method = definition[name];
      if (!method) throw new Error(`the service has no method ${name}`);
      const deadline = Date.now() + (callOptions.deadlineMs ?? compiled.deadlineMs);
      const metadata = clientMetadata(compiled.clientId, compiled.secret);
      if (callOptions.metadata) metadata.merge(callOptions.metadata);
      for (let attemptNumber = 1; ; attemptNumber++) {
        try {
          return (await attempt(method, request, metadata, new Date(deadline))) as ResponseOf<
            D[typeof name]
          >;
        } catch (error) {
          const failure = error as VaxGuardError;
          const delay = retryDelayMs(
            failure,
            attemptNumber,
            { idempotent: callOptions.idempotent, remainingMs: deadline - Date.now() },
            compiled.retry,
            compiled.random,
          );
          if (delay === undefined) throw failure;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    },
    close: () => client.close(),
  };
}
