import {
  Server,
  ServerCredentials,
  status,
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { invalidArgument, type VaxGuardError } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import type { Registry } from '@vaxguard/metrics';
import { descriptorSetBase64 } from '@vaxguard/proto';
import { Admission, DEFAULT_ADMISSION_LIMITS, type AdmissionLimits } from './admission';
import type { Authenticator } from './auth';
import { runOnBehalfOf, type CallContext } from './call-context';
import { callContext, openCallScope } from './call-scope';
import { ServerReflection } from './reflection';
import { ServerMetrics } from './server-metrics';
import { serverStreamingCall, type ServerStreamHandler } from './server-stream';
import { toStatusError } from './status';
import { withServerSpan } from './tracing';

export type { CallContext } from './call-context';

/**
 * A request refused before its handler runs, after authentication: bytes that are not a
 * message of the method's type (cut short, a wrong wire type), which grpc-js would answer
 * INTERNAL had the deserializer thrown, or text holding a NUL, which no VaxGuard field
 * means and PostgreSQL text cannot hold (it would fail as INTERNAL wherever it reached SQL).
 */
class RefusedRequest {
  constructor(readonly refusal: VaxGuardError) {}
}

function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Uint8Array || value instanceof Date) return false;
  return Object.values(value).some(holdsNul);
}

function tolerantDeserializer(deserialize: (bytes: Buffer) => unknown) {
  return (bytes: Buffer): unknown => {
    let request: unknown;
    try {
      request = deserialize(bytes);
    } catch {
      return new RefusedRequest(
        invalidArgument('the request is not a valid protobuf message of its type', {
          reason: 'MALFORMED_REQUEST',
        }),
      );
    }
    if (!holdsNul(request)) return request;
    return new RefusedRequest(
      invalidArgument('a text field holds a NUL character', { reason: 'NUL_IN_TEXT' }),
    );
  };
}

type AnyHandler = (request: unknown, context: never) => unknown;

function refuseMalformed(handler: AnyHandler): AnyHandler {
  return (request, context) => {
    if (request instanceof RefusedRequest) throw request.refusal;
    return handler(request, context);
  };
}

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

interface Codec<Req, Res> {
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(value: Res): Buffer;
}

/**
 * Our handler for every method of a ts-proto service definition: a unary handler for
 * a unary method, a `ServerStreamHandler` for a server-streaming one. Client-streaming
 * and bidirectional methods are not served (VaxGuard declares none).
 */
export type ServiceHandlers<D extends ServiceDefinition> = {
  [K in keyof D]: D[K] extends { requestStream: false; responseStream: true } & Codec<
    infer Req,
    infer Res
  >
    ? ServerStreamHandler<Req, Res>
    : D[K] extends { requestStream: false; responseStream: false } & Codec<infer Req, infer Res>
      ? UnaryHandler<Req, Res>
      : never;
};

export interface GrpcServerOptions {
  readonly logger: Logger;
  /** Runs before every handler; health and reflection are open to all. */
  readonly authenticate: Authenticator;
  /** Largest deadline a unary caller may ask for; longer or absent ones are cut to it. */
  readonly maxCallDurationMs?: number;
  /**
   * Largest deadline a server-streaming caller may ask for (default 10 minutes): an
   * export to a caller that reads slowly takes longer than any unary call, but not for ever.
   */
  readonly maxStreamDurationMs?: number;
  /**
   * How many calls are taken on at once, in all and per method (default
   * DEFAULT_ADMISSION_LIMITS); beyond them a call is refused RESOURCE_EXHAUSTED
   * SERVER_BUSY with a retry hint at once, before it is authenticated.
   */
  readonly admission?: AdmissionLimits;
  /** Where the calls' metrics go (server-metrics.ts); none are kept without it. */
  readonly metrics?: Registry;
}

/**
 * A grpc-js server with what every VaxGuard service needs: grpc.health.v1, server
 * reflection, authentication before each call, deadlines, the one error mapping, and
 * a graceful shutdown that drains in-flight calls. Unary and server-streaming methods
 * get the same authentication, deadlines and error mapping.
 */
export class GrpcServer {
  private readonly server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
  private readonly health: HealthImplementation;
  private readonly reflection: ServerReflection;
  private readonly serviceNames: string[] = [];
  private readonly maxCallDurationMs: number;
  private readonly maxStreamDurationMs: number;
  private readonly admission: Admission;
  private readonly metrics: ServerMetrics | undefined;

