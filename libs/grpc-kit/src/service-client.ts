import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type Metadata,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { toVaxGuardError, unavailable, VaxGuardError } from '@vaxguard/errors';
import type { Registry } from '@vaxguard/metrics';
import { BALANCED_CHANNEL_OPTIONS, grpcTarget, serviceAddressProblem } from './address';
import { CLIENT_ID_HEADER } from './auth';
import { currentCallBudget, outgoingDeadlineMs, type CallBudget } from './call-context';
import { clientMetadata, defaultChannelOptions } from './client';
import { DEFAULT_RETRY_POLICY, retryDelayMs, retryPolicyProblems, type RetryPolicy } from './retry';
import { fromStatusError } from './status';
import { ClientMetrics, withClientMetrics } from './client-metrics';
import { withClientSpans } from './tracing';

export interface ServiceClientOptions {
  /**
   * Where the service is: `host:port`, every instance as `ip:port,ip:port`, or
   * `dns:///name:port` (address.ts); calls are spread over the instances (round_robin).
   */
  readonly address: string;
  /** The calling service's own client credentials. */
  readonly clientId: string;
  readonly secret: string;
  /** The deadline of a call, all its attempts and waits included (default 5 s). */
  readonly deadlineMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** The jitter's source of randomness, for tests (default `Math.random`). */
  readonly random?: () => number;
  /** Where the calls' client-side metrics go (client-metrics.ts); none are kept without it. */
  readonly metrics?: Registry;
}

export interface ServiceCallOptions {
  /**
   * Whether the call may be applied twice without harm: only then is UNAVAILABLE
   * retried. Every call says, so that nobody retries a send or a confirmation blindly.
   */
  readonly idempotent: boolean;
  /** Extra metadata for this call, such as a user's token; never credentials. */
  readonly metadata?: Metadata;
  /**
   * This call's deadline, all attempts included, instead of the client's. Made on behalf
   * of a call this service serves, it is cut to what that caller has left
   * (`outgoingDeadlineMs`), and the caller's cancellation cancels it.
   */
  readonly deadlineMs?: number;
}

/** A stream's options: it is never retried (part of it may have arrived), so no idempotency. */
export type ServiceStreamOptions = Omit<ServiceCallOptions, 'idempotent'>;

type UnaryMethod = { readonly requestStream: false; readonly responseStream: false };
type ServerStreamMethod = { readonly requestStream: false; readonly responseStream: true };
/** The names of a service definition's unary methods, which `call` calls. */
export type UnaryMethodName<D extends ServiceDefinition> = {
  [K in keyof D & string]: D[K] extends UnaryMethod ? K : never;
}[keyof D & string];
/** The names of a service definition's server-streaming methods, which `stream` calls. */
export type ServerStreamMethodName<D extends ServiceDefinition> = {
  [K in keyof D & string]: D[K] extends ServerStreamMethod ? K : never;
}[keyof D & string];
type RequestOf<M> = M extends { requestSerialize(value: infer Req): Buffer } ? Req : never;
type ResponseOf<M> = M extends { responseDeserialize(bytes: Buffer): infer Res } ? Res : never;

/** A typed client of one service for calls from another: see `createServiceClient`. */
export interface ServiceClient<D extends ServiceDefinition> {
  /**
   * Calls `method` and resolves with its response, or rejects with a VaxGuardError: the
   * one the service refused with, or what became of a call that could not complete.
   */
  readonly call: <M extends UnaryMethodName<D>>(
    method: M,
    request: RequestOf<D[M]>,
    options: ServiceCallOptions,
  ) => Promise<ResponseOf<D[M]>>;
  /**
   * Opens a server-streaming call and yields its messages as they arrive. The next
   * message is read only when the loop asks for it, so a loop that works slowly holds
   * the server back (HTTP/2 flow control) rather than filling memory; leaving the loop
   * early cancels the call. A refusal, before or during the stream, throws the same
   * VaxGuardError the server threw. The deadline (the client's, or this stream's),
   * counted from the first read, bounds the whole stream; a stream is never retried.
   */
  readonly stream: <M extends ServerStreamMethodName<D>>(
    method: M,
    request: RequestOf<D[M]>,
    options?: ServiceStreamOptions,
  ) => AsyncIterable<ResponseOf<D[M]>>;
  /** Closes the channel; calls waiting to retry give up with their last error. */
  readonly close: () => void;
}

const DEFAULT_DEADLINE_MS = 5_000;
const CREDENTIAL_HEADERS = [CLIENT_ID_HEADER, 'authorization'];

/**
 * grpc-js reconnects to a peer that went away with a growing backoff, by default up to
 * two minutes; a peer that comes back is reached again within this bound instead.
 */
