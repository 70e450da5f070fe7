import { withTransaction, type Pool, type Queryable } from '@vaxguard/db';
import { enqueueEvent } from '@vaxguard/events';
import type { Mobile } from '@vaxguard/pii';
import type {
  Consent,
  IssuedToken,
  MobileGuard,
  OtpEvent,
  OtpPurpose,
  OtpStore,
  OtpTransaction,
  OtpUnitOfWork,
  QuotaScope,
} from '../domain/model';
import { MOBILE_SEND_QUOTAS, TXN_MAX_LIFETIME_MS } from '../domain/otp-rules';
import { toOutgoingEvent } from './otp-events';
import type { Sealer } from './sealing';

interface TransactionRow {
  txn_id: string;
  client_id: string;
  mobile_index: string;
  mobile_sealed: Buffer;
  purpose: OtpPurpose;
  consent: Consent | null;
  code_hash: Buffer;
  created_at: Date;
  last_sent_at: Date;
  expires_at: Date;
  send_count: number;
  failed_attempts: number;
  confirmed_at: Date | null;
}

interface TokenRow {
  token_id: string;
  client_id: string;
  purpose: OtpPurpose;
  key_id: string;
  issued_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

// Lock keys live in their own namespace so they never collide with other advisory locks.
const MOBILE_LOCK_PREFIX = 'vaxguard/otp/mobile:';

/**
 * The OTP store on PostgreSQL. Quotas hold across instances because every send is
 * counted and recorded under transaction-scoped advisory locks on the mobile and the
 * client; the mobile number itself is stored only sealed (AES-256-GCM), for resends.
 */
export class PgOtpStore implements OtpStore {
  constructor(
    private readonly pool: Pool,
    private readonly mobileSealer: Sealer,
  ) {}

  transaction<T>(work: (uow: OtpUnitOfWork) => Promise<T>): Promise<T> {
    // Deadlocks cannot arise from the lock order used, but a retry costs nothing.
    return withTransaction(
      this.pool,
      (client) => work(new PgUnitOfWork(client, this.mobileSealer)),
      { retries: 2 },
    );
  }

  /** Deletes what no rule needs any more; returns how many rows went. */
  async prune(now: Date): Promise<number> {
    const longestWindowMs = Math.max(...MOBILE_SEND_QUOTAS.map((quota) => quota.windowMs));
    const sendsBefore = new Date(now.getTime() - longestWindowMs);
    // Transactions are kept a day so a late confirm gets a precise refusal, not NOT_FOUND.
    const txnsBefore = new Date(now.getTime() - Math.max(longestWindowMs, TXN_MAX_LIFETIME_MS));
    let deleted = 0;
    for (const [sql, params] of [
      ['DELETE FROM otp_sends WHERE sent_at < $1', [sendsBefore]],
      ['DELETE FROM otp_transactions WHERE created_at < $1', [txnsBefore]],
      [
        `DELETE FROM otp_mobile_guards
          WHERE consecutive_failures = 0 AND (locked_until IS NULL OR locked_until < $1)`,
        [now],
      ],
      [
        'DELETE FROM issued_tokens WHERE expires_at < $1',
        [new Date(now.getTime() - longestWindowMs)],
      ],
    ] as const) {
      const result = await this.pool.query(sql, [...params]);
      deleted += result.rowCount ?? 0;
    }
    return deleted;
  }
}

class PgUnitOfWork implements OtpUnitOfWork {
  constructor(
    private readonly tx: Queryable,
    private readonly mobileSealer: Sealer,
  ) {}

