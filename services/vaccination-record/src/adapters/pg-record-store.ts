import {
  DeferredWrites,
  withTransaction,
  type Pool,
  type Queryable,
  type Statement,
} from '@vaxguard/db';
import { outboxInsert } from '@vaxguard/events';
import type { Logger } from '@vaxguard/logging';
import type { HoldCause } from '../domain/record-rules';
import type {
  CertificateHold,
  CertificateRecord,
  DoseCorrection,
  HoldLift,
  KnownBeneficiary,
  RecordEvent,
  DoseReads,
  DoseSeries,
  RecordStore,
  RecordUnitOfWork,
  StoredDose,
  TransactionLocks,
} from '../domain/model';
import type { VaccineCode } from '../domain/vaccines';
import { DoseBatcher, type DoseReadsQuery, type HeldWrites } from './dose-batcher';
import { toOutgoingEvent } from './record-events';

interface DoseRow {
  dose_id: string;
  beneficiary_ref: string;
  client_request_id: string;
  vaccine_code: VaccineCode;
  dose_number: number;
  series: DoseSeries;
  batch_number: string;
  administered_on: string;
  centre_id: string;
  vaccinator_id: string;
  birth_year: number;
  recorded_at: Date;
  version: number;
}

const DOSE_COLUMNS = `dose_id, beneficiary_ref, client_request_id, vaccine_code, dose_number, series,
  batch_number, administered_on, centre_id, vaccinator_id, birth_year, recorded_at, version`;

function doseOf(row: DoseRow): StoredDose {
  return {
    doseId: row.dose_id,
    beneficiaryRef: row.beneficiary_ref,
    clientRequestId: row.client_request_id,
    vaccineCode: row.vaccine_code,
    doseNumber: row.dose_number,
    series: row.series,
    batchNumber: row.batch_number,
    administeredOn: row.administered_on,
    centreId: row.centre_id,
    vaccinatorRef: row.vaccinator_id,
    birthYear: row.birth_year,
    recordedAt: row.recorded_at,
    version: row.version,
  };
}

interface CertificateRow {
  certificate_id: string;
  beneficiary_ref: string;
  kid: string;
  rid: string;
  issued_at: Date;
  revoked_at: Date | null;
}

function certificateOf(row: CertificateRow): CertificateRecord {
  return {
    certificateId: row.certificate_id,
    beneficiaryRef: row.beneficiary_ref,
    kid: row.kid,
    rid: row.rid,
    issuedAt: row.issued_at,
    revokedAt: row.revoked_at ?? undefined,
  };
}

const CERTIFICATE_COLUMNS = 'certificate_id, beneficiary_ref, kid, rid, issued_at, revoked_at';

// Advisory-lock namespaces: one beneficiary's doses, one request id, one staff member's quota.
const LOCK_PREFIX = 'vaxguard/vaccination-record/';
const LOCK = {
  beneficiary: `${LOCK_PREFIX}beneficiary:`,
  request: `${LOCK_PREFIX}request:`,
  quota: `${LOCK_PREFIX}quota:`,
};

/** A dose row as json_build_object gives it: the timestamp as text. */
type DoseJson = Omit<DoseRow, 'recorded_at'> & { recorded_at: string };

function doseOfJson(json: DoseJson): StoredDose {
  return doseOf({ ...json, recorded_at: new Date(json.recorded_at) });
}

const DOSE_JSON = `json_build_object(${DOSE_COLUMNS.split(',')
  .map((column) => `'${column.trim()}', d.${column.trim()}`)
  .join(', ')})`;

// RecordDose's reads in one statement, after its locks (so its snapshot is taken once
// they are held), for one dose or for every dose of a batch: for each, the earlier dose
// under the request id with its first version, the quota, the beneficiary's doses, and
// what identity said of the beneficiary.
const DOSE_READS = `SELECT
  (SELECT json_build_object('current', ${DOSE_JSON}, 'original',
          (SELECT json_build_object('vaccine_code', v.vaccine_code, 'batch_number', v.batch_number,
                                    'administered_on', v.administered_on)
           FROM dose_versions v WHERE v.dose_id = d.dose_id AND v.version = 0))
   FROM doses d WHERE d.client_request_id = q.request_id) AS earlier,
  (SELECT count(*)::int FROM staff_quota s
   WHERE s.staff_id = q.staff_id AND s.window_start = q.window_start) AS distinct_count,
  EXISTS (SELECT 1 FROM staff_quota s
          WHERE s.staff_id = q.staff_id AND s.window_start = q.window_start
            AND s.beneficiary_ref = q.beneficiary_ref) AS counted,
  (SELECT coalesce(json_agg(${DOSE_JSON} ORDER BY d.dose_number), '[]'::json)
   FROM doses d WHERE d.beneficiary_ref = q.beneficiary_ref) AS history,
  (SELECT json_build_object('birth_year', f.birth_year, 'learned_at', f.learned_at)
   FROM beneficiary_facts f WHERE f.beneficiary_ref = q.beneficiary_ref) AS known
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) WITH ORDINALITY
  AS q(request_id, staff_id, window_start, beneficiary_ref, n)
ORDER BY q.n`;