const CHANNEL_OPTIONS = {
  ...defaultChannelOptions,
  'grpc.max_reconnect_backoff_ms': 5_000,
  // Calls spread over every instance (round_robin). A call in flight on an instance that
  // dies ends UNAVAILABLE, which `retryDelayMs` retries (on another instance) only for an
  // idempotent call; one that never left is retried by grpc-js whatever its idempotency.
  ...BALANCED_CHANNEL_OPTIONS,
};

function isPositiveFinite(value: number): boolean {
  return Number.isFinite(value) && value > 0;
}

interface CompiledOptions {
  readonly address: string;
  readonly credentials: Metadata;
  readonly deadlineMs: number;
  readonly retry: RetryPolicy;
  readonly random: () => number;
}

/** Defaults filled in and every bad value named at once, before any channel opens. */
function compile(options: ServiceClientOptions): CompiledOptions {
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const problems: string[] = [];
  const addressProblem = serviceAddressProblem(options.address);
  if (addressProblem) problems.push(addressProblem);
  if (!options.clientId || !options.secret) problems.push('clientId and secret are required');
  if (!isPositiveFinite(deadlineMs)) {
    problems.push(
      `deadlineMs must be a positive, finite number of milliseconds (got ${deadlineMs})`,
    );
  }
  problems.push(...retryPolicyProblems(retry));
  if (problems.length > 0) throw new Error(`service client: ${problems.join('; ')}`);
  return {
    address: options.address,
    credentials: clientMetadata(options.clientId, options.secret),
    deadlineMs,
    retry,
    random: options.random ?? Math.random,
  };
}

/** A call's own metadata with the client's credentials; refuses metadata that sets them. */
function callMetadata(credentialsMetadata: Metadata, extra: Metadata | undefined): Metadata {
  const metadata = credentialsMetadata.clone();
  if (extra) {
    const clashing = CREDENTIAL_HEADERS.filter((key) => extra.get(key).length > 0);
    if (clashing.length > 0) {
      throw new Error(
        `service client: call metadata must not set ${clashing.join(' or ')}; the client sends its own credentials`,
      );
    }
    metadata.merge(extra);
  }
  // Held by grpc-js until a connection is ready (within the deadline) instead of failing
  // at once while the peer is unreachable: such a request has not left, so waiting for
  // the peer is safe whether or not the call is idempotent.
  metadata.setOptions({ waitForReady: true });
  return metadata;
}

/**
 * A client for one service calling another: every call carries the calling service's
 * own credentials and a deadline that bounds all its attempts; UNAVAILABLE and
 * RESOURCE_EXHAUSTED are retried as `retryDelayMs` allows; a refusal becomes the same
 * VaxGuardError the server threw (code, message, reason, retry delay).
 *
 *   const otp = createServiceClient(otpV1.OtpServiceService, { address, clientId, secret });
 *   const { keys } = await otp.call('getSigningKeys', {}, { idempotent: true });
 *
 * `service` is a ts-proto service definition or the generated client class that
 * carries it (`otpV1.OtpServiceClient`). Bad options throw here, naming each problem.
 * A service that cannot be reached is waited for within the deadline (grpc-js holds
 * the request until a connection is ready), so a call to one that stays down ends in
 * DEADLINE_EXCEEDED. Misuse (credentials in a call's metadata, a deadline that is not
 * a positive finite number) rejects with a plain Error, not a VaxGuardError.
 */