  async holdMobileQuota(mobileIndex: string): Promise<void> {
    await this.tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      MOBILE_LOCK_PREFIX + mobileIndex,
    ]);
  }

  async nthMostRecentSend(scope: QuotaScope, since: Date, n: number): Promise<Date | undefined> {
    const [column, value] =
      'mobileIndex' in scope ? ['mobile_index', scope.mobileIndex] : ['client_id', scope.clientId];
    const { rows } = await this.tx.query<{ sent_at: Date }>(
      `SELECT sent_at FROM otp_sends WHERE ${column} = $1 AND sent_at > $2
        ORDER BY sent_at DESC OFFSET $3 LIMIT 1`,
      [value, since, n - 1],
    );
    return rows[0]?.sent_at;
  }

  /**
   * One statement: the client's send counter is bumped (its row lock, held to the
   * commit, is what makes one client's sends take turns across instances), the
   * quota-th most recent earlier send is found by its number (one index lookup, however
   * high the quota), and the send is recorded only if that one is outside the window.
   * A refusal leaves the bumped counter to the rollback the domain then causes.
   */
  async recordClientSend(
    send: { txnId: string; mobileIndex: string; clientId: string; sentAt: Date },
    quota: { limit: number; since: Date },
  ): Promise<{ admitted: true } | { admitted: false; nthMostRecent: Date }> {
    const { rows } = await this.tx.query<{ blocking: Date | null }>(
      `WITH counted AS (
         INSERT INTO otp_client_send_counts AS c (client_id, sends) VALUES ($3, 1)
         ON CONFLICT (client_id) DO UPDATE SET sends = c.sends + 1
         RETURNING sends
       ), blocking AS (
         SELECT s.sent_at FROM otp_sends s, counted
          WHERE s.client_id = $3 AND s.client_seq = counted.sends - $5 AND s.sent_at > $6
       ), recorded AS (
         INSERT INTO otp_sends (txn_id, mobile_index, client_id, sent_at, client_seq)
         SELECT $1, $2, $3, $4, counted.sends FROM counted
          WHERE NOT EXISTS (SELECT 1 FROM blocking)
         RETURNING client_seq
       )
       SELECT (SELECT sent_at FROM blocking) AS blocking, (SELECT count(*) FROM recorded) AS n`,
      [send.txnId, send.mobileIndex, send.clientId, send.sentAt, quota.limit, quota.since],
    );
    const blocking = rows[0]?.blocking;
    return blocking ? { admitted: false, nthMostRecent: blocking } : { admitted: true };
  }

  async mobileGuard(mobileIndex: string): Promise<MobileGuard> {
    const { rows } = await this.tx.query<{
      consecutive_failures: number;
      locked_until: Date | null;
    }>('SELECT consecutive_failures, locked_until FROM otp_mobile_guards WHERE mobile_index = $1', [
      mobileIndex,
    ]);
    const row = rows[0];
    return {
      consecutiveFailures: row?.consecutive_failures ?? 0,
      lockedUntil: row?.locked_until ?? undefined,
    };
  }

  async recordFailure(mobileIndex: string): Promise<number> {
    const { rows } = await this.tx.query<{ consecutive_failures: number }>(
      `INSERT INTO otp_mobile_guards (mobile_index, consecutive_failures) VALUES ($1, 1)
       ON CONFLICT (mobile_index)
       DO UPDATE SET consecutive_failures = otp_mobile_guards.consecutive_failures + 1
       RETURNING consecutive_failures`,
      [mobileIndex],
    );
    return rows[0]?.consecutive_failures ?? 1;
  }

  async lockMobile(mobileIndex: string, until: Date): Promise<void> {
    await this.tx.query(
      `INSERT INTO otp_mobile_guards (mobile_index, consecutive_failures, locked_until) VALUES ($1, 0, $2)
       ON CONFLICT (mobile_index) DO UPDATE SET consecutive_failures = 0, locked_until = $2`,
      [mobileIndex, until],
    );
  }

  async clearFailures(mobileIndex: string): Promise<void> {
    await this.tx.query(
      'UPDATE otp_mobile_guards SET consecutive_failures = 0 WHERE mobile_index = $1 AND consecutive_failures <> 0',
      [mobileIndex],
    );
  }

  async insertTransaction(txn: OtpTransaction): Promise<void> {
    await this.tx.query(
      `INSERT INTO otp_transactions (txn_id, client_id, mobile_index, mobile_sealed, purpose, consent, code_hash,
         created_at, last_sent_at, expires_at, send_count, failed_attempts, confirmed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        txn.txnId,
        txn.clientId,
        txn.mobileIndex,
        this.mobileSealer.seal(Buffer.from(txn.mobile, 'utf8'), txn.txnId),
        txn.purpose,
        txn.consent ? JSON.stringify(txn.consent) : null,
        txn.codeHash,
        txn.createdAt,
        txn.lastSentAt,
        txn.expiresAt,
        txn.sendCount,
        txn.failedAttempts,
        txn.confirmedAt ?? null,
      ],
    );
  }

  async findTransactionForUpdate(txnId: string): Promise<OtpTransaction | undefined> {
    const { rows } = await this.tx.query<TransactionRow>(
      'SELECT * FROM otp_transactions WHERE txn_id = $1 FOR UPDATE',
      [txnId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      txnId: row.txn_id,
      clientId: row.client_id,
      mobile: this.mobileSealer.open(row.mobile_sealed, row.txn_id).toString('utf8') as Mobile,
      mobileIndex: row.mobile_index,
      purpose: row.purpose,
      consent: row.consent ?? undefined,
      codeHash: row.code_hash,
      createdAt: row.created_at,
      lastSentAt: row.last_sent_at,
      expiresAt: row.expires_at,
      sendCount: row.send_count,
      failedAttempts: row.failed_attempts,
      confirmedAt: row.confirmed_at ?? undefined,
    };
  }

  async updateTransaction(txn: OtpTransaction): Promise<void> {
    await this.tx.query(
      `UPDATE otp_transactions
          SET code_hash = $2, last_sent_at = $3, expires_at = $4, send_count = $5, failed_attempts = $6,
              confirmed_at = $7
        WHERE txn_id = $1`,
      [
        txn.txnId,
        txn.codeHash,
        txn.lastSentAt,
        txn.expiresAt,
        txn.sendCount,
        txn.failedAttempts,
        txn.confirmedAt ?? null,
      ],
    );
  }

  async recordIssuedToken(token: IssuedToken): Promise<void> {
    await this.tx.query(
      `INSERT INTO issued_tokens (token_id, client_id, purpose, key_id, issued_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [token.tokenId, token.clientId, token.purpose, token.keyId, token.issuedAt, token.expiresAt],
    );
  }

  async findIssuedTokenForUpdate(tokenId: string): Promise<IssuedToken | undefined> {
    const { rows } = await this.tx.query<TokenRow>(
      'SELECT * FROM issued_tokens WHERE token_id = $1 FOR UPDATE',
      [tokenId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      tokenId: row.token_id,
      clientId: row.client_id,
      purpose: row.purpose,
      keyId: row.key_id,
      issuedAt: row.issued_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at ?? undefined,
    };
  }

  async markTokenRevoked(tokenId: string, at: Date): Promise<void> {
    await this.tx.query('UPDATE issued_tokens SET revoked_at = $2 WHERE token_id = $1', [
      tokenId,
      at,
    ]);
  }

  async publish(event: OtpEvent): Promise<void> {
    await enqueueEvent(this.tx, toOutgoingEvent(event));
  }
}
