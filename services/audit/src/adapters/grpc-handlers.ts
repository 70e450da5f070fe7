import { staffSessionOf, type MethodPolicies } from '@vaxguard/auth';
import { permissionDenied } from '@vaxguard/errors';
import type { Principal, ServiceHandlers } from '@vaxguard/grpc-kit';
import { auditV1 } from '@vaxguard/proto';
import { AUDIENCE } from '@vaxguard/tokens';
import type { AlertDesk } from '../domain/alert-desk';
import type { LogQueries } from '../domain/log-queries';
import type { LogReader, Mismatch } from '../domain/log-reader';
import { parsePosition } from '../domain/log-rules';
import type { EntryFilter, LogEntry, StaffReader } from '../domain/model';
import { recordAccessOf } from './access-history';
import { alertRecordOf } from './alert-messages';

export const AUDIT_SERVICE_NAME = 'vaxguard.audit.v1.AuditService';
const path = (method: string) => `/${AUDIT_SERVICE_NAME}/${method}`;

/**
 * Which token each method asks for, beyond the client's credentials. Checkpoints and
 * proofs are hashes only: any authenticated client. Entries (paged, queried or
 * exported) and alerts name people: a staff session, whose role the domain checks
 * (auditors only).
 */
const STAFF_SESSION = { token: [AUDIENCE.staff] };
export const AUDIT_METHOD_POLICIES: MethodPolicies = {
  [path('GetEntries')]: STAFF_SESSION,
  [path('VerifyLog')]: STAFF_SESSION,
  [path('ListAlerts')]: STAFF_SESSION,
  [path('AcknowledgeAlert')]: STAFF_SESSION,
  [path('QueryEntries')]: STAFF_SESSION,
  [path('ExportEntries')]: STAFF_SESSION,
  [path('GetMyAccessHistory')]: { token: [AUDIENCE.citizen] },
};

/** The citizen a citizen token names, by the mobile's blind index (its subject). */
function citizenOf(principal: Principal): { mobileIndex: string } {
  const token = principal.token;
  if (token?.audience !== AUDIENCE.citizen || !token.subject) {
    throw permissionDenied('a citizen token is needed', { reason: 'NOT_CITIZEN' });
  }
  return { mobileIndex: token.subject };
}

/** QueryEntries and ExportEntries take the same filters. */
function filterOf(
  request: Pick<
    auditV1.QueryEntriesRequest,
    'actorId' | 'subjectRef' | 'eventType' | 'from' | 'to'
  >,
): EntryFilter {
  return {
    actorId: request.actorId,
    subjectRef: request.subjectRef,
    eventType: request.eventType,
    from: request.from,
    to: request.to,
  };
}

function staffReaderOf(principal: Principal): StaffReader | undefined {
  const session = staffSessionOf(principal);
  return session && { staffId: session.staffId, role: session.role };
}

const MISMATCH_KIND: Record<Mismatch['kind'], auditV1.MismatchKind> = {
  LOG_SHRUNK: auditV1.MismatchKind.MISMATCH_KIND_LOG_SHRUNK,
  ENTRY_MISSING: auditV1.MismatchKind.MISMATCH_KIND_ENTRY_MISSING,
  LEAF_HASH: auditV1.MismatchKind.MISMATCH_KIND_LEAF_HASH,
  ENTRY_COLUMNS: auditV1.MismatchKind.MISMATCH_KIND_ENTRY_COLUMNS,
  CHECKPOINT_ROOT: auditV1.MismatchKind.MISMATCH_KIND_CHECKPOINT_ROOT,
  CHECKPOINT_SIGNATURE: auditV1.MismatchKind.MISMATCH_KIND_CHECKPOINT_SIGNATURE,
  TREE_NODE: auditV1.MismatchKind.MISMATCH_KIND_TREE_NODE,
};

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

function entryMessageOf(entry: LogEntry): auditV1.LogEntry {
  return {
    index: String(entry.index),
    entry: toBuffer(entry.entry),
    eventId: entry.columns.eventId,
  };
}

