import {
  Metadata,
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type UntypedHandleCall,
} from '@grpc/grpc-js';
import { context } from '@opentelemetry/api';
import { startRpcClientSpan, startRpcServerSpan, TRACEPARENT_HEADER } from '@vaxguard/tracing';
import { statusCodeOf } from './status';

/** The caller's `traceparent`, when its metadata carries one. */
export function incomingTraceparent(metadata: Metadata): string | undefined {
  const [value] = metadata.get(TRACEPARENT_HEADER);
  return typeof value === 'string' ? value : undefined;
}

/**
 * A unary method's implementation inside its call's server span: the handler, and all it
 * starts (its log lines, its calls to other services, its outbox rows), run with the span
 * active; the span ends with the status the callback answers.
 */
export function tracedUnary<Req, Res>(
  path: string,
  implementation: handleUnaryCall<Req, Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const span = startRpcServerSpan(path, incomingTraceparent(call.metadata));
    context.with(span.context, () =>
      implementation(call, (error, value, trailer, flags) => {
        span.end(error ? statusCodeOf(error) : status.OK);
        callback(error, value, trailer, flags);
      }),
    );
  };
}

/**
 * A server-streaming method's implementation inside its call's server span, ended when
 * the stream closes with the status it ended with (OK, the refusal's, or CANCELLED).
 */
export function tracedServerStream<Req, Res>(
  path: string,
  implementation: handleServerStreamingCall<Req, Res>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const span = startRpcServerSpan(path, incomingTraceparent(call.metadata));
    let code: number = status.OK;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.end(code);
    };
    call.on('error', (error: unknown) => (code = statusCodeOf(error)));
    call.once('cancelled', () => {
      code = status.CANCELLED;
      end();
    });
    call.once('close', end);
    context.with(span.context, () => implementation(call));
  };
}

/**
 * A method's implementation inside its call's server span: the one place every VaxGuard
 * server traces its calls (`GrpcServer.addService`).
 */
export function withServerSpan(
  method: { readonly path: string; readonly responseStream: boolean },
  implementation: UntypedHandleCall,
): UntypedHandleCall {
  return method.responseStream
    ? tracedServerStream(method.path, implementation as handleServerStreamingCall<unknown, unknown>)
    : tracedUnary(method.path, implementation as handleUnaryCall<unknown, unknown>);
}

type UnaryCall = (
  method: string,
  request: unknown,
  options: { readonly metadata?: Metadata },
) => Promise<unknown>;

/**
 * A service client whose every unary call (all its attempts) is a client span, child of
 * the span active where it is made, its `traceparent` sent in the call's metadata so the
 * service's server span continues the trace. Streams are not traced from the client side.
 */
export function withClientSpans<C extends { readonly call: unknown }>(
  definition: Readonly<Record<string, { readonly path: string }>>,
  client: C,
): C {
  const call = client.call as UnaryCall;
  const traced: UnaryCall = async (method, request, options) => {
    const path = Object.hasOwn(definition, method) ? definition[method]?.path : undefined;
    const span = startRpcClientSpan(path ?? method, context.active());
    let sent = options;
    if (span.traceparent !== undefined) {
      const metadata = options.metadata?.clone() ?? new Metadata();
      metadata.set(TRACEPARENT_HEADER, span.traceparent);
      sent = { ...options, metadata };
    }
    try {
      const response = await call(method, request, sent);
      span.end(status.OK);
      return response;
    } catch (error) {
      span.end(statusCodeOf(error));
      throw error;
    }
  };
  return { ...client, call: traced };
}
