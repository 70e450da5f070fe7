import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  invalidArgument,
  isVaxGuardError,
  outOfRange,
  resourceExhausted,
  VaxGuardError,
} from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { googleRpc, googleRpcDetails } from '@vaxguard/proto';
import { fromStatusError, readStatusDetails, toStatusError } from './status';

/** A status as grpc-js hands it to a caller, with the given google.rpc details. */
function peerStatus(code: status, message: string, details: googleRpc.Status['details'] = []) {
  const metadata = new Metadata();
  if (details.length > 0) {
    metadata.set(
      'grpc-status-details-bin',
      Buffer.from(googleRpc.Status.encode({ code, message, details }).finish()),
    );
  }
  return { code, details: message, message: `${code} ${status[code]}: ${message}`, metadata };
}

const errorInfo = (domain: string, reason: string) => ({
  typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
  value: Buffer.from(googleRpcDetails.ErrorInfo.encode({ reason, domain, metadata: {} }).finish()),
});

describe('toStatusError and fromStatusError', () => {
  const logs = new MemoryLogSink();
  const logger = createLogger({ service: 'status-test', sink: logs });

  it('carry code, message, reason and retry delay across, as the same VaxGuardError', () => {
    const sent = resourceExhausted('too many codes sent for this mobile', 42_500, {
      reason: 'MOBILE_QUOTA_15M',
    });
    const wire = toStatusError(sent, logger, '/m');
    const received = fromStatusError({ ...wire, message: wire.details });
    expect(isVaxGuardError(received)).toBe(true);
    expect([received.code, received.message, received.reason, received.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
      'too many codes sent for this mobile',
      'MOBILE_QUOTA_15M',
      42_500,
    ]);
    expect(received.cause).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    // Past the end of a log: OUT_OF_RANGE, a refusal like any other, not a broken call.
    const pastEnd = fromStatusError(
      toStatusError(
        outOfRange('leaf 9 is past the tree', { reason: 'OUT_OF_RANGE' }),
        logger,
        '/m',
      ),
    );
    expect([pastEnd.code, pastEnd.message, pastEnd.reason]).toEqual([
      'OUT_OF_RANGE',
      'leaf 9 is past the tree',
      'OUT_OF_RANGE',
    ]);
    const plain = fromStatusError(toStatusError(invalidArgument('bad'), logger, '/m'));
    expect([plain.code, plain.message, plain.reason]).toEqual([
      'INVALID_ARGUMENT',
      'bad',
      undefined,
    ]);
  });

  it('never sends the message of an INTERNAL error, which goes to the log', () => {
    const wire = toStatusError(
      new VaxGuardError('INTERNAL', 'pool password=hunter2 rejected'),
      logger,
      '/m',
    );
    expect([wire.code, wire.details]).toEqual([status.INTERNAL, 'internal error']);
    expect(JSON.stringify(wire.metadata?.getMap() ?? {})).not.toContain('hunter2');
    expect(logs.text()).toContain('pool password=hunter2 rejected');
    const thrown = toStatusError(new Error('relation "otp_txn" does not exist'), logger, '/m');
    expect([thrown.code, thrown.details]).toEqual([status.INTERNAL, 'internal error']);
    expect(logs.text()).toContain('relation \\"otp_txn\\" does not exist');
  });

  it('turns a lost database connection into UNAVAILABLE a caller may retry, the cause in the log only', () => {
    // What node-postgres throws when the database's connection is refused or cut under
    // a call (found by the chaos suite: such calls were INTERNAL).
    for (const lost of [
      Object.assign(new Error('connect ECONNREFUSED 172.17.0.4:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('terminating connection due to administrator command'), {
        code: '57P01',
      }),
    ]) {
      const wire = toStatusError(lost, logger, '/m');
      const received = fromStatusError({ ...wire, message: wire.details });
      expect([received.code, received.reason]).toEqual(['UNAVAILABLE', 'DEPENDENCY_UNAVAILABLE']);
      expect(wire.details).not.toContain(lost.message);
      expect(logs.text()).toContain(JSON.stringify(lost.message).slice(1, -1));
    }
  });

  it("turns a peer's ABORTED CALLER_CANCELLED into UNAVAILABLE, and leaves other ABORTED refusals alone", () => {
    // Found by the chaos suite: vaccination-record passed identity's CALLER_CANCELLED on to
    // a citizen's GetCertificate, as if the citizen had cancelled; a client retries nothing
    // for ABORTED.
    const abandoned = fromStatusError(
      peerStatus(status.ABORTED, 'the caller cancelled the call; its work was abandoned', [
        errorInfo('vaxguard.in', 'CALLER_CANCELLED'),
      ]),
    );
    expect([abandoned.code, abandoned.reason]).toEqual(['UNAVAILABLE', 'DEPENDENCY_UNAVAILABLE']);
    const conflict = fromStatusError(
      peerStatus(status.ABORTED, 'the record changed meanwhile', [
        errorInfo('vaxguard.in', 'CONCURRENT_UPDATE'),
      ]),
    );
    expect([conflict.code, conflict.reason]).toEqual(['ABORTED', 'CONCURRENT_UPDATE']);
  });

  it('reads a peer’s INTERNAL, and codes VaxGuard does not use, without passing their text on', () => {
    const parseFailure = peerStatus(
      status.INTERNAL,
      'Response message parsing error: index out of range',
    );
    const internal = fromStatusError(parseFailure);
    expect([internal.code, internal.message, internal.cause]).toEqual([
      'INTERNAL',
      'internal error',
      parseFailure,
    ]);
    for (const code of [status.UNKNOWN, status.UNIMPLEMENTED, status.DATA_LOSS]) {
      const broken = fromStatusError(peerStatus(code, 'method GenerateOtp not found at 10.0.0.7'));
      expect([status[code], broken.code, broken.message]).toEqual([
        status[code],
        'INTERNAL',
        'internal error',
      ]);
    }
    const cancelled = fromStatusError(peerStatus(status.CANCELLED, 'Call cancelled'));
    expect(cancelled.code).toBe('UNAVAILABLE');
  });

  it('turns a failure that is not a status into INTERNAL, and keeps a VaxGuardError as it is', () => {
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:50052');
    expect(fromStatusError(refused)).toMatchObject({ code: 'INTERNAL', cause: refused });
    expect(fromStatusError(undefined).code).toBe('INTERNAL');
    const same = new VaxGuardError('NOT_FOUND', 'no such token');
    expect(fromStatusError(same)).toBe(same);
  });

  it('takes a reason only from the vaxguard.in domain, and ignores details that do not decode', () => {
    const foreign = peerStatus(status.FAILED_PRECONDITION, 'quota project not set', [
      errorInfo('googleapis.com', 'SERVICE_DISABLED'),
    ]);
    expect(readStatusDetails(foreign)).toEqual({});
    const ours = peerStatus(status.FAILED_PRECONDITION, 'grant expired', [
      errorInfo('vaxguard.in', 'GRANT_EXPIRED'),
    ]);
    expect(fromStatusError(ours)).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: 'grant expired',
      reason: 'GRANT_EXPIRED',
    });
    const garbled = peerStatus(status.NOT_FOUND, 'no such transaction');
    garbled.metadata.set('grpc-status-details-bin', Buffer.from([0x0a, 0xff, 0xff, 0xff]));
    expect(readStatusDetails(garbled)).toEqual({});
    expect(fromStatusError(garbled)).toMatchObject({ code: 'NOT_FOUND', reason: undefined });
  });
});
