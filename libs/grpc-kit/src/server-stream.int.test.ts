import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidArgument, permissionDenied } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { auditV1 } from '@vaxguard/proto';
import { clientSecretAuthenticator, hashClientSecret, type Authenticator } from './auth';
import { GrpcServer, type ServiceHandlers } from './server';
import { createServiceClient } from './service-client';
import { streamRefusal } from './test-support';

const SECRET = 'auditor-console-secret-0123456789';
const EXPORT = '/vaxguard.audit.v1.AuditService/ExportEntries';
const logger = createLogger({ service: 'grpc-kit-stream-test', sink: new MemoryLogSink() });

/** What the stand-in export did for each stream, by the stream's subject_ref. */
const exports = new Map<string, { pulled: number; released: boolean }>();
/** Each message carries 16 KiB, so a few fill HTTP/2's flow-control windows. */
const ENTRY_BYTES = 16 * 1024;

const notUsed = async (): Promise<never> => {
  throw new Error('not used by these tests');
};

// A stand-in audit service whose ExportEntries does what each test names in actor_id:
// `count:N` streams N messages, `refuse` refuses before the first, `fail-after:N` sends
// N and then refuses, `slow` waits between messages.
const handlers: ServiceHandlers<typeof auditV1.AuditServiceService> = {
  async *exportEntries(request, context) {
    const progress = { pulled: 0, released: false };
    exports.set(request.subjectRef, progress);
    const [behaviour = '', n = '0'] = request.actorId.split(':');
    try {
      if (behaviour === 'refuse') {
        throw permissionDenied('only auditors read the audit log', { reason: 'NOT_AUDITOR' });
      }
      for (let index = 0; index < Number(n) || behaviour === 'slow'; index++) {
        if (behaviour === 'fail-after' && index === Number(n) - 1) {
          throw invalidArgument('from must be before to', { reason: 'OUT_OF_RANGE' });
        }
        if (behaviour === 'slow') {
          await new Promise((resolve) => setTimeout(resolve, 100));
          if (context.signal.aborted) return;
        }
        progress.pulled++;
        yield {
          entries: [
            { index: String(index), entry: Buffer.alloc(ENTRY_BYTES, index % 251), eventId: '' },
          ],
        };
      }
    } finally {
      progress.released = true;
    }
  },
  getCheckpoint: notUsed,
  getEntries: notUsed,
  getInclusionProof: notUsed,
  getConsistencyProof: notUsed,
  verifyLog: notUsed,
  listAlerts: notUsed,
  acknowledgeAlert: notUsed,
  queryEntries: notUsed,
  getMyAccessHistory: notUsed,
};

/** Client credentials, and an API lock on ExportEntries for the "locked" client. */
const clients = clientSecretAuthenticator([
  { clientId: 'console', secretSha256: hashClientSecret(SECRET), scopes: [] },
  { clientId: 'locked', secretSha256: hashClientSecret(SECRET), scopes: [] },
]);
const authenticate: Authenticator = async (metadata, method) => {
  const principal = await clients(metadata, method);
  if (principal.clientId === 'locked' && method === EXPORT) {
    throw permissionDenied('this API is locked by the platform operators (method lock)', {
      reason: 'API_LOCKED',
    });
  }
  return principal;
};

