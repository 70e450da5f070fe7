// Vaccination-record's rows in bulk, as its own code makes them: dose and certificate ids
// from its record rules, the primary series of its vaccine catalogue (two doses of
// Covishield at the shortest interval the schedule allows), certificates whose rids are
// derived as the service derives them (@vaxguard/health-cards under the rid secret from
// the service's key-encryption key), one in REVOKED_EVERY revoked onto its key's list,
// and the beneficiary facts a dose reads instead of asking identity.
import { hkdfSync } from 'node:crypto';
import { deriveRid } from '@vaxguard/health-cards';
import { RID_SECRET_CONTEXT } from '../../../services/vaccination-record/src/app';
import { readConfig } from '../../../services/vaccination-record/src/config';
import {
  newCertificateId,
  newDoseId,
} from '../../../services/vaccination-record/src/domain/record-rules';
import {
  addDays,
  indianDateOf,
  seriesOf,
} from '../../../services/vaccination-record/src/domain/schedule-rules';
import { COVISHIELD_SECOND_DOSE } from '../../../services/vaccination-record/src/domain/vaccines';
import type pg from 'pg';
import { copyRows, type CopyBatch, type CopyValue } from './copy';
import type { Population } from './population';

const VACCINE = 'COVISHIELD';
const FIRST_DOSE_DAYS_AGO = 200;

/** Who recorded the seeded doses, and the issuer key their certificates are under. */
export interface RecordsContext {
  readonly centreId: string;
  readonly vaccinatorId: string;
  readonly kid: string;
}

export class RecordsSeeder {
  private readonly ridSecret: Buffer;

  /** `environment`: vaccination-record's own, as the platform started it. */
  constructor(
    private readonly population: Population,
    environment: Record<string, string>,
    private readonly context: RecordsContext,
  ) {
    const config = readConfig(environment);
    this.ridSecret = Buffer.from(
      hkdfSync('sha256', config.issuerKeyEncryptionKey, Buffer.alloc(0), RID_SECRET_CONTEXT, 32),
    );
  }

  /**
   * Copies the rows of beneficiaries `from` to `to` - 1 on `client`, inside its
   * transaction; the number of rows copied. The revoked rids take the next versions of
   * their key's list, its counter moved first, as a revocation does (pg-record-store).
   */
  async seed(client: pg.PoolClient, from: number, to: number, now: Date): Promise<number> {
    const { batches, revoked } = this.rows(from, to, now);
    let copied = 0;
    for (const batch of batches) copied += await copyRows(client, batch);
    if (revoked.length === 0) return copied;
    const { rows } = await client.query<{ crl_version: number }>(
      'UPDATE issuer_keys SET crl_version = crl_version + $2 WHERE kid = $1 RETURNING crl_version',
      [this.context.kid, revoked.length],
    );
    const last = rows[0]?.crl_version;
    if (last === undefined) throw new Error(`no issuer key ${this.context.kid}`);
    const first = last - revoked.length + 1;
    return (
      copied +
      (await copyRows(client, {
        table: 'revoked_rids',
        columns: ['kid', 'rid', 'revoked_at', 'crl_version'],
        rows: revoked.map(([kid, rid, at], i) => [kid, rid, at, first + i]),
      }))
    );
  }

  /** The rows of beneficiaries `from` to `to` - 1, each table's in the order to copy them. */
  private rows(
    from: number,
    to: number,
    now: Date,
  ): { batches: CopyBatch[]; revoked: [string, string, Date][] } {
    const facts: CopyValue[][] = [];
    const doses: CopyValue[][] = [];
    const versions: CopyValue[][] = [];
    const certificates: CopyValue[][] = [];
    const revoked: [string, string, Date][] = [];
    const { centreId, vaccinatorId, kid } = this.context;
    const firstOn = addDays(indianDateOf(now), -FIRST_DOSE_DAYS_AGO);
    const secondOn = addDays(firstOn, COVISHIELD_SECOND_DOSE.minDays);
    for (let n = from; n < to; n++) {
      const ref = this.population.ref(n);
      const birthYear = this.population.yearOfBirth(n);
      facts.push([ref, birthYear, now]);
      if (!this.population.vaccinated(n)) continue;
      for (const [doseNumber, on] of [
        [1, firstOn],
        [2, secondOn],
      ] as const) {
        const doseId = newDoseId();
        const recordedAt = new Date(`${on}T06:00:00Z`);
        doses.push([
          doseId,
          ref,
          `seed-${n}-${doseNumber}`,
          VACCINE,
          doseNumber,
          seriesOf(doseNumber),
          'SEED0001',
          on,
          centreId,
          vaccinatorId,
          birthYear,
          recordedAt,
          0,
        ]);
        versions.push([doseId, 0, VACCINE, 'SEED0001', on, null, null, recordedAt]);
      }
      const certificateId = newCertificateId();
      const rid = deriveRid({ secret: this.ridSecret, kid, internalId: certificateId });
      const revokedAt = this.population.revoked(n) ? now : null;
      certificates.push([
        certificateId,
        ref,
        kid,
        rid,
        new Date(`${secondOn}T06:00:00Z`),
        revokedAt,
        revokedAt ? 'LEAKED' : null,
      ]);
      if (revokedAt) revoked.push([kid, rid, revokedAt]);
    }
    const batches: CopyBatch[] = [
      {
        table: 'beneficiary_facts',
        columns: ['beneficiary_ref', 'birth_year', 'learned_at'],
        rows: facts,
      },
      {
        table: 'doses',
        columns: [
          'dose_id',
          'beneficiary_ref',
          'client_request_id',
          'vaccine_code',
          'dose_number',
          'series',
          'batch_number',
          'administered_on',
          'centre_id',
          'vaccinator_id',
          'birth_year',
          'recorded_at',
          'version',
        ],
        rows: doses,
      },
      {
        table: 'dose_versions',
        columns: [
          'dose_id',
          'version',
          'vaccine_code',
          'batch_number',
          'administered_on',
          'corrected_by',
          'reason',
          'created_at',
        ],
        rows: versions,
      },
      {
        table: 'certificates',
        columns: [
          'certificate_id',
          'beneficiary_ref',
          'kid',
          'rid',
          'issued_at',
          'revoked_at',
          'revocation_reason',
        ],
        rows: certificates,
      },
    ];
    return { batches, revoked };
  }
}
