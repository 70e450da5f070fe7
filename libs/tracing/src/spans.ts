import {
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
} from '@opentelemetry/semantic-conventions';
import { contextWithTraceparent, formatTraceparent } from './traceparent';

/** The instrumentation scope every VaxGuard span is made under. */
export const TRACER_NAME = '@vaxguard/tracing';

// The API's tracer: the SDK's once startTracing has registered one, a no-op before (and
// always when tracing is off), so the hot path pays only the no-op API.
const tracer = trace.getTracer(TRACER_NAME);

/**
 * gRPC status names by code (grpc-js' `status` enum, repeated here so that this library
 * needs no gRPC package).
 */
const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/**
 * The codes that mark a server span as failed (OpenTelemetry's gRPC conventions): the
 * server's own faults. A refusal (INVALID_ARGUMENT, PERMISSION_DENIED, NOT_FOUND...) is the
 * server doing its job; on the client's side every code but OK is a failure.
 */
const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** A span of one call or one message, and the context its work runs in. */
export interface WorkSpan {
  /** The context to run the work in: the span active (or its parent, when not traced). */
  readonly context: Context;
  /** The span's own `traceparent`, to send on; undefined when there is no trace. */
  readonly traceparent: string | undefined;
}

/** The context with `span` active, or `parent` unchanged when the span belongs to no trace. */
function contextOf(parent: Context, span: Span): Context {
  return isSpanContextValid(span.spanContext()) ? trace.setSpan(parent, span) : parent;
}

function traceparentOf(span: Span): string | undefined {
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? formatTraceparent(spanContext) : undefined;
}

/** `/vaxguard.otp.v1.OtpService/GenerateOtp` → `vaxguard.otp.v1.OtpService/GenerateOtp`. */
function rpcName(path: string): string {
  return path.startsWith('/') ? path.slice(1) : path;
}

function rpcAttributes(path: string): Attributes {
  const name = rpcName(path);
  return {
    [ATTR_RPC_SYSTEM_NAME]: 'grpc',
    [ATTR_RPC_METHOD]: name,
    // The older conventions' names, which Jaeger's UI and many dashboards still read.
    'rpc.system': 'grpc',
    'rpc.service': name.slice(0, Math.max(0, name.indexOf('/'))),
  };
}

/** A gRPC call's span: ended with the call's status code (0 for OK). */
export interface RpcSpan extends WorkSpan {
  end(code: number): void;
}

function rpcSpan(span: Span, parent: Context, kind: SpanKind): RpcSpan {
  return {
    context: contextOf(parent, span),
    traceparent: traceparentOf(span),
    end(code) {
      if (span.isRecording()) {
        const name = GRPC_STATUS_NAMES[code] ?? String(code);
        span.setAttribute(ATTR_RPC_STATUS_CODE, name);
        span.setAttribute('rpc.grpc.status_code', code);
        const failed = kind === SpanKind.SERVER ? SERVER_ERROR_CODES.has(code) : code !== 0;
        if (failed) {
          span.setAttribute(ATTR_ERROR_TYPE, name);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      }
      span.end();
    },
  };
}

/**
 * The server span of one gRPC call, child of the caller's span when its metadata carried a
 * `traceparent`. Its attributes name the method only: never a request field.
 */
export function startRpcServerSpan(path: string, traceparent: string | undefined): RpcSpan {
  // A call starts its own trace or continues its caller's, never whatever context the
  // server's callback happened to run in.
  const parent = contextWithTraceparent(traceparent, ROOT_CONTEXT);
  const span = tracer.startSpan(rpcName(path), { kind: SpanKind.SERVER }, parent);
  if (span.isRecording()) span.setAttributes(rpcAttributes(path));
  return rpcSpan(span, parent, SpanKind.SERVER);
}

/**
 * The client span of one gRPC call (all its attempts), child of the active span; its
 * `traceparent` goes into the call's metadata.
 */
export function startRpcClientSpan(path: string, parent: Context): RpcSpan {
  const span = tracer.startSpan(rpcName(path), { kind: SpanKind.CLIENT }, parent);
  if (span.isRecording()) span.setAttributes(rpcAttributes(path));
  return rpcSpan(span, parent, SpanKind.CLIENT);
}

/** Where a Kafka message goes or came from: its attributes on a messaging span. */
export interface MessageAttributes {
  readonly topic: string;
  /** The event type (the catalogue's name), never its content. */
  readonly eventType: string;
  readonly eventId: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly consumerGroup?: string;
}

function messageAttributes(operation: 'send' | 'process', message: MessageAttributes): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': operation,
    'messaging.destination.name': message.topic,
    'messaging.message.id': message.eventId,
    'vaxguard.event.type': message.eventType,
    ...(message.partition === undefined
      ? {}
      : { 'messaging.destination.partition.id': String(message.partition) }),
    ...(message.offset === undefined ? {} : { 'messaging.kafka.offset': Number(message.offset) }),
    ...(message.consumerGroup === undefined
      ? {}
      : { 'messaging.consumer.group.name': message.consumerGroup }),
  };
}

/** A messaging span, ended once the message is sent or applied (or failed to be). */
export interface MessageSpan extends WorkSpan {
  end(error?: unknown): void;
}

const UNTRACED_MESSAGE: MessageSpan = {
  context: ROOT_CONTEXT,
  traceparent: undefined,
  end: () => undefined,
};

function messageSpan(
  operation: 'send' | 'process',
  kind: SpanKind,
  traceparent: string | undefined,
  message: MessageAttributes,
): MessageSpan {
  // An event written outside any trace (a periodic task's) starts none: a lone span per
  // message would only be noise.
  if (traceparent === undefined) return UNTRACED_MESSAGE;
  const parent = contextWithTraceparent(traceparent, ROOT_CONTEXT);
  const span = tracer.startSpan(`${operation} ${message.topic}`, { kind }, parent);
  if (span.isRecording()) span.setAttributes(messageAttributes(operation, message));
  return {
    context: contextOf(parent, span),
    // Not traced here, the message still carries its trace on.
    traceparent: traceparentOf(span) ?? traceparent,
    end(error) {
      if (error !== undefined && span.isRecording()) {
        span.setAttribute(ATTR_ERROR_TYPE, error instanceof Error ? error.name : 'error');
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}

/**
 * The producer span of an event the outbox relay publishes, child of the span that wrote
 * its outbox row (the row's `traceparent`); the message's header carries this span on.
 */
export function startPublishSpan(
  rowTraceparent: string | undefined,
  message: MessageAttributes,
): MessageSpan {
  return messageSpan('send', SpanKind.PRODUCER, rowTraceparent, message);
}

/**
 * The consumer span of one event applied, child of the span that published it (the
 * message's `traceparent` header): the event's consumption joins the trace of the call
 * that wrote it.
 */
export function startProcessSpan(
  headerTraceparent: string | undefined,
  message: MessageAttributes,
): MessageSpan {
  return messageSpan('process', SpanKind.CONSUMER, headerTraceparent, message);
}
