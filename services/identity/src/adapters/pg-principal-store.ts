import { withTransaction, type Pool, type Queryable } from '@vaxguard/db';
import { enqueueEvent } from '@vaxguard/events';
import { parseMobile, type Mobile } from '@vaxguard/pii';
import type { Vault } from '../domain/model';
import type {
  ApiLockScope,
  Centre,
  NewStaff,
  PartnerRecord,
  PrincipalEvent,
  PrincipalRef,
  PrincipalStore,
  PrincipalUnitOfWork,
  StaffRecord,
} from '../domain/principals';
import { principalEvents } from './principal-events';

interface StaffRow {
  staff_id: string;
  username: string;
  display_name: string;
  role: StaffRecord['role'];
  centre_id: string | null;
  mobile_index: string;
  masked_mobile: string;
  password_hash: string;
  failed_logins: number;
  last_failed_login_at: Date | null;
}

interface PartnerRow {
  client_id: string;
  display_name: string;
  secret_sha256: Buffer;
  scopes: string[];
  quota_per_minute: number;
  consent_sms_per_minute: number | null;
  consent_sms_per_day: number | null;
  locked: boolean;
}

const STAFF_COLUMNS = `staff_id, username, display_name, role, centre_id, mobile_index,
  masked_mobile, password_hash, failed_logins, last_failed_login_at`;

export const sealedStaffMobileContext = (staffId: string) => `staff/${staffId}/mobile`;

/** Staff, centres, partners, suspensions and API locks in PostgreSQL; events through the outbox. */
export class PgPrincipalStore implements PrincipalStore {
  constructor(
    private readonly pool: Pool,
    private readonly vault: Vault,
  ) {}

  transaction<T>(work: (uow: PrincipalUnitOfWork) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, (client) =>
      work(new PgPrincipalUnitOfWork(client, this.vault)),
    );
  }
}

class PgPrincipalUnitOfWork implements PrincipalUnitOfWork {
  constructor(
    private readonly tx: Queryable,
    private readonly vault: Vault,
  ) {}

  async insertCentre(centre: Centre): Promise<void> {
    await this.tx.query(
      'INSERT INTO centres (centre_id, name, district, state) VALUES ($1, $2, $3, $4)',
      [centre.centreId, centre.name, centre.district, centre.state],
    );
  }

  async findCentre(centreId: string): Promise<Centre | undefined> {
    const { rows } = await this.tx.query<{
      centre_id: string;
      name: string;
      district: string;
      state: string;
    }>('SELECT centre_id, name, district, state FROM centres WHERE centre_id = $1', [centreId]);
    const row = rows[0];
    return row
      ? { centreId: row.centre_id, name: row.name, district: row.district, state: row.state }
      : undefined;
  }

  async insertStaff(
    staff: NewStaff,
  ): Promise<'inserted' | 'duplicate-username' | 'duplicate-mobile'> {
    const taken = await this.tx.query<{ username: string }>(
      'SELECT username FROM staff WHERE username = $1 OR mobile_index = $2',
      [staff.username, staff.mobileIndex],
    );
    if (taken.rows.length > 0) {
      return taken.rows.some((row) => row.username === staff.username)
        ? 'duplicate-username'
        : 'duplicate-mobile';
    }
    const { rowCount } = await this.tx.query(
      `INSERT INTO staff (staff_id, username, display_name, role, centre_id, mobile_index,
         mobile_sealed, masked_mobile, password_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT DO NOTHING`,
      [
        staff.staffId,
        staff.username,
        staff.displayName,
        staff.role,
        staff.centreId || null,
        staff.mobileIndex,
        await this.vault.seal(
          Buffer.from(staff.mobile, 'utf8'),
          sealedStaffMobileContext(staff.staffId),
        ),
        staff.maskedMobile,
        staff.passwordHash,
      ],
    );
    return rowCount === 1 ? 'inserted' : 'duplicate-username';
  }

  async findStaffByUsernameForUpdate(username: string): Promise<StaffRecord | undefined> {
    const { rows } = await this.tx.query<StaffRow>(
      `SELECT ${STAFF_COLUMNS} FROM staff WHERE username = $1 FOR UPDATE`,
      [username],
    );
    return rows[0] ? toStaff(rows[0]) : undefined;
  }

  async findStaff(staffId: string): Promise<StaffRecord | undefined> {
    const { rows } = await this.tx.query<StaffRow>(
      `SELECT ${STAFF_COLUMNS} FROM staff WHERE staff_id = $1`,
      [staffId],
    );
    return rows[0] ? toStaff(rows[0]) : undefined;
  }

  async recordLoginFailure(staffId: string, at: Date): Promise<void> {
    await this.tx.query(
      'UPDATE staff SET failed_logins = failed_logins + 1, last_failed_login_at = $2 WHERE staff_id = $1',
      [staffId, at],
    );
  }

  async clearLoginFailures(staffId: string): Promise<void> {
    await this.tx.query(
      'UPDATE staff SET failed_logins = 0 WHERE staff_id = $1 AND failed_logins <> 0',
      [staffId],
    );
  }

