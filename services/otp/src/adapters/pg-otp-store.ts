import {
  applyRetentionRules,
  withTransaction,
  type BatchedDelete,
  type Pool,
  type Queryable,
} from '@vaxguard/db';
import { enqueueEvent } from '@vaxguard/events';
import type { Mobile } from '@vaxguard/pii';
import {
  ClientQuotaFull,
  type ClientQuotaCheck,
  type Consent,
  type ConsentGrant,
  type StaffSignIn,
  type IssuedToken,
  type MobileGuard,
  type MobileQuotaState,
  type OtpEvent,
  type OtpPurpose,
  type OtpStore,
  type OtpTransaction,
  type OtpUnitOfWork,
  type SendRecord,
} from '../domain/model';
import {
  CLIENT_SEND_BUCKET_RETENTION_MS,
  ISSUED_TOKEN_RETENTION_MS,
  PRUNE_BATCH_SIZE,
  SEND_RETENTION_MS,
  TRANSACTION_RETENTION_MS,
} from '../domain/otp-rules';
import { toOutgoingEvent } from './otp-events';
import type { Sealer } from '@vaxguard/sealing';

interface TransactionRow {
  txn_id: string;
  client_id: string;
  mobile_index: string;
  mobile_sealed: Buffer;
  purpose: OtpPurpose;
  consent: Consent | null;
  staff: StaffSignIn | null;
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
  grant_mobile_index: string | null;
  consent: Consent | null;
}

// Lock keys live in their own namespace so they never collide with other advisory locks.
const MOBILE_LOCK_PREFIX = 'vaxguard/otp/mobile:';
// What otp_admit_client_send (migration otp/0004) raises when a client's quota is full.
const CLIENT_QUOTA_FULL_SQLSTATE = 'VGQ01';

/**
 * The OTP store on PostgreSQL. Quotas hold across instances because every send is
 * counted and recorded under transaction-scoped advisory locks: the mobile's, taken
 * before its quotas are read, and the client's, taken as the transaction commits (by a
 * deferred trigger on otp_sends, migration otp/0004). The mobile number itself is stored
 * only sealed (AES-256-GCM), for resends.
 */
export class PgOtpStore implements OtpStore {
  constructor(
    private readonly pool: Pool,
    private readonly mobileSealer: Sealer,
    /** Told the events of each transaction once it has committed (the service's metrics). */
    private readonly onCommitted: (events: readonly OtpEvent[]) => void = () => undefined,
  ) {}

  async transaction<T>(work: (uow: OtpUnitOfWork) => Promise<T>): Promise<T> {
    try {
      // The attempt that committed is the last one made.
      let uow: PgUnitOfWork | undefined;
      // Deadlocks cannot arise from the lock order used (a mobile's, then at commit a
      // client's), but a retry costs nothing.
      const result = await withTransaction(
        this.pool,
        (client) => work((uow = new PgUnitOfWork(client, this.mobileSealer))),
        { retries: 2 },
      );
      this.onCommitted(uow?.published ?? []);
      return result;
    } catch (error) {
      throw clientQuotaFull(error) ?? error;
    }
  }

  /**
   * Deletes what no rule needs any more (each table's rule: migration otp/0006_retention),
   * in statements of at most PRUNE_BATCH_SIZE rows, each by an index; returns how many
   * rows went. `stopped` ends it between two statements (shutdown).
   */
  async prune(now: Date, stopped?: () => boolean): Promise<number> {
    return applyRetentionRules(this.pool, otpRetentionRules(now), {
      batchSize: PRUNE_BATCH_SIZE,
      ...(stopped ? { stopped } : {}),
    });
  }
}

/** What each table keeps (migration otp/0006_retention): the rows past it, as of `now`. */
export function otpRetentionRules(now: Date): readonly BatchedDelete[] {
  const ago = (ms: number) => new Date(now.getTime() - ms);
  return [
    { table: 'otp_sends', where: 'sent_at < $1', params: [ago(SEND_RETENTION_MS)] },
    {
      table: 'otp_transactions',
      where: 'created_at < $1',
      params: [ago(TRANSACTION_RETENTION_MS)],
    },
    { table: 'otp_mobile_guards', where: 'forget_after < $1', params: [now] },
    {
      table: 'otp_client_send_buckets',
      where: 'bucket_start < $1',
      params: [ago(CLIENT_SEND_BUCKET_RETENTION_MS)],
    },
    {
      table: 'issued_tokens',
      where: 'expires_at < $1',
      params: [ago(ISSUED_TOKEN_RETENTION_MS)],
    },
    // A rotated key once retired and once no token record names it (theirs went above).
    {
      table: 'signing_keys',
      where: `retire_after < $1
              AND NOT EXISTS (SELECT 1 FROM issued_tokens t WHERE t.key_id = signing_keys.kid)`,
      params: [now],
    },
  ];
}

class PgUnitOfWork implements OtpUnitOfWork {
  /** The events this transaction wrote to the outbox, in order. */
  readonly published: OtpEvent[] = [];

  constructor(
    private readonly tx: Queryable,
    private readonly mobileSealer: Sealer,
  ) {}

