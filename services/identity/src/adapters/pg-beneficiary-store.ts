import { withTransaction, type Pool, type Queryable } from '@vaxguard/db';
import { enqueueEvent, OutboxBatcher } from '@vaxguard/events';
import { currentCallBudget, outsideAnyCall } from '@vaxguard/grpc-kit';
import type { OutgoingEvent } from '@vaxguard/event-catalogue';
import { parseMobile, type Mobile } from '@vaxguard/pii';
import type {
  BeneficiaryRecord,
  BeneficiaryStore,
  BeneficiaryUnitOfWork,
  IdentityEvent,
  NewBeneficiary,
} from '../domain/beneficiary-service';
import { SECRET_CODE_MAX_FAILURES, type ConsentSmsCounts } from '../domain/identity-rules';
import type { Vault } from '../domain/model';
import { toOutgoingEvent } from './identity-events';

interface BeneficiaryRow {
  beneficiary_ref: string;
  mobile_index: string;
  masked_mobile: string;
  name: string;
  gender: BeneficiaryRecord['gender'];
  year_of_birth: number;
  photo_id_kind: BeneficiaryRecord['photoIdKind'];
  masked_photo_id: string;
  canary: boolean;
}

const COLUMNS = `beneficiary_ref, mobile_index, masked_mobile, name, gender, year_of_birth,
  photo_id_kind, masked_photo_id, canary`;

// Registrations on one mobile take turns, so the 4-per-mobile rule holds across instances.
const MOBILE_LOCK_PREFIX = 'vaxguard/identity/mobile:';

/** Associated data binding a sealed value to its row and its meaning: records cannot be swapped. */
export const sealedMobileContext = (ref: string) => `beneficiary/${ref}/mobile`;
export const sealedPhotoIdContext = (ref: string) => `beneficiary/${ref}/photo-id`;

/**
 * Beneficiaries in PostgreSQL. Mobile and identity numbers are sealed by the vault
 * before they reach SQL; what is stored in clear is their blind index and their mask.
 */
export class PgBeneficiaryStore implements BeneficiaryStore {
  // Reads' access events, outside any transaction: concurrent reads share an insert, run
  // on behalf of none of them (one read's deadline or ending must not fail the others').
  private readonly accessEvents: OutboxBatcher;

  constructor(
    private readonly pool: Pool,
    private readonly vault: Vault,
  ) {
    this.accessEvents = new OutboxBatcher(pool, undefined, {
      outsideAnyCall,
      currentSignal: () => currentCallBudget()?.signal,
    });
  }

  transaction<T>(work: (uow: BeneficiaryUnitOfWork) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, (client) =>
      work(new PgUnitOfWork(client, this.vault, (event) => enqueueEvent(client, event))),
    );
  }

  autocommit<T>(work: (uow: BeneficiaryUnitOfWork) => Promise<T>): Promise<T> {
    return work(
      new PgUnitOfWork(this.pool, this.vault, (event) => this.accessEvents.enqueue(event)),
    );
  }
}

class PgUnitOfWork implements BeneficiaryUnitOfWork {
  constructor(
    private readonly tx: Queryable,
    private readonly vault: Vault,
    private readonly enqueue: (event: OutgoingEvent) => Promise<void>,
  ) {}

