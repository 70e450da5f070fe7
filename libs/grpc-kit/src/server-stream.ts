import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { isVaxGuardError, VaxGuardError } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import type { Admission } from './admission';
import type { Authenticator } from './auth';
import { callContext, openCallScope } from './call-scope';
import { outsideAnyCall, runOnBehalfOf, type CallContext } from './call-context';
import type { ServerMetrics } from './server-metrics';
import { CALLER_CANCELLED, toStatusError } from './status';

/**
 * A server-streaming handler: the messages to send, as an async iterable that the kit
 * pulls one message at a time, only when the caller can take another. An async
 * generator is the natural form: it reads what it sends as it goes, and its `finally`
 * runs when the caller cancels or the deadline passes.
 */
export type ServerStreamHandler<Req, Res> = (
  request: Req,
  context: StreamContext,
) => AsyncIterable<Res>;

/** A streaming call's context: a call's, and how many messages have left so far. */
export interface StreamContext extends CallContext {
  /**
   * How many of the handler's messages the kit has written to the transport: when the
   * stream ends early, the first this-many messages yielded are the ones that went out.
   */
  messagesSent(): number;
  /**
   * Registers work to run once the stream is over, however it ended (completed,
   * cancelled, cut by its deadline, a refusal or a failure): on behalf of no call, since
   * the call and its signal are gone, so the work is not cut short with them (a record
   * of how the stream ended, say). The kit awaits it before the final status when one
   * is still to be sent; a failure is logged, never the caller's.
   */
  onEnd(listener: (end: StreamEnd) => Promise<void> | void): void;
}

/** How a server stream ended, as `StreamContext.onEnd` listeners are told. */
export interface StreamEnd {
  /** How many of the handler's messages went out to the transport. */
  readonly messagesSent: number;
  /**
   * "COMPLETED", "CANCELLED" (the caller left), "DEADLINE_EXCEEDED", or the reason (else
   * the status code) of the refusal or error that ended it; "INTERNAL" for a failure
   * that is not a VaxGuardError.
   */
  readonly ended: string;
}

/** The `ended` of a stream that an error (a refusal, a failure) ended. */
function endingOf(error: unknown): string {
  if (!isVaxGuardError(error)) return 'INTERNAL';
  if (error.reason === CALLER_CANCELLED) return 'CANCELLED';
  return error.reason ?? error.code;
}

/** What pumping needs of a call's writable side. */
interface WritableSide<Res> {
  write(message: Res): boolean;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
}