/** Every dose's reads of a batch (or a dose alone), in one round trip, in order. */
async function readDoses(db: Queryable, queries: readonly DoseReadsQuery[]): Promise<DoseReads[]> {
  const { rows } = await db.query<DoseReadsRow>({
    name: 'vaccination-record-dose-reads',
    text: DOSE_READS,
    values: [
      queries.map((query) => query.clientRequestId),
      queries.map((query) => query.staffId),
      queries.map((query) => query.windowStart),
      queries.map((query) => query.beneficiaryRef),
    ],
  });
  return rows.map((row, i) => dosesReadOf(row, queries[i] as DoseReadsQuery));
}

function dosesReadOf(row: DoseReadsRow, query: DoseReadsQuery): DoseReads {
  const current = row.earlier ? doseOfJson(row.earlier.current) : undefined;
  return {
    ...(current && row.earlier
      ? { earlier: { current, original: originalOf(current, row.earlier.original) } }
      : {}),
    quota: { alreadyCounted: row.counted, distinct: row.distinct_count },
    history: row.history.map(doseOfJson),
    ...(row.known
      ? {
          known: {
            beneficiaryRef: query.beneficiaryRef,
            birthYear: row.known.birth_year,
            learnedAt: new Date(row.known.learned_at),
          },
        }
      : {}),
  };
}

interface DoseReadsRow {
  earlier: {
    current: DoseJson;
    original: Pick<DoseRow, 'vaccine_code' | 'batch_number' | 'administered_on'> | null;
  } | null;
  distinct_count: number;
  counted: boolean;
  history: DoseJson[];
  known: { birth_year: number; learned_at: string } | null;
}

/** The dose as its request first came: version 0's fields over the current dose. */
function originalOf(
  current: StoredDose,
  first: Pick<DoseRow, 'vaccine_code' | 'batch_number' | 'administered_on'> | null,
): StoredDose {
  return first
    ? {
        ...current,
        vaccineCode: first.vaccine_code,
        batchNumber: first.batch_number,
        administeredOn: first.administered_on,
        version: 0,
      }
    : current;
}

/**
 * Doses, certificates, revocations and the staff quota in PostgreSQL; events through the
 * outbox. A transaction's inserts and updates wait in its unit of work and go to the
 * database together, as one statement, before its next read or its commit.
 */
export class PgRecordStore implements RecordStore {
  private readonly batcher: DoseBatcher;

  constructor(
    private readonly pool: Pool,
    logger?: Logger,
  ) {
    this.batcher = new DoseBatcher({
      pool,
      lockName: (key) => LOCK_PREFIX + key,
      reads: readDoses,
      unitOfWork: (client, writes, reads) => new PgUnitOfWork(client, writes, reads),
      single: (work, locks) => this.transaction(work, locks),
      ...(logger ? { logger } : {}),
    });
  }

  transaction<T>(
    work: (uow: RecordUnitOfWork) => Promise<T>,
    locks: TransactionLocks = {},
  ): Promise<T> {
    const writes = new DeferredWrites();
    return withTransaction(this.pool, (client) => work(new PgUnitOfWork(client, writes)), {
      advisoryLocks: [
        ...(locks.request === undefined ? [] : [LOCK.request + locks.request]),
        ...(locks.quotaOf === undefined ? [] : [LOCK.quota + locks.quotaOf]),
        ...(locks.beneficiary === undefined ? [] : [LOCK.beneficiary + locks.beneficiary]),
      ],
      beforeCommit: (client) => writes.flush(client),
    });
  }

  doseTransaction<T>(
    work: (uow: RecordUnitOfWork) => Promise<T>,
    locks: TransactionLocks,
  ): Promise<T> {
    return this.batcher.submit(work, locks);
  }
}

class PgUnitOfWork implements RecordUnitOfWork {
  /**
   * @param writes where its inserts and updates wait: flushed before each read here, or,
   *   for a dose of a batch, held for the batch to write with its neighbours'
   * @param sharedReads for a dose of a batch: its reads, made with the batch's
   */
  constructor(
    private readonly client: Queryable,
    private readonly writes: DeferredWrites | HeldWrites,
    private readonly sharedReads?: (query: DoseReadsQuery) => Promise<DoseReads>,
  ) {}

