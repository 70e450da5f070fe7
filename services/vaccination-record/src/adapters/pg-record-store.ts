import { withTransaction, type Pool, type Queryable } from '@vaxguard/db';
import { enqueueEvent } from '@vaxguard/events';
import type { DoseSeries } from '../domain/model';
import type {
  CertificateRecord,
  DoseCorrection,
  RecordEvent,
  RecordStore,
  RecordUnitOfWork,
  StoredDose,
} from '../domain/record-service';
import type { VaccineCode } from '../domain/vaccines';
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
const LOCK = {
  beneficiary: 'vaxguard/vaccination-record/beneficiary:',
  request: 'vaxguard/vaccination-record/request:',
  quota: 'vaxguard/vaccination-record/quota:',
};

/** Doses, certificates, revocations and the staff quota in PostgreSQL; events through the outbox. */
export class PgRecordStore implements RecordStore {
  constructor(private readonly pool: Pool) {}

  transaction<T>(work: (uow: RecordUnitOfWork) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, (client) => work(new PgUnitOfWork(client)));
  }
}

class PgUnitOfWork implements RecordUnitOfWork {
  constructor(private readonly tx: Queryable) {}

  private async lock(key: string): Promise<void> {
    await this.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
  }

  lockBeneficiary(beneficiaryRef: string): Promise<void> {
    return this.lock(LOCK.beneficiary + beneficiaryRef);
  }

  lockRequest(clientRequestId: string): Promise<void> {
    return this.lock(LOCK.request + clientRequestId);
  }

  async findByRequest(clientRequestId: string) {
    const { rows } = await this.tx.query<DoseRow>(
      `SELECT ${DOSE_COLUMNS} FROM doses WHERE client_request_id = $1`,
      [clientRequestId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const current = doseOf(row);
    const { rows: versions } = await this.tx.query<{
      vaccine_code: VaccineCode;
      batch_number: string;
      administered_on: string;
    }>(
      `SELECT vaccine_code, batch_number, administered_on FROM dose_versions
       WHERE dose_id = $1 AND version = 0`,
      [current.doseId],
    );
    const first = versions[0];
    const original: StoredDose = first
      ? {
          ...current,
          vaccineCode: first.vaccine_code,
          batchNumber: first.batch_number,
          administeredOn: first.administered_on,
          version: 0,
        }
      : current;
    return { current, original };
  }

  async dosesOf(beneficiaryRef: string): Promise<StoredDose[]> {
    const { rows } = await this.tx.query<DoseRow>(
      `SELECT ${DOSE_COLUMNS} FROM doses WHERE beneficiary_ref = $1 ORDER BY dose_number`,
      [beneficiaryRef],
    );
    return rows.map(doseOf);
  }

  async insertDose(dose: StoredDose): Promise<void> {
    await this.tx.query(
      `INSERT INTO doses (${DOSE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
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
    );
    await this.insertVersion(dose, undefined, dose.recordedAt);
  }

  private async insertVersion(
    dose: StoredDose,
    correction: Omit<DoseCorrection, 'correctedAt'> | undefined,
    at: Date,
  ): Promise<void> {
    await this.tx.query(
      `INSERT INTO dose_versions (dose_id, version, vaccine_code, batch_number, administered_on,
         corrected_by, reason, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        dose.doseId,
        dose.version,
        dose.vaccineCode,
        dose.batchNumber,
        dose.administeredOn,
        correction?.correctedBy ?? null,
        correction?.reason ?? null,
        at,
      ],
    );
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
      `SELECT ${CERTIFICATE_COLUMNS} FROM certificates WHERE certificate_id = $1 FOR UPDATE`,
      [certificateId],
    );
    return rows[0] ? certificateOf(rows[0]) : undefined;
  }

  async revokeCertificate(certificate: CertificateRecord, at: Date, reason: string) {
    await this.tx.query(
      `UPDATE certificates SET revoked_at = $2, revocation_reason = $3 WHERE certificate_id = $1`,
      [certificate.certificateId, at, reason],
    );
    await this.tx.query(
      `INSERT INTO revoked_rids (kid, rid, revoked_at) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      [certificate.kid, certificate.rid, at],
    );
    const { rows } = await this.tx.query<{ crl_version: number }>(
      `UPDATE issuer_keys SET crl_version = crl_version + 1 WHERE kid = $1 RETURNING crl_version`,
      [certificate.kid],
    );
    return rows[0]?.crl_version ?? 0;
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

  async countInQuota(staffId: string, windowStart: Date, beneficiaryRef: string): Promise<void> {
    await this.tx.query(
      `INSERT INTO staff_quota (staff_id, window_start, beneficiary_ref) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      [staffId, windowStart, beneficiaryRef],
    );
  }

  publish(event: RecordEvent): Promise<void> {
    return enqueueEvent(this.tx, toOutgoingEvent(event));
  }
}