  constructor(private readonly options: GrpcServerOptions) {
    this.admission = new Admission(options.admission ?? DEFAULT_ADMISSION_LIMITS);
    this.metrics = options.metrics ? new ServerMetrics(options.metrics) : undefined;
    this.maxCallDurationMs = options.maxCallDurationMs ?? 30_000;
    this.maxStreamDurationMs = options.maxStreamDurationMs ?? 10 * 60_000;
    this.health = new HealthImplementation({ '': 'NOT_SERVING' });
    this.health.addToServer(this.server);
    this.reflection = new ServerReflection(Buffer.from(descriptorSetBase64, 'base64'));
    this.reflection.addToServer(this.server);
  }

  addService<D extends ServiceDefinition>(
    serviceName: string,
    definition: D,
    handlers: ServiceHandlers<D>,
  ): this {
    this.reflection.addService(serviceName);
    const implementation: UntypedServiceImplementation = {};
    const tolerant: Record<string, MethodDefinition<unknown, unknown>> = {};
    for (const [name, method] of Object.entries(definition)) {
      tolerant[name] = {
        ...method,
        requestDeserialize: tolerantDeserializer(method.requestDeserialize),
      };
      const handler: unknown = refuseMalformed(handlers[name as keyof D] as AnyHandler);
      if (method.requestStream) {
        throw new Error(`${method.path}: client-streaming methods are not supported`);
      }
      implementation[name] = method.responseStream
        ? serverStreamingCall(method.path, handler as ServerStreamHandler<unknown, unknown>, {
            logger: this.options.logger,
            authenticate: this.options.authenticate,
            maxDurationMs: this.maxStreamDurationMs,
            admission: this.admission,
            ...(this.metrics ? { metrics: this.metrics } : {}),
          })
        : this.wrapUnary(method.path, handler as UnaryHandler<unknown, unknown>);
      implementation[name] = withServerSpan(method, implementation[name] as UntypedHandleCall);
    }
    this.server.addService(tolerant, implementation);
    this.serviceNames.push(serviceName);
    this.health.setStatus(serviceName, 'NOT_SERVING');
    return this;
  }

  /** Binds and starts serving; returns the port actually bound (useful with port 0). */
  async listen(host: string, port: number): Promise<number> {
    const bound = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      );
    });
    this.setServing('SERVING');
    return bound;
  }

  /** Stops taking calls, lets in-flight ones finish within `graceMs`, then cuts them. */
  async shutdown(graceMs: number): Promise<void> {
    this.setServing('NOT_SERVING');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.logger.warn('grace period over; cancelling remaining calls');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private setServing(servingStatus: ServingStatus): void {
    this.health.setStatus('', servingStatus);
    for (const name of this.serviceNames) this.health.setStatus(name, servingStatus);
  }

  private wrapUnary(method: string, handler: UnaryHandler<unknown, unknown>) {
    const { logger } = this.options;
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
      const started = performance.now();
      const admitted = this.admission.admit(method);
      if ('refusal' in admitted) {
        logger.debug('call refused: at capacity', { method });
        this.metrics?.refusedByAdmission(method, 'unary');
        callback(toStatusError(admitted.refusal, logger, method));
        return;
      }
      const measured = this.metrics?.started(method, 'unary');
      const scope = openCallScope(call, this.maxCallDurationMs);

      let answered = false;
      const finish = (error: unknown, response?: unknown): void => {
        scope.close();
        if (answered) return;
        answered = true;
        const durationMs = Math.round(performance.now() - started);
        if (error === undefined) {
          logger.debug('call ok', { method, durationMs });
          measured?.(status.OK);
          callback(null, response);
          return;
        }
        const mapped = toStatusError(error, logger, method);
        logger.info('call refused', { method, code: status[mapped.code], durationMs });
        measured?.(mapped.code, error);
        callback(mapped);
      };

      // A lock, a suspension or a revoked token that lands while a long call runs ends
      // it at once with the refusal's status: the answer is withheld from a principal no
      // longer allowed it. The handler sees the aborted signal: its statement running is
      // cancelled and its transaction rolled back (libs/db); one already committing
      // stays, and is recorded as every write is.
      scope.onRefused((refusal) => finish(refusal));
      // The handler and all it starts serve this call: the database and the calls to other
      // services take their deadline and cancellation from it (runOnBehalfOf).
      const run = async (): Promise<unknown> => {
        const context = await callContext(call, method, scope, this.options);
        return runOnBehalfOf(context, () => handler(call.request, context));
      };
      // The place is held until the handler is done, even when a refusal answered first.
      run()
        .then(
          (response) => finish(undefined, response),
          (error: unknown) => finish(error),
        )
        .finally(() => admitted.release());
    };
  }
}