/** Resolves when the call's buffer has drained, or at once when the signal aborts. */
function drained(call: WritableSide<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      call.removeListener('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Writes what `messages` yields on `call`, pulling the next message only once the
 * transport has taken the last: when `write()` returns false the pump waits for
 * 'drain' before it asks for more, so a caller that reads slowly holds the handler
 * back (HTTP/2 flow control all the way to its reads) instead of piling messages up in
 * the server's memory. When `signal` aborts, the iterator is returned at once, which
 * runs a generator's `finally` so it releases what it holds. Resolves with how many
 * messages were written; rejects with whatever the iterable threw.
 */
export async function pumpMessages<Res>(
  call: WritableSide<Res>,
  messages: AsyncIterable<Res>,
  signal: AbortSignal,
): Promise<number> {
  const iterator = messages[Symbol.asyncIterator]();
  let sent = 0;
  // Whether the iterator may still hold something (it has neither ended nor thrown).
  let open = true;
  try {
    while (!signal.aborted) {
      let next: IteratorResult<Res>;
      try {
        next = await iterator.next();
      } catch (error) {
        open = false;
        throw error;
      }
      if (next.done) {
        open = false;
        break;
      }
      if (signal.aborted) break;
      const more = call.write(next.value);
      sent++;
      if (!more) await drained(call, signal);
    }
  } finally {
    if (open) await iterator.return?.();
  }
  return sent;
}

export interface ServerStreamOptions {
  readonly logger: Logger;
  readonly authenticate: Authenticator;
  /** Largest deadline a caller may ask for; longer or absent ones are cut to it. */
  readonly maxDurationMs: number;
  /** The server's count of calls in flight; a stream beyond its bounds is refused at once. */
  readonly admission?: Admission;
  /** The server's RPC metrics, if it keeps them. */
  readonly metrics?: ServerMetrics;
}

/**
 * A grpc-js server-streaming implementation around our handler, with what a unary
 * call gets: authentication first (client credentials, the method's token policy, API
 * locks, all by the method's full path), a deadline, the one error mapping (a refusal
 * before or during the stream ends it with the same status a unary call would get),
 * and a log line per call. Flow control and cancellation as `pumpMessages` does them;
 * a stream cut by the server's own deadline ends with DEADLINE_EXCEEDED.
 */
export function serverStreamingCall<Req, Res>(
  method: string,
  handler: ServerStreamHandler<Req, Res>,
  options: ServerStreamOptions,
): (call: ServerWritableStream<Req, Res>) => void {
  const { logger } = options;
  return (call) => {
    const started = performance.now();
    // A stream's length is the caller's reading, not a queue: held to the ceilings only.
    const admitted = options.admission?.admit(method, { measured: false }) ?? {
      release: () => undefined,
    };
    if ('refusal' in admitted) {
      logger.debug('call refused: at capacity', { method });
      options.metrics?.refusedByAdmission(method, 'server_stream');
      call.emit('error', toStatusError(admitted.refusal, logger, method));
      return;
    }
    const measured = options.metrics?.started(method, 'server_stream');
    const scope = openCallScope(call, options.maxDurationMs);
    let sent = 0;
    // Whether the call's status has gone out (or the caller left): nothing more is sent.
    let over = false;
    const refuse = (error: unknown, event = 'call refused'): void => {
      if (over) return;
      over = true;
      const mapped = toStatusError(error, logger, method);
      logger.info(event, {
        method,
        code: status[mapped.code],
        messages: sent,
        durationMs: Math.round(performance.now() - started),
      });
      measured?.(mapped.code, error);
      call.emit('error', mapped);
    };
    // A lock, a suspension or a revoked token that lands while the stream runs ends it
    // at once with the refusal's own status; the handler is told by the aborted signal
    // and winds down (a generator's `finally` runs) without sending anything more.
    scope.onRefused((error) => refuse(error, 'call ended by a refusal'));
    const endListeners: ((end: StreamEnd) => Promise<void> | void)[] = [];
    const ended = async (how: string): Promise<void> => {
      for (const listener of endListeners) {
        try {
          await outsideAnyCall(() => listener({ messagesSent: sent, ended: how }));
        } catch (error) {
          logger.error('stream end work failed', { method, error: String(error) });
        }
      }
    };
    const run = async (): Promise<void> => {
      const context = await callContext(call, method, scope, options);
      const counted: WritableSide<Res> = {
        write: (message) => {
          sent++;
          return call.write(message);
        },
        once: (event, listener) => call.once(event, listener),
        removeListener: (event, listener) => call.removeListener(event, listener),
      };
      // The generator runs as it is pumped: its database work and calls serve this call.
      await runOnBehalfOf(context, () =>
        pumpMessages(
          counted,
          handler(call.request, {
            ...context,
            messagesSent: () => sent,
            onEnd: (listener) => endListeners.push(listener),
          }),
          scope.signal,
        ),
      );
    };
    run().then(
      async () => {
        scope.close();
        admitted.release();
        const durationMs = Math.round(performance.now() - started);
        const refusal = scope.refusal();
        if (refusal) {
          await ended(endingOf(refusal));
        } else if (scope.deadlinePassed()) {
          await ended('DEADLINE_EXCEEDED');
          refuse(new VaxGuardError('DEADLINE_EXCEEDED', 'the stream reached its deadline'));
        } else if (scope.signal.aborted) {
          // The caller went away: there is nobody to send a status to.
          over = true;
          measured?.(status.CANCELLED);
          logger.info('call cancelled', { method, messages: sent, durationMs });
          await ended('CANCELLED');
        } else {
          await ended('COMPLETED');
          over = true;
          measured?.(status.OK);
          logger.debug('call ok', { method, messages: sent, durationMs });
          call.end();
        }
      },
      async (error: unknown) => {
        scope.close();
        admitted.release();
        const refusal = scope.refusal();
        if (refusal) {
          await ended(endingOf(refusal));
        } else if (call.cancelled) {
          over = true;
          measured?.(status.CANCELLED);
          logger.info('call cancelled', { method, messages: sent });
          await ended('CANCELLED');
        } else {
          await ended(endingOf(error));
          refuse(error);
        }
      },
    );
  };
}