/** The gRPC face of the audit log: proto in, domain call, proto out. */
export function auditHandlers(
  log: LogReader,
  alerts: AlertDesk,
  queries: LogQueries,
): ServiceHandlers<typeof auditV1.AuditServiceService> {
  return {
    async queryEntries(request, { principal }) {
      const page = await queries.query(staffReaderOf(principal), filterOf(request), {
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { entries: page.entries.map(entryMessageOf), nextPageToken: page.nextPageToken };
    },

    // Chunks are read from the log only as the kit pulls them, that is as the caller
    // takes them; a cancelled export, or one cut by a lock or suspension, returns this
    // generator, and with it the reads. Its end is recorded with what it had sent, once
    // the call is over (the kit runs it on behalf of no call, so it is not cut short).
    async *exportEntries(request, context) {
      const reader = staffReaderOf(context.principal);
      const filter = filterOf(request);
      const chunks = await queries.export(reader, filter, request.chunkSize);
      const sizes: number[] = [];
      context.onEnd(({ messagesSent, ended }) => {
        const sent = sizes.slice(0, messagesSent).reduce((sum, n) => sum + n, 0);
        return queries.exportEnded(reader, filter, { sent, ended });
      });
      for await (const entries of chunks) {
        sizes.push(entries.length);
        yield { entries: entries.map(entryMessageOf) };
      }
    },

    async getMyAccessHistory(request, { principal }) {
      const page = await queries.accessHistory(citizenOf(principal), {
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return { accesses: page.accesses.map(recordAccessOf), nextPageToken: page.nextPageToken };
    },

    async listAlerts(request, { principal }) {
      const page = await alerts.list(staffReaderOf(principal), {
        pageSize: request.pageSize,
        pageToken: request.pageToken,
        unacknowledgedOnly: request.unacknowledgedOnly,
      });
      return { alerts: page.alerts.map(alertRecordOf), nextPageToken: page.nextPageToken };
    },

    async acknowledgeAlert(request, { principal }) {
      const alert = await alerts.acknowledge(staffReaderOf(principal), request.alertId);
      return { alert: alertRecordOf(alert) };
    },

    async getCheckpoint() {
      const { checkpoint, verifierKey, halt } = log.latestCheckpoint();
      const origin = checkpoint.signedNote.slice(0, checkpoint.signedNote.indexOf('\n'));
      return {
        signedCheckpoint: checkpoint.signedNote,
        verifierKey,
        origin,
        treeSize: String(checkpoint.size),
        rootHash: toBuffer(checkpoint.rootHash),
        halted: halt !== undefined,
        haltReason: halt ? `${halt.cause}: ${halt.description}` : '',
      };
    },

    async getEntries(request, { principal }) {
      const page = await log.entries(staffReaderOf(principal), {
        start: parsePosition(request.start, 'start'),
        end: parsePosition(request.end, 'end'),
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      return {
        entries: page.entries.map((entry) => ({
          index: String(entry.index),
          entry: toBuffer(entry.entry),
          eventId: entry.eventId,
        })),
        nextPageToken: page.nextPageToken,
      };
    },

    async getInclusionProof(request) {
      const proof = await log.inclusionProof(
        parsePosition(request.index, 'index'),
        parsePosition(request.treeSize, 'tree_size'),
      );
      return {
        index: String(proof.index),
        treeSize: String(proof.treeSize),
        hashes: proof.hashes.map(toBuffer),
        signedCheckpoint: proof.checkpoint?.signedNote ?? '',
      };
    },

    async getConsistencyProof(request) {
      const proof = await log.consistencyProof(
        parsePosition(request.oldSize, 'old_size'),
        parsePosition(request.newSize, 'new_size'),
      );
      return {
        oldSize: String(proof.oldSize),
        newSize: String(proof.newSize),
        hashes: proof.hashes.map(toBuffer),
        signedCheckpoint: proof.checkpoint?.signedNote ?? '',
      };
    },

    async verifyLog(request, { principal }) {
      const report = await log.verify(
        staffReaderOf(principal),
        parsePosition(request.from, 'from'),
        parsePosition(request.to, 'to'),
        { pageSize: request.pageSize, pageToken: request.pageToken },
      );
      const mismatch = report.firstMismatch;
      const mark = report.verifiedUpTo;
      return {
        // Only the last page of a range that held is ok (see VerifyLogResponse.ok).
        ok: mismatch === undefined && report.nextPageToken === '',
        from: String(report.from),
        to: String(report.to),
        checkpointsChecked: report.checkpointsChecked,
        checkedTo: String(report.checkedTo),
        nextPageToken: report.nextPageToken,
        ...(mark
          ? { verifiedUpTo: { treeSize: String(mark.treeSize), rootHash: toBuffer(mark.rootHash) } }
          : {}),
        ...(mismatch
          ? {
              firstMismatch: {
                kind: MISMATCH_KIND[mismatch.kind],
                index: String(mismatch.index),
                checkpointSize: String(mismatch.checkpointSize ?? 0),
                description: mismatch.description,
              },
            }
          : {}),
      };
    },
  };
}