  /** For reads: the writes held so far go first, so the transaction sees its own. */
  private readonly tx: Queryable = {
    query: (async (...args: Parameters<Queryable['query']>) => {
      if (this.sharedReads) throw new Error('a dose in a batch reads only through doseReads');
      if (this.writes instanceof DeferredWrites) await this.writes.flush(this.client);
      return (this.client.query as (...a: unknown[]) => unknown)(...args);
    }) as Queryable['query'],
  };

  private write(statement: Statement): Promise<void> {
    this.writes.add(statement);
    return Promise.resolve();
  }

  private async lock(key: string): Promise<void> {
    await this.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
  }

  async doseReads(query: DoseReadsQuery): Promise<DoseReads> {
    if (this.sharedReads) return this.sharedReads(query);
    const [reads] = await readDoses(this.tx, [query]);
    return reads as DoseReads;
  }

  lockBeneficiary(beneficiaryRef: string): Promise<void> {
    return this.lock(LOCK.beneficiary + beneficiaryRef);
  }

  async dosesOf(beneficiaryRef: string): Promise<StoredDose[]> {
    const { rows } = await this.tx.query<DoseRow>(
      `SELECT ${DOSE_COLUMNS} FROM doses WHERE beneficiary_ref = $1 ORDER BY dose_number`,
      [beneficiaryRef],
    );
    return rows.map(doseOf);
  }

  rememberBeneficiary(known: KnownBeneficiary): Promise<void> {
    return this.write({
      text: `INSERT INTO beneficiary_facts (beneficiary_ref, birth_year, learned_at)
       VALUES ($1, $2, $3)
       ON CONFLICT (beneficiary_ref) DO UPDATE
         SET birth_year = excluded.birth_year, learned_at = excluded.learned_at`,
      values: [known.beneficiaryRef, known.birthYear, known.learnedAt],
    });
  }