  async lockMobile(mobileIndex: string): Promise<void> {
    await this.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      MOBILE_LOCK_PREFIX + mobileIndex,
    ]);
  }

  async countOnMobile(mobileIndex: string): Promise<number> {
    const { rows } = await this.tx.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM beneficiaries WHERE mobile_index = $1',
      [mobileIndex],
    );
    return rows[0]?.n ?? 0;
  }

  async insert(beneficiary: NewBeneficiary): Promise<'inserted' | 'duplicate-document'> {
    const { rowCount } = await this.tx.query(
      `INSERT INTO beneficiaries (beneficiary_ref, mobile_index, mobile_sealed, masked_mobile, name,
         gender, year_of_birth, photo_id_kind, photo_id_index, photo_id_sealed, masked_photo_id,
         secret_code_hash, canary, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (photo_id_index) DO NOTHING`,
      [
        beneficiary.ref,
        beneficiary.mobileIndex,
        await this.vault.seal(
          Buffer.from(beneficiary.mobile, 'utf8'),
          sealedMobileContext(beneficiary.ref),
        ),
        beneficiary.maskedMobile,
        beneficiary.name,
        beneficiary.gender,
        beneficiary.yearOfBirth,
        beneficiary.photoIdKind,
        beneficiary.photoIdIndex,
        await this.vault.seal(
          Buffer.from(beneficiary.photoId.number, 'utf8'),
          sealedPhotoIdContext(beneficiary.ref),
        ),
        beneficiary.maskedPhotoId,
        beneficiary.secretCodeHash,
        beneficiary.canary,
        beneficiary.createdAt,
      ],
    );
    return rowCount === 1 ? 'inserted' : 'duplicate-document';
  }

  async listByMobile(mobileIndex: string): Promise<BeneficiaryRecord[]> {
    const { rows } = await this.tx.query<BeneficiaryRow>(
      `SELECT ${COLUMNS} FROM beneficiaries WHERE mobile_index = $1 ORDER BY created_at, beneficiary_ref`,
      [mobileIndex],
    );
    return rows.map(toRecord);
  }

  async find(ref: string): Promise<BeneficiaryRecord | undefined> {
    // Named: the hot read is parsed and planned once per connection.
    const { rows } = await this.tx.query<BeneficiaryRow>({
      name: 'identity-find-beneficiary',
      text: `SELECT ${COLUMNS} FROM beneficiaries WHERE beneficiary_ref = $1`,
      values: [ref],
    });
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async findForSecretCode(ref: string) {
    const { rows } = await this.tx.query<
      BeneficiaryRow & { secret_code_hash: Buffer; secret_code_failures: number }
    >(
      `SELECT ${COLUMNS}, secret_code_hash, secret_code_failures
         FROM beneficiaries WHERE beneficiary_ref = $1 FOR UPDATE`,
      [ref],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      ...toRecord(row),
      secretCodeHash: row.secret_code_hash,
      secretCodeFailures: row.secret_code_failures,
    };
  }

  async recordSecretCodeFailure(ref: string, at: Date): Promise<number> {
    const { rows } = await this.tx.query<{ failures: number }>(
      `UPDATE beneficiaries SET secret_code_failures = secret_code_failures + 1,
         secret_code_locked_at = CASE WHEN secret_code_failures + 1 >= $2::int THEN $3::timestamptz END
       WHERE beneficiary_ref = $1 RETURNING secret_code_failures AS failures`,
      [ref, SECRET_CODE_MAX_FAILURES, at],
    );
    return rows[0]?.failures ?? 0;
  }

  async countStaffConsentRequest(staffId: string, windowStart: Date): Promise<number> {
    // One row per staff member, reset when a new window starts: the table stays as
    // small as the staff list, and concurrent requests count on the row's lock.
    const { rows } = await this.tx.query<{ requests: number }>(
      `INSERT INTO staff_consent_requests (staff_id, window_start, requests) VALUES ($1, $2, 1)
       ON CONFLICT (staff_id) DO UPDATE SET
         requests = CASE WHEN staff_consent_requests.window_start = EXCLUDED.window_start
                         THEN staff_consent_requests.requests + 1 ELSE 1 END,
         window_start = EXCLUDED.window_start
       RETURNING requests`,
      [staffId, windowStart],
    );
    return rows[0]?.requests ?? 1;
  }

  async lockConsentSmsCounts(clientId: string) {
    // The row exists before it is locked, so concurrent first requests wait on it too.
    await this.tx.query(
      `INSERT INTO partner_consent_sms (client_id, minute_start, minute_requests, day_start, day_requests)
       VALUES ($1, 'epoch', 0, 'epoch', 0) ON CONFLICT (client_id) DO NOTHING`,
      [clientId],
    );
    const { rows } = await this.tx.query<{
      minute_start: Date;
      minute_requests: number;
      day_start: Date;
      day_requests: number;
      consent_sms_per_minute: number | null;
      consent_sms_per_day: number | null;
    }>(
      `SELECT c.minute_start, c.minute_requests, c.day_start, c.day_requests,
              p.consent_sms_per_minute, p.consent_sms_per_day
         FROM partner_consent_sms c LEFT JOIN partners p ON p.client_id = c.client_id
        WHERE c.client_id = $1 FOR UPDATE OF c`,
      [clientId],
    );
    const row = rows[0];
    return {
      quota: {
        ...(row?.consent_sms_per_minute ? { consentSmsPerMinute: row.consent_sms_per_minute } : {}),
        ...(row?.consent_sms_per_day ? { consentSmsPerDay: row.consent_sms_per_day } : {}),
      },
      counts: row
        ? {
            minuteStart: row.minute_start,
            minuteRequests: row.minute_requests,
            dayStart: row.day_start,
            dayRequests: row.day_requests,
          }
        : undefined,
    };
  }

  async saveConsentSmsCounts(clientId: string, counts: ConsentSmsCounts): Promise<void> {
    await this.tx.query(
      `UPDATE partner_consent_sms
          SET minute_start = $2, minute_requests = $3, day_start = $4, day_requests = $5
        WHERE client_id = $1`,
      [clientId, counts.minuteStart, counts.minuteRequests, counts.dayStart, counts.dayRequests],
    );
  }

  async clearSecretCodeFailures(ref: string): Promise<void> {
    await this.tx.query(
      'UPDATE beneficiaries SET secret_code_failures = 0, secret_code_locked_at = NULL WHERE beneficiary_ref = $1',
      [ref],
    );
  }

  async markCanary(ref: string): Promise<boolean> {
    const { rowCount } = await this.tx.query(
      'UPDATE beneficiaries SET canary = true WHERE beneficiary_ref = $1',
      [ref],
    );
    return rowCount === 1;
  }

  async mobileOf(ref: string): Promise<Mobile | undefined> {
    const { rows } = await this.tx.query<{ mobile_sealed: Buffer }>(
      'SELECT mobile_sealed FROM beneficiaries WHERE beneficiary_ref = $1',
      [ref],
    );
    const sealed = rows[0]?.mobile_sealed;
    if (!sealed) return undefined;
    const opened = await this.vault.open(sealed, sealedMobileContext(ref));
    return parseMobile(opened.toString('utf8'));
  }

  publish(event: IdentityEvent): Promise<void> {
    return this.enqueue(toOutgoingEvent(event));
  }
}

function toRecord(row: BeneficiaryRow): BeneficiaryRecord {
  return {
    ref: row.beneficiary_ref,
    mobileIndex: row.mobile_index,
    maskedMobile: row.masked_mobile,
    name: row.name,
    gender: row.gender,
    yearOfBirth: row.year_of_birth,
    photoIdKind: row.photo_id_kind,
    maskedPhotoId: row.masked_photo_id,
    canary: row.canary,
  };
}