export function createServiceClient<D extends ServiceDefinition>(
  service: D | { readonly service: D },
  options: ServiceClientOptions,
): ServiceClient<D> {
  // A generated client class is a function carrying its definition; a definition is an
  // object of methods (which may well have a method called `service`).
  const definition =
    typeof service === 'function' ? (service as { readonly service: D }).service : (service as D);
  const compiled = compile(options);
  const Constructor = makeGenericClientConstructor(definition, 'VaxGuardServiceClient');
  const client: Client = new Constructor(
    grpcTarget(compiled.address),
    credentials.createInsecure(),
    CHANNEL_OPTIONS,
  );
  let closed = false;
  const wakeOnClose = new Set<() => void>();

  /** One attempt, cancelled when the caller served aborts (its `signal`). */
  const attempt = (
    method: D[keyof D],
    request: unknown,
    metadata: Metadata,
    deadline: Date,
    signal: AbortSignal | undefined,
  ): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const cancel = () => call.cancel();
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline },
        (error: ServiceError | null, response?: unknown) => {
          signal?.removeEventListener('abort', cancel);
          if (error) reject(error);
          else resolve(response);
        },
      );
      signal?.addEventListener('abort', cancel, { once: true });
    });

  /** Resolves after `ms`, or as soon as the client closes or the caller served aborts. */
  const pause = (ms: number, signal: AbortSignal | undefined) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakeOnClose.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakeOnClose.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });

  const ownDeadlineOf = (callOptions: ServiceStreamOptions): number => {
    const ownMs = callOptions.deadlineMs ?? compiled.deadlineMs;
    if (!isPositiveFinite(ownMs)) {
      throw new Error(
        `service client: deadlineMs must be a positive, finite number (got ${ownMs})`,
      );
    }
    return ownMs;
  };

  /**
   * A call's deadline in milliseconds from now: its own or the client's, cut to what the
   * caller served (`budget`) has left. Refuses, without calling, for a caller that has gone
   * or has too little time left for an answer to come back.
   */
  const deadlineOf = (ownMs: number, budget: CallBudget | undefined): number => {
    if (!budget) return ownMs;
    if (budget.signal.aborted) throw toVaxGuardError(budget.signal.reason);
    const deadlineMs = outgoingDeadlineMs(budget.deadline, Date.now(), ownMs);
    if (deadlineMs <= 0) {
      throw new VaxGuardError(
        'DEADLINE_EXCEEDED',
        "too little of the call's deadline is left to call another service",
        { reason: 'DEADLINE_TOO_SHORT' },
      );
    }
    return deadlineMs;
  };

  async function* streamMessages(
    method: D[keyof D],
    request: unknown,
    metadata: Metadata,
    ownDeadlineMs: number,
    budget: CallBudget | undefined,
  ): AsyncGenerator<unknown> {
    if (closed) throw unavailable('the service client is closed');
    const deadline = new Date(Date.now() + deadlineOf(ownDeadlineMs, budget));
    const stream = client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      { deadline },
    );
    // grpc-js reports a cancelled stream as an 'error' even after the loop has left it:
    // heard here so it is never an unhandled event; the loop's own errors reach it below.
    stream.on('error', () => undefined);
    const cancel = () => stream.cancel();
    budget?.signal.addEventListener('abort', cancel, { once: true });
    try {
      for await (const message of stream) yield message;
    } catch (error) {
      if (budget?.signal.aborted) throw toVaxGuardError(budget.signal.reason);
      throw fromStatusError(error);
    } finally {
      budget?.signal.removeEventListener('abort', cancel);
      // Ends the call when the loop left early; nothing happens once it has ended.
      stream.cancel();
    }
  }

  const serviceClient: ServiceClient<D> = {
    async call(name, request, callOptions) {
      const method = Object.hasOwn(definition, name) ? definition[name] : undefined;
      if (!method || method.requestStream || method.responseStream) {
        throw new Error(`service client: ${name} is not a unary method of this service`);
      }
      // The call this one is made for, if any: its deadline bounds every attempt and
      // wait, and its caller's cancellation ends them.
      const budget = currentCallBudget();
      const deadlineMs = deadlineOf(ownDeadlineOf(callOptions), budget);
      const metadata = callMetadata(compiled.credentials, callOptions.metadata);
      const deadline = Date.now() + deadlineMs;
      const signal = budget?.signal;
      // Built only when a call fails: an error captures a stack, which every call would pay.
      let failure: VaxGuardError | undefined;
      for (let attemptNumber = 1; !closed; attemptNumber++) {
        // A signal already aborted never fires again: nothing is sent for a caller gone.
        if (signal?.aborted) throw toVaxGuardError(signal.reason);
        try {
          const response = await attempt(
            method,
            request,
            metadata.clone(),
            new Date(deadline),
            signal,
          );
          return response as ResponseOf<D[typeof name]>;
        } catch (error) {
          failure = fromStatusError(error);
        }
        if (signal?.aborted) throw toVaxGuardError(signal.reason);
        const delay = retryDelayMs(
          failure,
          attemptNumber,
          { idempotent: callOptions.idempotent, remainingMs: deadline - Date.now() },
          compiled.retry,
          compiled.random,
        );
        if (delay === undefined) break;
        await pause(delay, signal);
      }
      throw failure ?? unavailable('the service client is closed');
    },
    stream(name, request, streamOptions = {}) {
      const method = Object.hasOwn(definition, name) ? definition[name] : undefined;
      if (!method || method.requestStream || !method.responseStream) {
        throw new Error(`service client: ${name} is not a server-streaming method of this service`);
      }
      const ownDeadlineMs = ownDeadlineOf(streamOptions);
      const metadata = callMetadata(compiled.credentials, streamOptions.metadata);
      // The call it is opened for, if any: the one whose handler asked for the stream.
      const budget = currentCallBudget();
      return streamMessages(method, request, metadata, ownDeadlineMs, budget) as AsyncIterable<
        ResponseOf<D[typeof name]>
      >;
    },
    close() {
      closed = true;
      for (const wake of [...wakeOnClose]) wake();
      client.close();
    },
  };
  const measured = options.metrics
    ? withClientMetrics(definition, serviceClient, ClientMetrics.of(options.metrics))
    : serviceClient;
  return withClientSpans(definition, measured);
}
