import { Writable } from 'node:stream';
import { Metadata, status, type Deadline, type ServerWritableStream } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { invalidArgument, permissionDenied } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import type { Authenticator } from './auth';
import { currentCallBudget, type CallContext } from './call-context';
import { pumpMessages, serverStreamingCall, type StreamContext } from './server-stream';
import { readStatusDetails, type StatusError } from './status';

const METHOD = '/vaxguard.audit.v1.AuditService/ExportEntries';

/**
 * A grpc-js server-streaming call as the kit sees it: a Writable in object mode whose
 * transport can be blocked (a caller that stops reading) and unblocked, and which the
 * caller can cancel. At most `highWaterMark` messages wait in it before write() says
 * false, as in grpc-js.
 */
class FakeCall extends Writable {
  readonly written: unknown[] = [];
  readonly errors: StatusError[] = [];
  readonly metadata = new Metadata();
  cancelled = false;
  private blocked = false;
  private held: (() => void)[] = [];

  constructor(
    readonly request: unknown,
    private readonly deadline: Deadline = Infinity,
  ) {
    super({
      objectMode: true,
      highWaterMark: 2,
      write: (chunk: unknown, _encoding, done: () => void) => {
        this.written.push(chunk);
        if (this.blocked) this.held.push(done);
        else done();
      },
    });
    this.on('error', (error: StatusError) => this.errors.push(error));
  }

  getDeadline(): Deadline {
    return this.deadline;
  }

  /** The caller stops reading: nothing written from now on leaves. */
  block(): void {
    this.blocked = true;
  }

  /** The caller reads again: what waited leaves, and 'drain' follows. */
  unblock(): void {
    this.blocked = false;
    const held = this.held;
    this.held = [];
    for (const done of held) done();
  }

  cancel(): void {
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }

  asCall(): ServerWritableStream<unknown, unknown> {
    return this as unknown as ServerWritableStream<unknown, unknown>;
  }
}

/** Messages 0..count-1, counting how many were pulled and whether it was returned early. */
function counted(count: number) {
  const state = { pulled: 0, released: false };
  async function* messages(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < count; i++) {
        state.pulled++;
        yield i;
      }
    } finally {
      state.released = true;
    }
  }
  return { state, messages };
}

const settle = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

describe('pumpMessages', () => {
  it('writes every message in order while the transport keeps up', async () => {
    const call = new FakeCall({});
    const { messages, state } = counted(50);
    await expect(pumpMessages(call, messages(), new AbortController().signal)).resolves.toBe(50);
    expect(call.written).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(state.released).toBe(true);
  });

  it("pulls no further while the transport is full, and goes on after 'drain'", async () => {
    const call = new FakeCall({});
    call.block();
    const { messages, state } = counted(1_000);
    const pumping = pumpMessages(call, messages(), new AbortController().signal);
    await settle();
    // write() said false at the buffer's high-water mark: the pump waits for 'drain'.
    expect(state.pulled).toBe(2);
    await settle();
    expect(state.pulled).toBe(2);
    call.unblock();
    await expect(pumping).resolves.toBe(1_000);
    expect(call.written).toHaveLength(1_000);
  });

  it('stops waiting and returns the iterator as soon as the signal aborts', async () => {
    const call = new FakeCall({});
    call.block();
    const controller = new AbortController();
    const { messages, state } = counted(1_000);
    const pumping = pumpMessages(call, messages(), controller.signal);
    await settle();
    controller.abort(new Error('cancelled by caller'));
    await expect(pumping).resolves.toBe(2);
    expect([state.pulled, state.released]).toEqual([2, true]);
  });

  it('passes on what the iterable throws, after what it yielded before', async () => {
    const call = new FakeCall({});
    async function* failing(): AsyncGenerator<string> {
      yield 'first';
      throw invalidArgument('bad range', { reason: 'OUT_OF_RANGE' });
    }
    await expect(pumpMessages(call, failing(), new AbortController().signal)).rejects.toMatchObject(
      {
        reason: 'OUT_OF_RANGE',
      },
    );
    expect(call.written).toEqual(['first']);
  });
});

