import {
  Server,
  ServerCredentials,
  status,
  type Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { VaxGuardError } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import { descriptorSetBase64 } from '@vaxguard/proto';
import type { Authenticator, Principal } from './auth';
import { ServerReflection } from './reflection';
import { toStatusError } from './status';

export interface CallContext {
  /** Full method path, such as `/vaxguard.otp.v1.OtpService/GenerateOtp`. */
  readonly method: string;
  readonly principal: Principal;
  readonly metadata: Metadata;
  /** When the caller stops waiting, if it set a deadline. */
  readonly deadline: Date | undefined;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/** Our handler for every method of a ts-proto service definition. */
export type ServiceHandlers<D extends ServiceDefinition> = {
  [K in keyof D]: D[K] extends {
    requestDeserialize(bytes: Buffer): infer Req;
    responseSerialize(value: infer Res): Buffer;
  }
    ? UnaryHandler<Req, Res>
    : never;
};

export interface GrpcServerOptions {
  readonly logger: Logger;
  /** Runs before every handler; health and reflection are open to all. */
  readonly authenticate: Authenticator;
  /** Largest deadline a caller may ask for; longer or absent ones are cut to it. */
  readonly maxCallDurationMs?: number;
}

/**
 * A grpc-js server with what every VaxGuard service needs: grpc.health.v1, server
 * reflection, authentication before each call, deadlines, the one error mapping, and
 * a graceful shutdown that drains in-flight calls.
 */
export class GrpcServer {
  private readonly server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
  private readonly health: HealthImplementation;
  private readonly reflection: ServerReflection;
  private readonly serviceNames: string[] = [];
  private readonly maxCallDurationMs: number;

  constructor(private readonly options: GrpcServerOptions) {
    this.maxCallDurationMs = options.maxCallDurationMs ?? 30_000;
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
    for (const [name, method] of Object.entries(definition)) {
      const handler = handlers[name as keyof D] as UnaryHandler<unknown, unknown>;
      implementation[name] = this.wrapUnary(method.path, handler);
    }
    this.server.addService(definition, implementation);
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
    const { logger, authenticate } = this.options;
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
      const started = performance.now();
      const controller = new AbortController();
      const requested = call.getDeadline();
      const requestedMs =
        requested instanceof Date
          ? requested.getTime()
          : Number.isFinite(requested)
            ? Number(requested)
            : Infinity;
      const deadlineMs = Math.min(requestedMs, Date.now() + this.maxCallDurationMs);
      const remaining = deadlineMs - Date.now();
      const timer = setTimeout(
        () => controller.abort(new Error('deadline exceeded')),
        Math.max(0, remaining),
      );
      call.on('cancelled', () => controller.abort(new Error('cancelled by caller')));

      const finish = (error: unknown, response?: unknown): void => {
        clearTimeout(timer);
        const durationMs = Math.round(performance.now() - started);
        if (error === undefined) {
          logger.debug('call ok', { method, durationMs });
          callback(null, response);
          return;
        }
        const mapped = toStatusError(error, logger, method);
        logger.info('call refused', { method, code: status[mapped.code], durationMs });
        callback(mapped);
      };

      if (remaining <= 0) {
        finish(
          new VaxGuardError('DEADLINE_EXCEEDED', 'the call deadline passed before it started'),
        );
        return;
      }
      const run = async (): Promise<unknown> => {
        const principal = await authenticate(call.metadata, method);
        return handler(call.request, {
          method,
          principal,
          metadata: call.metadata,
          deadline: Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined,
          signal: controller.signal,
          logger: logger.child({ method, clientId: principal.clientId }),
        });
      };
      run().then(
        (response) => finish(undefined, response),
        (error: unknown) => finish(error),
      );
    };
  }
}
