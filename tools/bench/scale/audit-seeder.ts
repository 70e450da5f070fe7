// The audit log in bulk, through the audit service's own code: events built from the
// catalogue, encoded and decoded as Kafka carries them, made into records as ingestion
// makes them (auditRecordOf), appended by the service's LogWriter to its store with
// what ingestion records beside them (recordDirectory: the citizens' beneficiaries),
// whatever that store keeps (entries, tree nodes or tiles, checkpoints signed with the
// log's key every AUDIT_CHECKPOINT_EVERY_ENTRIES): a real Merkle tree, which the service,
// started again on it, extends, proves and verifies as its own.
import { randomUUID } from 'node:crypto';
import { withTransaction, type Pool } from '@vaxguard/db';
import {
  ActorKind,
  buildEvent,
  decodeEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
  type DecodedEvent,
  type OutgoingEvent,
} from '@vaxguard/event-catalogue';
import { identityV1 } from '@vaxguard/proto';
import { auditRecordOf } from '../../../services/audit/src/adapters/log-ingestion';
import { recordDirectory } from '../../../services/audit/src/adapters/pg-directory';
import { PgLogStore, PgLogTransaction } from '../../../services/audit/src/adapters/pg-log-store';
import { runPartitionMaintenance } from '../../../services/audit/src/adapters/pg-partitions';
import { readConfig } from '../../../services/audit/src/config';
import { ENTRIES_PER_PARTITION } from '../../../services/audit/src/domain/log-rules';
import { LogWriter } from '../../../services/audit/src/domain/log-writer';
import type { AuditRecord } from '../../../services/audit/src/domain/model';
import { AUDIT_ENTRIES_PER_BENEFICIARY, type Population } from './population';

/** Staff members the seeded reads are spread over (a filter by actor finds 1/STAFF of them). */
export const SEEDED_STAFF = 500;
export const seededStaffId = (n: number) => `stf_seed${String(n % SEEDED_STAFF).padStart(4, '0')}`;
/** The national peak of the issue: 300 million entries a day, one every 0.29 ms. */
export const NATIONAL_ENTRIES_PER_DAY = 300_000_000;
const ENTRY_SPACING_MS = 86_400_000 / NATIONAL_ENTRIES_PER_DAY;

export interface AuditSeederOptions {
  readonly population: Population;
  /** audit's own environment, as the platform started it (its signer key, its policy). */
  readonly environment: Record<string, string>;
  readonly pool: Pool;
  /** Beneficiary `n`'s mobile index, as identity stores it (its registration names it). */
  readonly mobileIndex: (n: number) => string;
  readonly centreId: string;
}

export class AuditSeeder {
  private readonly writer: LogWriter;
  private readonly store: PgLogStore;
  // Entry k of a step is dated stepEndsAt - (stepEnd - k) spacings (never before the
  // entry before it); the writer's clock reads the time of the newest entry appended, so
  // checkpoints are dated as the service would have dated them.
  private step = { end: 0, endsAt: 0 };
  private lastAt = 0;

  constructor(private readonly options: AuditSeederOptions) {
    const config = readConfig(options.environment);
    this.store = new PgLogStore(options.pool);
    this.writer = new LogWriter({
      origin: config.logOrigin,
      signer: config.logSigner,
      policy: {
        everyEntries: config.checkpointEveryEntries,
        intervalMs: config.checkpointIntervalMs,
      },
      clock: () => new Date(this.lastAt),
      // The service is stopped while its log is seeded; it checks, when it starts again,
      // that the tree it finds extends the checkpoint it kept, as after any restart.
      guard: { maySign: async () => true, halt: undefined },
    });
  }

  /**
   * Starts a step that takes the log to `end` entries: they are dated at the national
   * rate, the last a second before now (or after the log's newest entry, if later).
   */
  beginStep(end: number): void {
    this.step = { end, endsAt: Date.now() - 1_000 };
  }