  /** One round trip: otp_hold_mobile_quota (migration otp/0004) locks, then reads afresh. */
  async holdMobileQuota(
    mobileIndex: string,
    windows: readonly { since: Date; n: number }[],
  ): Promise<MobileQuotaState> {
    const { rows } = await this.tx.query<{
      consecutive_failures: number | null;
      locked_until: Date | null;
      nth_most_recent: (Date | null)[];
    }>('SELECT * FROM otp_hold_mobile_quota($1, $2, $3, $4)', [
      MOBILE_LOCK_PREFIX + mobileIndex,
      mobileIndex,
      windows.map((window) => window.since),
      windows.map((window) => window.n),
    ]);
    const row = rows[0];
    return {
      guard: {
        consecutiveFailures: row?.consecutive_failures ?? 0,
        lockedUntil: row?.locked_until ?? undefined,
      },
      nthMostRecent: windows.map((_, i) => row?.nth_most_recent[i] ?? undefined),
    };
  }

  /**
   * The row carries its client-quota check; the deferred trigger otp_admit_client_send
   * runs it at commit, under the client's lock, and raises CLIENT_QUOTA_FULL_SQLSTATE
   * when the quota is full (the commit then fails and nothing is kept).
   */
  async recordSend(send: SendRecord, clientQuota: ClientQuotaCheck): Promise<void> {
    await this.tx.query(
      `INSERT INTO otp_sends (txn_id, mobile_index, client_id, sent_at,
         client_bucket, client_counted_after, client_quota_limit)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        send.txnId,
        send.mobileIndex,
        send.clientId,
        send.sentAt,
        clientQuota.bucket,
        clientQuota.countedAfter,
        clientQuota.limit,
      ],
    );
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

  async recordFailure(mobileIndex: string, forgetAfter: Date): Promise<number> {
    // A lock in force outlives the streak's own expiry: the row stays until both end.
    const { rows } = await this.tx.query<{ consecutive_failures: number }>(
      `INSERT INTO otp_mobile_guards (mobile_index, consecutive_failures, forget_after)
       VALUES ($1, 1, $2)
       ON CONFLICT (mobile_index)
       DO UPDATE SET consecutive_failures = otp_mobile_guards.consecutive_failures + 1,
                     forget_after = greatest($2, otp_mobile_guards.locked_until)
       RETURNING consecutive_failures`,
      [mobileIndex, forgetAfter],
    );
    return rows[0]?.consecutive_failures ?? 1;
  }

  async lockMobile(mobileIndex: string, until: Date): Promise<void> {
    await this.tx.query(
      `INSERT INTO otp_mobile_guards (mobile_index, consecutive_failures, locked_until, forget_after)
       VALUES ($1, 0, $2, $2)
       ON CONFLICT (mobile_index)
       DO UPDATE SET consecutive_failures = 0, locked_until = $2, forget_after = $2`,
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
         created_at, last_sent_at, expires_at, send_count, failed_attempts, confirmed_at, staff)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
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
        txn.staff ? JSON.stringify(txn.staff) : null,
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
      staff: row.staff ?? undefined,
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
      `INSERT INTO issued_tokens (token_id, client_id, purpose, key_id, issued_at, expires_at,
         grant_mobile_index, consent)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        token.tokenId,
        token.clientId,
        token.purpose,
        token.keyId,
        token.issuedAt,
        token.expiresAt,
        token.grant?.mobileIndex ?? null,
        token.grant ? JSON.stringify(token.grant.consent) : null,
      ],
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
      ...(row.grant_mobile_index && row.consent
        ? { grant: { mobileIndex: row.grant_mobile_index, consent: row.consent } }
        : {}),
    };
  }

  async markTokenRevoked(tokenId: string, at: Date): Promise<void> {
    await this.tx.query('UPDATE issued_tokens SET revoked_at = $2 WHERE token_id = $1', [
      tokenId,
      at,
    ]);
  }

  async grantsInForce(mobileIndex: string, now: Date): Promise<readonly ConsentGrant[]> {
    // The same rule as grantInForce (otp-rules.ts), by issued_tokens_grants_in_force.
    const { rows } = await this.tx.query<TokenRow & { consent: Consent }>(
      `SELECT * FROM issued_tokens
        WHERE grant_mobile_index = $1 AND revoked_at IS NULL AND expires_at > $2
        ORDER BY issued_at DESC, token_id`,
      [mobileIndex, now],
    );
    return rows.map((row) => ({
      grantId: row.token_id,
      clientId: row.client_id,
      purpose: row.purpose,
      consent: row.consent,
      issuedAt: row.issued_at,
      expiresAt: row.expires_at,
    }));
  }

  async publish(event: OtpEvent): Promise<void> {
    this.published.push(event);
    await enqueueEvent(this.tx, toOutgoingEvent(event));
  }
}

/** The refusal a failed commit stands for, if it failed on a full client quota. */
function clientQuotaFull(error: unknown): ClientQuotaFull | undefined {
  const { code, detail } = (error ?? {}) as { code?: unknown; detail?: unknown };
  if (code !== CLIENT_QUOTA_FULL_SQLSTATE || typeof detail !== 'string') return undefined;
  // The detail is the start of the bucket of the limit-th most recent send, in epoch ms.
  return new ClientQuotaFull(new Date(Number(detail)));
}
