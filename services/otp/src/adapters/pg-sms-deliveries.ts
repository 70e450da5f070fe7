import { deleteInBatches, type Pool } from '@vaxguard/db';
import { DELIVERY_RECORD_RETENTION_MS } from '../domain/otp-rules';

/** A code the SMS centre took: its message id and the transaction it was sent for. */
export interface SmsSubmitted {
  readonly messageId: string;
  readonly txnId: string;
  readonly submittedAt: Date;
}

/** What the SMS centre reported of a message it took (a delivery receipt). */
export interface SmsReceipt {
  readonly messageId: string;
  /** The final state as the centre names it: DELIVRD, UNDELIV, EXPIRED, REJECTD, ... */
  readonly state: string;
  /** The centre's error code for it, as given (`000` when delivered). */
  readonly error: string | undefined;
  readonly receivedAt: Date;
}

/** Where the SMPP sender records what the centre took and what it reported. */
export interface SmsDeliveryRecords {
  submitted(record: SmsSubmitted): Promise<void>;
  receipt(record: SmsReceipt): Promise<void>;
}

/** One code's delivery as recorded. */
export interface SmsDeliveryRecord {
  readonly messageId: string;
  readonly txnId: string | undefined;
  readonly submittedAt: Date | undefined;
  readonly receiptState: string | undefined;
  readonly receiptError: string | undefined;
  readonly receiptAt: Date | undefined;
}

interface DeliveryRow {
  message_id: string;
  txn_id: string | null;
  submitted_at: Date | null;
  receipt_state: string | null;
  receipt_error: string | null;
  receipt_at: Date | null;
}

/**
 * Delivery records in PostgreSQL (otp_sms_deliveries). A receipt can overtake the
 * record of its own submit, so each half upserts the row the other may have begun.
 */
export class PgSmsDeliveries implements SmsDeliveryRecords {
  constructor(private readonly pool: Pool) {}

  async submitted(record: SmsSubmitted): Promise<void> {
    await this.pool.query(
      `INSERT INTO otp_sms_deliveries (message_id, txn_id, submitted_at) VALUES ($1, $2, $3)
       ON CONFLICT (message_id) DO UPDATE SET txn_id = $2, submitted_at = $3`,
      [record.messageId, record.txnId, record.submittedAt],
    );
  }

  async receipt(record: SmsReceipt): Promise<void> {
    await this.pool.query(
      `INSERT INTO otp_sms_deliveries (message_id, receipt_state, receipt_error, receipt_at)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (message_id) DO UPDATE SET receipt_state = $2, receipt_error = $3, receipt_at = $4`,
      [record.messageId, record.state, record.error ?? null, record.receivedAt],
    );
  }

  /** The deliveries recorded for a transaction, oldest first. */
  async forTransaction(txnId: string): Promise<SmsDeliveryRecord[]> {
    const { rows } = await this.pool.query<DeliveryRow>(
      `SELECT message_id, txn_id, submitted_at, receipt_state, receipt_error, receipt_at
         FROM otp_sms_deliveries WHERE txn_id = $1 ORDER BY submitted_at`,
      [txnId],
    );
    return rows.map((row) => ({
      messageId: row.message_id,
      txnId: row.txn_id ?? undefined,
      submittedAt: row.submitted_at ?? undefined,
      receiptState: row.receipt_state ?? undefined,
      receiptError: row.receipt_error ?? undefined,
      receiptAt: row.receipt_at ?? undefined,
    }));
  }

  /** Deletes the records older than DELIVERY_RECORD_RETENTION_MS; returns how many. */
  prune(now: Date, stopped?: () => boolean): Promise<number> {
    return deleteInBatches(this.pool, {
      table: 'otp_sms_deliveries',
      where: 'recorded_at < $1',
      params: [new Date(now.getTime() - DELIVERY_RECORD_RETENTION_MS)],
      ...(stopped ? { stopped } : {}),
    });
  }
}