const request = (actorId: string, subjectRef: string): auditV1.ExportEntriesRequest => ({
  actorId,
  subjectRef,
  eventType: '',
  from: undefined,
  to: undefined,
  chunkSize: 0,
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('server-streaming calls through the kit, over a real socket', () => {
  const server = new GrpcServer({ logger, authenticate });
  let address = '';
  beforeAll(async () => {
    server.addService('vaxguard.audit.v1.AuditService', auditV1.AuditServiceService, handlers);
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  });
  afterAll(() => server.shutdown(1_000));

  const connect = (clientId = 'console') =>
    createServiceClient(auditV1.AuditServiceService, {
      address,
      clientId,
      secret: SECRET,
      deadlineMs: 30_000,
    });

  it('delivers every message in order and ends', async () => {
    const audit = connect();
    try {
      const indexes: string[] = [];
      for await (const { entries } of audit.stream('exportEntries', request('count:40', 'all'))) {
        indexes.push(...entries.map((entry) => entry.index));
      }
      expect(indexes).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
      expect(exports.get('all')).toEqual({ pulled: 40, released: true });
    } finally {
      audit.close();
    }
  });

  it('holds the server back while the client does not read, and catches up when it does', async () => {
    const total = 2_000;
    const audit = connect();
    try {
      const stream = audit.stream('exportEntries', request(`count:${total}`, 'slow-reader'));
      const iterator = stream[Symbol.asyncIterator]();
      await iterator.next();
      // The client reads nothing for a while: the server fills what flow control allows
      // (its write buffer, the HTTP/2 windows, the client's read buffer) and then waits.
      await pause(400);
      const early = exports.get('slow-reader')?.pulled ?? 0;
      await pause(400);
      const later = exports.get('slow-reader')?.pulled ?? 0;
      console.log(`[measure] messages pulled while the client was paused: ${later} of ${total}`);
      expect(later).toBe(early);
      expect(later).toBeLessThan(total / 10);
      let received = 1;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) received++;
      expect(received).toBe(total);
      expect(exports.get('slow-reader')).toEqual({ pulled: total, released: true });
    } finally {
      audit.close();
    }
  });

  it('cancels the call when the client leaves its loop, and the server stops and releases', async () => {
    const audit = connect();
    try {
      let received = 0;
      for await (const message of audit.stream('exportEntries', request('count:5000', 'left'))) {
        expect(message.entries).toHaveLength(1);
        if (++received === 3) break;
      }
      const progress = exports.get('left');
      await expect.poll(() => progress?.released, { timeout: 2_000, interval: 20 }).toBe(true);
      const pulled = progress?.pulled ?? 0;
      expect(pulled).toBeLessThan(5_000 / 10);
      await pause(200);
      expect(progress?.pulled).toBe(pulled);
    } finally {
      audit.close();
    }
  });

  it('refuses a locked API and a domain refusal with the same VaxGuardError a unary call gets', async () => {
    const locked = connect('locked');
    const audit = connect();
    try {
      const lock = await streamRefusal(
        locked.stream('exportEntries', request('count:3', 'locked')),
      );
      expect([lock.code, lock.reason]).toEqual(['PERMISSION_DENIED', 'API_LOCKED']);
      expect(exports.has('locked')).toBe(false);
      const refused = await streamRefusal(
        audit.stream('exportEntries', request('refuse', 'refused')),
      );
      expect([refused.code, refused.message, refused.reason]).toEqual([
        'PERMISSION_DENIED',
        'only auditors read the audit log',
        'NOT_AUDITOR',
      ]);
      const received: unknown[] = [];
      const midway = await streamRefusal(
        audit.stream('exportEntries', request('fail-after:3', 'midway')),
        received,
      );
      expect([received.length, midway.code, midway.reason]).toEqual([
        2,
        'INVALID_ARGUMENT',
        'OUT_OF_RANGE',
      ]);
      const stranger = createServiceClient(auditV1.AuditServiceService, {
        address,
        clientId: 'console',
        secret: 'a-wrong-secret-of-enough-length',
      });
      const anonymous = await streamRefusal(
        stranger.stream('exportEntries', request('count:1', 'x')),
      );
      stranger.close();
      expect(anonymous.code).toBe('UNAUTHENTICATED');
    } finally {
      locked.close();
      audit.close();
    }
  });

  it('bounds a stream by its deadline, and the server stops at it', async () => {
    const audit = connect();
    try {
      const started = performance.now();
      const late = await streamRefusal(
        audit.stream('exportEntries', request('slow', 'deadline'), { deadlineMs: 400 }),
      );
      expect(late.code).toBe('DEADLINE_EXCEEDED');
      expect(performance.now() - started).toBeLessThan(2_000);
      await expect
        .poll(() => exports.get('deadline')?.released, { timeout: 2_000, interval: 20 })
        .toBe(true);
    } finally {
      audit.close();
    }
  });

  it('refuses to stream a unary method, and to call a streaming one', async () => {
    const audit = connect();
    try {
      expect(() => audit.stream('getCheckpoint' as never, {} as never)).toThrow(
        'service client: getCheckpoint is not a server-streaming method of this service',
      );
      await expect(
        audit.call('exportEntries' as never, {} as never, { idempotent: true }),
      ).rejects.toThrow('service client: exportEntries is not a unary method of this service');
    } finally {
      audit.close();
    }
  });
});