  async countClientSignInFailures(clientId: string, windowStart: Date): Promise<number> {
    const { rows } = await this.tx.query<{ usernames: number }>(
      `SELECT count(*)::int AS usernames FROM client_sign_in_failures
       WHERE client_id = $1 AND window_start = $2`,
      [clientId, windowStart],
    );
    return rows[0]?.usernames ?? 0;
  }

  async recordClientSignInFailure(
    clientId: string,
    usernameIndex: string,
    windowStart: Date,
  ): Promise<void> {
    // Earlier windows of this client go as a new one is written: the table holds at
    // most one minute of each client's failures.
    await this.tx.query(
      'DELETE FROM client_sign_in_failures WHERE client_id = $1 AND window_start < $2',
      [clientId, windowStart],
    );
    await this.tx.query(
      `INSERT INTO client_sign_in_failures (client_id, window_start, username_index)
       VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [clientId, windowStart, usernameIndex],
    );
  }

  async mobileOfStaff(staffId: string): Promise<Mobile> {
    const { rows } = await this.tx.query<{ mobile_sealed: Buffer }>(
      'SELECT mobile_sealed FROM staff WHERE staff_id = $1',
      [staffId],
    );
    const sealed = rows[0]?.mobile_sealed;
    if (!sealed) throw new Error('no such staff member');
    const opened = await this.vault.open(sealed, sealedStaffMobileContext(staffId));
    return parseMobile(opened.toString('utf8'));
  }

  async insertPartner(partner: PartnerRecord): Promise<'inserted' | 'duplicate'> {
    const { rowCount } = await this.tx.query(
      `INSERT INTO partners (client_id, display_name, secret_sha256, scopes, quota_per_minute,
         consent_sms_per_minute, consent_sms_per_day, locked)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
      [
        partner.clientId,
        partner.displayName,
        partner.secretSha256,
        partner.scopes,
        partner.quotaPerMinute,
        partner.consentSmsPerMinute ?? null,
        partner.consentSmsPerDay ?? null,
        partner.locked,
      ],
    );
    return rowCount === 1 ? 'inserted' : 'duplicate';
  }

  async findPartnerForUpdate(clientId: string): Promise<PartnerRecord | undefined> {
    const { rows } = await this.tx.query<PartnerRow>(
      `SELECT client_id, display_name, secret_sha256, scopes, quota_per_minute,
              consent_sms_per_minute, consent_sms_per_day, locked
         FROM partners WHERE client_id = $1 FOR UPDATE`,
      [clientId],
    );
    const row = rows[0];
    return row
      ? {
          clientId: row.client_id,
          displayName: row.display_name,
          secretSha256: row.secret_sha256,
          scopes: row.scopes,
          quotaPerMinute: row.quota_per_minute,
          ...(row.consent_sms_per_minute === null
            ? {}
            : { consentSmsPerMinute: row.consent_sms_per_minute }),
          ...(row.consent_sms_per_day === null
            ? {}
            : { consentSmsPerDay: row.consent_sms_per_day }),
          locked: row.locked,
        }
      : undefined;
  }

  async setPartnerLocked(clientId: string, locked: boolean): Promise<void> {
    await this.tx.query('UPDATE partners SET locked = $2 WHERE client_id = $1', [clientId, locked]);
  }

  async isSuspended(principal: PrincipalRef): Promise<boolean> {
    const { rowCount } = await this.tx.query(
      'SELECT 1 FROM principal_suspensions WHERE principal_kind = $1 AND principal_id = $2',
      [principal.kind, principal.id],
    );
    return rowCount === 1;
  }

  async setSuspended(
    principal: PrincipalRef,
    suspended: boolean,
    reason: string,
    at: Date,
  ): Promise<boolean> {
    const { rowCount } = suspended
      ? await this.tx.query(
          `INSERT INTO principal_suspensions (principal_kind, principal_id, reason, suspended_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
          [principal.kind, principal.id, reason, at],
        )
      : await this.tx.query(
          'DELETE FROM principal_suspensions WHERE principal_kind = $1 AND principal_id = $2',
          [principal.kind, principal.id],
        );
    return rowCount === 1;
  }

  async setApiLock(
    key: string,
    scope: ApiLockScope,
    locked: boolean,
    reason: string,
    at: Date,
  ): Promise<boolean> {
    const { rowCount } = locked
      ? await this.tx.query(
          `INSERT INTO api_locks (lock_key, scope, reason, locked_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING`,
          [key, JSON.stringify(scope), reason, at],
        )
      : await this.tx.query('DELETE FROM api_locks WHERE lock_key = $1', [key]);
    return rowCount === 1;
  }

  async publish(event: PrincipalEvent): Promise<void> {
    for (const outgoing of principalEvents(event)) await enqueueEvent(this.tx, outgoing);
  }
}

function toStaff(row: StaffRow): StaffRecord {
  return {
    staffId: row.staff_id,
    username: row.username,
    displayName: row.display_name,
    role: row.role,
    centreId: row.centre_id ?? '',
    mobileIndex: row.mobile_index,
    maskedMobile: row.masked_mobile,
    passwordHash: row.password_hash,
    failedLogins: row.failed_logins,
    lastFailedLoginAt: row.last_failed_login_at ?? undefined,
  };
}
