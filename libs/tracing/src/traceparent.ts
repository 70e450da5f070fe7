import {
  context,
  isSpanContextValid,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';

/**
 * The W3C Trace Context header (https://www.w3.org/TR/trace-context/#traceparent-header)
 * that carries a trace across a process boundary: gRPC metadata, an outbox row, a Kafka
 * message header. It holds two random ids and a flag, nothing about the call.
 */
export const TRACEPARENT_HEADER = 'traceparent';

// version 00: `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`. A later version
// may append fields after the flags (the spec's forward compatibility); version ff is invalid.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** A span context as a `traceparent` value. */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * The remote span context a `traceparent` value names; undefined for anything else (absent,
 * malformed, all-zero ids, version ff, or version 00 with trailing fields), which the
 * receiver then treats as no trace at all.
 */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (value === undefined) return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId = '', spanId = '', flags = '', rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** `base` with the remote parent a `traceparent` value names, or `base` itself for none. */
export function contextWithTraceparent(
  value: string | undefined,
  base: Context = context.active(),
): Context {
  const remote = parseTraceparent(value);
  return remote ? trace.setSpanContext(base, remote) : base;
}

/** The active span's context, when a span is active and recording this trace. */
function activeSpanContext(): SpanContext | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * The `traceparent` of the active span, for work that leaves this process now or later
 * (an outbox row): undefined when no span is active, as always when tracing is off.
 */
export function currentTraceparent(): string | undefined {
  const spanContext = activeSpanContext();
  return spanContext ? formatTraceparent(spanContext) : undefined;
}

/** The id of the trace the current work belongs to, if any: what log lines carry. */
export function currentTraceId(): string | undefined {
  return activeSpanContext()?.traceId;
}