  /** The log's size now. */
  async size(): Promise<number> {
    return (await this.store.head()).size;
  }

  /** Appends entries `from` to `to` - 1 (one transaction); resolves once stored. */
  async append(from: number, to: number): Promise<void> {
    // The partitions ahead of the newest entry, made as the service's maintenance makes
    // them (every minute there; here each time the log enters another partition).
    if (
      from === 0 ||
      Math.floor(from / ENTRIES_PER_PARTITION) !== Math.floor(to / ENTRIES_PER_PARTITION)
    ) {
      await runPartitionMaintenance(this.options.pool);
    }
    const seeded: { record: AuditRecord; event: DecodedEvent }[] = [];
    for (let k = from; k < to; k++) seeded.push(this.record(k));
    // As the log's ingestion does for a Kafka batch: the entries, then what they announce
    // (the directory, the beneficiaries on each citizen's mobile), in one transaction.
    await withTransaction(this.options.pool, async (client) => {
      await this.writer.append(
        new PgLogTransaction(client),
        seeded.map(({ record }) => record),
      );
      await recordDirectory(
        client,
        seeded.map(({ event }) => event),
      );
    });
  }

  /** Entry `k`: beneficiary k / 4's registration, a consent request, a read, a dose's. */
  private record(k: number): { record: AuditRecord; event: DecodedEvent } {
    const n = Math.floor(k / AUDIT_ENTRIES_PER_BENEFICIARY);
    const ref = this.options.population.ref(n);
    this.lastAt = Math.max(
      this.lastAt + ENTRY_SPACING_MS,
      this.step.endsAt - (this.step.end - k) * ENTRY_SPACING_MS,
    );
    const ingestedAt = new Date(this.lastAt);
    const occurredAt = new Date(ingestedAt.getTime() - 50);
    const subject = { kind: SubjectKind.SUBJECT_KIND_BENEFICIARY, ref };
    const staff = {
      kind: ActorKind.ACTOR_KIND_STAFF,
      principalId: seededStaffId(n),
      clientId: 'vaccinator-app',
    };
    const grantId = `grant-${n}`;
    let event: OutgoingEvent;
    switch (k % AUDIT_ENTRIES_PER_BENEFICIARY) {
      case 0: {
        const mobileIndex = this.options.mobileIndex(n);
        event = buildEvent(EVENTS.beneficiaryRegistered, {
          actor: {
            kind: ActorKind.ACTOR_KIND_CITIZEN,
            principalId: mobileIndex,
            clientId: 'citizen-app',
          },
          subject,
          payload: { mobileIndex, photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR },
          occurredAt,
        });
        break;
      }
      case 1:
        event = buildEvent(EVENTS.consentRequested, {
          actor: staff,
          subject,
          payload: { txnId: randomUUID(), beneficiaryCount: 4, refusal: '' },
          occurredAt,
        });
        break;
      case 2:
        event = buildEvent(EVENTS.accessGranted, {
          actor: staff,
          subject,
          payload: {
            method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
            basis: 'CONSENT',
            grantId,
          },
          occurredAt,
        });
        break;
      default:
        event = buildEvent(EVENTS.recordAccessed, {
          actor: staff,
          subject,
          payload: {
            method: '/vaxguard.vaccination_record.v1.VaccinationRecordService/RecordDose',
            role: 'VACCINATOR',
            centreOrPartner: this.options.centreId,
            purpose: 'RECORD_DOSE',
            grantId,
          },
          occurredAt,
        });
    }
    const decoded = decodeEvent(encodeEnvelope(event.envelope));
    if (!decoded.ok) throw new Error(`a seeded ${event.envelope.type} event does not decode`);
    return {
      record: auditRecordOf(
        decoded.event,
        { topic: event.topic, partition: 0, offset: String(k) },
        ingestedAt,
      ),
      event: decoded.event,
    };
  }
}
