import type { Queryable } from '@vaxguard/db';
import { buildEvent, eventActor, EVENTS, SubjectKind } from '@vaxguard/event-catalogue';
import { enqueueEvent } from '@vaxguard/events';
import { ingestedNoEarlierThan } from '../domain/log-rules';
import type { LogQueryStore } from '../domain/log-queries';
import type {
  AuditorRead,
  EntryFilter,
  LogEntry,
  QueryRecorder,
  StaffReader,
} from '../domain/model';
import { entryOf, type EntryRow } from './pg-log-store';

const ENTRY_COLUMNS = '*';

/** The log's entries looked up by column; queries are recorded through the outbox. */
export class PgLogQueries implements LogQueryStore, QueryRecorder {
  constructor(
    private readonly db: Queryable,
    private readonly clock: () => Date,
  ) {}

  /**
   * One keyset read in index order, each filter a condition only when given, so the
   * plan reads the index that serves it: (actor_id, entry_index), (subject_ref,
   * entry_index) or (event_type, entry_index), else the primary key. A `from` first
   * finds where its entries can start (startIndexFor), so "the last hour" reads the
   * last hour's entries, not the log from entry 0.
   */
  async query(
    filter: EntryFilter,
    after: number,
    limit: number,
    end?: number,
  ): Promise<LogEntry[]> {
    const start = filter.from ? await this.startIndexFor(filter.from) : 0;
    const params: unknown[] = [Math.max(after, start - 1)];
    const where = ['entry_index > $1'];
    const condition = (sql: (param: string) => string, value: unknown): void => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (filter.actorId) condition((p) => `actor_id = ${p}`, filter.actorId);
    if (filter.subjectRef) condition((p) => `subject_ref = ${p}`, filter.subjectRef);
    if (filter.eventType) condition((p) => `event_type = ${p}`, filter.eventType);
    if (filter.from) condition((p) => `occurred_at >= ${p}`, filter.from);
    if (filter.to) condition((p) => `occurred_at < ${p}`, filter.to);
    if (end !== undefined) condition((p) => `entry_index < ${p}`, end);
    params.push(limit);
    const { rows } = await this.db.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM audit_log_entries
        WHERE ${where.join(' AND ')}
        ORDER BY entry_index LIMIT $${params.length}`,
      params,
    );
    return rows.map(entryOf);
  }

  /**
   * The first index an entry that occurred at `from` or later can have: the size of the
   * last checkpoint signed before `from` less the slack (log-rules TIME_FILTER_SLACK_MS),
   * found by one probe of the checkpoints' time index; 0 when none was signed before.
   */
  async startIndexFor(from: Date): Promise<number> {
    const { rows } = await this.db.query<{ tree_size: string }>(
      `SELECT tree_size FROM audit_checkpoints WHERE created_at <= $1
        ORDER BY created_at DESC LIMIT 1`,
      [ingestedNoEarlierThan(from)],
    );
    return Number(rows[0]?.tree_size ?? 0);
  }

  async logSize(): Promise<number> {
    const { rows } = await this.db.query<{ tree_size: string }>(
      'SELECT tree_size FROM audit_log_head',
    );
    return Number(rows[0]?.tree_size ?? 0);
  }

  /**
   * An `audit.queried` event: the auditor, the read, its filters and how many entries
   * (or alerts) it returned; never the entries.
   */
  async recordQuery(auditor: StaffReader, read: AuditorRead): Promise<void> {
    const actor = eventActor('STAFF', auditor.staffId, '');
    const filter = read.kind === 'ListAlerts' ? undefined : read.filter;
    await enqueueEvent(
      this.db,
      buildEvent(EVENTS.auditQueried, {
        actor,
        subject: filter?.subjectRef
          ? { kind: SubjectKind.SUBJECT_KIND_BENEFICIARY, ref: filter.subjectRef }
          : { kind: SubjectKind.SUBJECT_KIND_SYSTEM, ref: '' },
        payload: {
          actorId: filter?.actorId ?? '',
          subjectRef: filter?.subjectRef ?? '',
          eventType: filter?.eventType ?? '',
          from: filter?.from,
          to: filter?.to,
          entriesReturned: read.kind === 'ExportEntries' ? 0 : read.returned,
          query: read.kind === 'ExportEnded' ? 'ExportEntries' : read.kind,
          ended: read.kind === 'ExportEnded' ? read.ended : '',
          unacknowledgedOnly: read.kind === 'ListAlerts' && read.unacknowledgedOnly,
        },
        occurredAt: this.clock(),
      }),
    );
  }
}