  async insertDose(dose: StoredDose): Promise<void> {
    await this.write({
      text: `INSERT INTO doses (${DOSE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      values: [
        dose.doseId,
        dose.beneficiaryRef,
        dose.clientRequestId,
        dose.vaccineCode,
        dose.doseNumber,
        dose.series,
        dose.batchNumber,
        dose.administeredOn,
        dose.centreId,
        dose.vaccinatorRef,
        dose.birthYear,
        dose.recordedAt,
        dose.version,
      ],
    });
    await this.insertVersion(dose, undefined, dose.recordedAt);
  }

  private async insertVersion(
    dose: StoredDose,
    correction: Omit<DoseCorrection, 'correctedAt'> | undefined,
    at: Date,
  ): Promise<void> {
    await this.write({
      text: `INSERT INTO dose_versions (dose_id, version, vaccine_code, batch_number, administered_on,
         corrected_by, reason, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      values: [
        dose.doseId,
        dose.version,
        dose.vaccineCode,
        dose.batchNumber,
        dose.administeredOn,
        correction?.correctedBy ?? null,
        correction?.reason ?? null,
        at,
      ],
    });
  }

  async findDose(doseId: string): Promise<StoredDose | undefined> {
    const { rows } = await this.tx.query<DoseRow>(
      `SELECT ${DOSE_COLUMNS} FROM doses WHERE dose_id = $1 FOR UPDATE`,
      [doseId],
    );
    return rows[0] ? doseOf(rows[0]) : undefined;
  }

  async saveCorrection(dose: StoredDose, correction: DoseCorrection): Promise<void> {
    await this.tx.query(
      `UPDATE doses SET vaccine_code = $2, batch_number = $3, administered_on = $4, series = $5,
         version = $6 WHERE dose_id = $1`,
      [
        dose.doseId,
        dose.vaccineCode,
        dose.batchNumber,
        dose.administeredOn,
        dose.series,
        dose.version,
      ],
    );
    await this.insertVersion(dose, correction, correction.correctedAt);
  }

  async liveCertificate(beneficiaryRef: string): Promise<CertificateRecord | undefined> {
    const { rows } = await this.tx.query<CertificateRow>(
      `SELECT ${CERTIFICATE_COLUMNS} FROM certificates
       WHERE beneficiary_ref = $1 AND revoked_at IS NULL`,
      [beneficiaryRef],
    );
    return rows[0] ? certificateOf(rows[0]) : undefined;
  }

  async insertCertificate(certificate: CertificateRecord): Promise<void> {
    await this.tx.query(
      `INSERT INTO certificates (certificate_id, beneficiary_ref, kid, rid, issued_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        certificate.certificateId,
        certificate.beneficiaryRef,
        certificate.kid,
        certificate.rid,
        certificate.issuedAt,
      ],
    );
  }

  async findCertificate(certificateId: string): Promise<CertificateRecord | undefined> {
    const { rows } = await this.tx.query<CertificateRow>(
      `SELECT ${CERTIFICATE_COLUMNS} FROM certificates WHERE certificate_id = $1`,
      [certificateId],
    );
    return rows[0] ? certificateOf(rows[0]) : undefined;
  }

  async revokeCertificate(certificate: CertificateRecord, at: Date, reason: string) {
    await this.tx.query(
      `UPDATE certificates SET revoked_at = $2, revocation_reason = $3 WHERE certificate_id = $1`,
      [certificate.certificateId, at, reason],
    );
    // The key's counter first: its row lock, held to the commit, puts one key's
    // revocations in version order, and the rid carries the version that listed it, so
    // readers append by version (PgIssuerKeyring.publishedSince).
    const { rows } = await this.tx.query<{ crl_version: number }>(
      `WITH bumped AS (
         UPDATE issuer_keys SET crl_version = crl_version + 1 WHERE kid = $1
         RETURNING crl_version),
       listed AS (
         INSERT INTO revoked_rids (kid, rid, revoked_at, crl_version)
         SELECT $1, $2, $3, crl_version FROM bumped
         ON CONFLICT DO NOTHING)
       SELECT crl_version FROM bumped`,
      [certificate.kid, certificate.rid, at],
    );
    return rows[0]?.crl_version ?? 0;
  }

  async crlVersion(kid: string): Promise<number> {
    const { rows } = await this.tx.query<{ crl_version: number }>(
      'SELECT crl_version FROM issuer_keys WHERE kid = $1',
      [kid],
    );
    return rows[0]?.crl_version ?? 0;
  }

  async activeHold(beneficiaryRef: string): Promise<CertificateHold | undefined> {
    const { rows } = await this.tx.query<{
      certificate_id: string;
      cause: HoldCause;
      placed_by: string;
      placed_at: Date;
    }>(
      `SELECT certificate_id, cause, placed_by, placed_at FROM certificate_holds
       WHERE beneficiary_ref = $1 AND lifted_at IS NULL`,
      [beneficiaryRef],
    );
    const row = rows[0];
    return row
      ? {
          beneficiaryRef,
          certificateId: row.certificate_id,
          cause: row.cause,
          placedBy: row.placed_by,
          placedAt: row.placed_at,
        }
      : undefined;
  }

  placeHold(hold: CertificateHold, reason: string): Promise<void> {
    return this.write({
      text: `INSERT INTO certificate_holds (beneficiary_ref, certificate_id, cause, reason, placed_by, placed_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (beneficiary_ref) WHERE lifted_at IS NULL DO UPDATE SET
         certificate_id = excluded.certificate_id, cause = excluded.cause, reason = excluded.reason,
         placed_by = excluded.placed_by, placed_at = excluded.placed_at`,
      values: [
        hold.beneficiaryRef,
        hold.certificateId,
        hold.cause,
        reason,
        hold.placedBy,
        hold.placedAt,
      ],
    });
  }

  liftHold(beneficiaryRef: string, lift: HoldLift): Promise<void> {
    return this.write({
      text: `UPDATE certificate_holds SET lifted_at = $2, lifted_by = $3, lifted_how = $4,
         lift_reason = $5, lift_dose_id = $6
       WHERE beneficiary_ref = $1 AND lifted_at IS NULL`,
      values: [
        beneficiaryRef,
        lift.at,
        lift.staffId,
        lift.liftedBy,
        lift.reason,
        lift.doseId ?? null,
      ],
    });
  }

  async quotaUsage(staffId: string, windowStart: Date, beneficiaryRef: string) {
    await this.lock(LOCK.quota + staffId);
    const { rows } = await this.tx.query<{ distinct_count: number; counted: boolean }>(
      `SELECT count(*)::int AS distinct_count, bool_or(beneficiary_ref = $3) AS counted
       FROM staff_quota WHERE staff_id = $1 AND window_start = $2`,
      [staffId, windowStart, beneficiaryRef],
    );
    return {
      alreadyCounted: rows[0]?.counted === true,
      distinct: rows[0]?.distinct_count ?? 0,
    };
  }

  countInQuota(staffId: string, windowStart: Date, beneficiaryRef: string): Promise<void> {
    return this.write({
      text: `INSERT INTO staff_quota (staff_id, window_start, beneficiary_ref) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      values: [staffId, windowStart, beneficiaryRef],
    });
  }

  publish(event: RecordEvent): Promise<void> {
    return this.write(outboxInsert(toOutgoingEvent(event)));
  }
}