describe('serverStreamingCall', () => {
  const logs = new MemoryLogSink();
  const logger = createLogger({ service: 'grpc-kit-test', sink: logs });
  const authenticated: string[] = [];
  /** Lets the "portal" client in, except on methods it is locked out of. */
  const authenticate: Authenticator = async (metadata, method) => {
    authenticated.push(method);
    if (metadata.get('locked').length > 0) {
      throw permissionDenied('this API is locked by the platform operators (method lock)', {
        reason: 'API_LOCKED',
      });
    }
    return { kind: 'client', id: 'portal', clientId: 'portal', scopes: [] };
  };
  const serve = <Res>(
    handler: (request: unknown, context: StreamContext) => AsyncIterable<Res>,
    maxDurationMs = 60_000,
  ) => serverStreamingCall(METHOD, handler, { logger, authenticate, maxDurationMs });
  const ended = (call: FakeCall) =>
    new Promise<void>((resolve) => {
      if (call.writableFinished) resolve();
      else call.once('finish', () => resolve());
    });

  it('authenticates by the full method path, then streams what the handler yields, and ends', async () => {
    const call = new FakeCall({ upTo: 3 });
    const seen: CallContext[] = [];
    serve(async function* (request, context) {
      seen.push(context);
      for (let i = 0; i < (request as { upTo: number }).upTo; i++) yield i;
    })(call.asCall());
    await ended(call);
    expect(call.written).toEqual([0, 1, 2]);
    expect(call.errors).toEqual([]);
    expect(authenticated.at(-1)).toBe(METHOD);
    expect([seen[0]?.method, seen[0]?.principal.clientId]).toEqual([METHOD, 'portal']);
  });

  it('refuses a stream the authenticator refuses (an API lock) with its status, before the handler runs', async () => {
    const call = new FakeCall({});
    call.metadata.set('locked', 'yes');
    let ran = false;
    serve(async function* () {
      ran = true;
      yield 1;
    })(call.asCall());
    await settle();
    expect(ran).toBe(false);
    expect(call.written).toEqual([]);
    const [error] = call.errors;
    expect([error?.code, error?.details]).toEqual([
      status.PERMISSION_DENIED,
      'this API is locked by the platform operators (method lock)',
    ]);
    expect(readStatusDetails(error ?? {})).toEqual({ reason: 'API_LOCKED' });
  });

  it('ends a stream with the status of a refusal it meets on the way, after what it sent', async () => {
    const call = new FakeCall({});
    serve(async function* () {
      yield 'first';
      throw invalidArgument('from must be before to', { reason: 'OUT_OF_RANGE' });
    })(call.asCall());
    await settle();
    expect(call.written).toEqual(['first']);
    expect(call.errors.map((e) => [e.code, readStatusDetails(e).reason])).toEqual([
      [status.INVALID_ARGUMENT, 'OUT_OF_RANGE'],
    ]);
  });

  it('sends INTERNAL with the generic message for anything else, the cause only to the log', async () => {
    const call = new FakeCall({});
    serve(async function* () {
      yield* [];
      throw new Error('connection string password=hunter2');
    })(call.asCall());
    await settle();
    expect(call.errors.map((e) => [e.code, e.details])).toEqual([
      [status.INTERNAL, 'internal error'],
    ]);
    expect(JSON.stringify(call.errors)).not.toContain('hunter2');
    expect(logs.text()).toContain('password=hunter2');
  });

  it('stops pulling when the caller cancels while its buffer is full, releasing the handler', async () => {
    const call = new FakeCall({});
    call.block();
    const { messages, state } = counted(10_000);
    serve(messages)(call.asCall());
    await settle();
    expect(state.pulled).toBe(2);
    call.cancel();
    await settle();
    expect([state.pulled, state.released]).toEqual([2, true]);
    expect(call.errors).toEqual([]);
    expect(call.writableEnded).toBe(false);
  });

  it('ends a running stream with the lock’s own status within a second of the lock, the handler told', async () => {
    const call = new FakeCall({});
    let reason: unknown;
    const { messages, state } = counted(1_000_000);
    // A reader that takes a message every 10 ms, as an auditor exporting the log.
    serve(async function* (request, context) {
      try {
        for await (const message of messages()) {
          await settle(10);
          yield message;
        }
      } finally {
        reason = context.signal.reason;
      }
    })(call.asCall());
    await settle(100);
    const lockedAt = performance.now();
    call.metadata.set('locked', 'yes');
    await new Promise<void>((resolve) => call.once('error', () => resolve()));
    const endedAfterMs = performance.now() - lockedAt;
    expect(endedAfterMs).toBeLessThan(1_000);
    const [error] = call.errors;
    expect([error?.code, readStatusDetails(error ?? {}).reason]).toEqual([
      status.PERMISSION_DENIED,
      'API_LOCKED',
    ]);
    const writtenAtEnd = call.written.length;
    await settle(50);
    expect(call.written).toHaveLength(writtenAtEnd);
    expect(state.released).toBe(true);
    expect(reason).toMatchObject({ code: 'PERMISSION_DENIED', reason: 'API_LOCKED' });
    expect(logs.text()).toContain('call ended by a refusal');
  });

  it('goes on when a re-check fails for a passing fault, not a refusal', async () => {
    const call = new FakeCall({});
    let checks = 0;
    const flaky: Authenticator = async (metadata, method) => {
      checks++;
      if (checks === 2) throw new Error('the registry is reloading');
      return authenticate(metadata, method);
    };
    serverStreamingCall(
      METHOD,
      async function* () {
        for (let i = 0; i < 60; i++) {
          await settle(10);
          yield i;
        }
      },
      { logger, authenticate: flaky, maxDurationMs: 60_000 },
    )(call.asCall());
    await ended(call);
    expect(checks).toBeGreaterThanOrEqual(2);
    expect(call.errors).toEqual([]);
    expect(call.written).toHaveLength(60);
  });

  it('tells the handler how many of its messages went out', async () => {
    const call = new FakeCall({});
    const counts: number[] = [];
    serve(async function* (_request, context) {
      for (let i = 0; i < 3; i++) {
        counts.push(context.messagesSent());
        yield i;
      }
      counts.push(context.messagesSent());
    })(call.asCall());
    await ended(call);
    expect(counts).toEqual([0, 1, 2, 3]);
  });

  it('runs end work once, on behalf of no call, however the stream ended, before its status', async () => {
    /** A handler that registers end work, then yields what `body` yields. */
    const endSeen: { ended: string; messagesSent: number; inCall: boolean; status: number }[] = [];
    const handlerInCall: boolean[] = [];
    const recording = (call: FakeCall, body: () => AsyncGenerator<number>) =>
      async function* (_request: unknown, context: StreamContext) {
        context.onEnd(async (end) => {
          await settle(5);
          endSeen.push({
            ...end,
            inCall: currentCallBudget() !== undefined,
            status: call.errors.length + (call.writableEnded ? 10 : 0),
          });
        });
        handlerInCall.push(currentCallBudget() !== undefined);
        yield* body();
      };
    const completed = new FakeCall({});
    serve(
      recording(completed, async function* () {
        yield* [1, 2];
      }),
    )(completed.asCall());
    await ended(completed);
    const refused = new FakeCall({});
    serve(
      recording(refused, async function* () {
        yield 1;
        throw invalidArgument('from must be before to', { reason: 'OUT_OF_RANGE' });
      }),
    )(refused.asCall());
    const cancelled = new FakeCall({});
    cancelled.block();
    serve(recording(cancelled, counted(10_000).messages))(cancelled.asCall());
    await settle();
    cancelled.cancel();
    const late = new FakeCall({});
    late.block();
    serve(recording(late, counted(10_000).messages), 100)(late.asCall());
    await settle(300);
    expect(endSeen).toEqual(
      expect.arrayContaining([
        // Each before its final status went out (no error, not ended yet).
        { ended: 'COMPLETED', messagesSent: 2, inCall: false, status: 0 },
        { ended: 'OUT_OF_RANGE', messagesSent: 1, inCall: false, status: 0 },
        { ended: 'CANCELLED', messagesSent: 2, inCall: false, status: 0 },
        { ended: 'DEADLINE_EXCEEDED', messagesSent: 2, inCall: false, status: 0 },
      ]),
    );
    expect(endSeen).toHaveLength(4);
    expect(handlerInCall).toEqual([true, true, true, true]);
    expect(refused.errors.map((e) => readStatusDetails(e).reason)).toEqual(['OUT_OF_RANGE']);
  });

  it('ends a stream still running at the server’s longest deadline with DEADLINE_EXCEEDED', async () => {
    const call = new FakeCall({});
    call.block();
    const { messages, state } = counted(10_000);
    serve(messages, 100)(call.asCall());
    await settle(250);
    expect(state.released).toBe(true);
    expect(call.errors.map((e) => e.code)).toEqual([status.DEADLINE_EXCEEDED]);
  });
});
