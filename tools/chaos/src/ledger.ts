// The load generator's own record of what it asked and what it was told: one row per
// attempt of a call. The checker (verify.ts) holds the platform to it after a fault: what
// was acknowledged must be there exactly once, and every refusal must have been one a
// client can retry.

/** The kinds of call the load makes, in the order of a citizen's journey. */
export const CALL_KINDS = [
  /** OtpService/GenerateOtp, CITIZEN_LOGIN: a code sent. Key: the mobile and attempt. */
  'otp.generate',
  /** OtpService/ConfirmOtp: the citizen's token. Key: the transaction id. */
  'otp.confirm',
  /** IdentityService/RegisterBeneficiary. Key: the journey (no idempotency key exists). */
  'register',
  /** IdentityService/VerifySecretCode: the vaccinator's consent grant. Key: the beneficiary. */
  'consent',
  /** VaccinationRecordService/RecordDose. Key: its client_request_id. */
  'record-dose',
  /** VaccinationRecordService/GetCertificate as the citizen. Key: the beneficiary. */
  'certificate',
  /** AuditService/QueryEntries as an auditor. Key: the query's unique `from`. */
  'audit-query',
] as const;
export type CallKind = (typeof CALL_KINDS)[number];

/** What an acknowledged call returned that must be found afterwards, by name. */
export interface AcknowledgedIds {
  /** otp.generate */
  readonly txnId?: string;
  /** otp.confirm and consent: the token's id (its `jti`). */
  readonly tokenId?: string;
  /** register, consent, record-dose, certificate, audit-query: the beneficiary. */
  readonly beneficiaryRef?: string;
  /** record-dose */
  readonly doseId?: string;
  /** record-dose: the service said it had recorded this request already. */
  readonly replayed?: boolean;
  /** certificate */
  readonly certificateId?: string;
}

export type Outcome =
  | { readonly acknowledged: true; readonly ids: AcknowledgedIds }
  | {
      readonly acknowledged: false;
      /** The status's name as the client kit reports it (`UNAVAILABLE`, `INTERNAL`…). */
      readonly code: string;
      /** The raw gRPC status number the call ended with, when there was one (2 is UNKNOWN). */
      readonly grpcStatus?: number;
      readonly reason?: string;
      readonly retryAfterMs?: number;
      readonly message: string;
    };

/** One attempt of one call. */
export interface LedgerEntry {
  /** Order of the attempt's start in the whole ledger. */
  readonly seq: number;
  readonly kind: CallKind;
  /**
   * The call's identity across its attempts: the idempotency key (RecordDose's
   * client_request_id), or what else makes the call one (the transaction, the
   * beneficiary). A retry keeps the key; `attempt` counts.
   */
  readonly key: string;
  /** 1 for the first attempt, 2 and up for retries with the same key. */
  readonly attempt: number;
  /** The journey (one citizen) the call belongs to. */
  readonly journey: number;
  /** Wall-clock start and end, ms since the epoch. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** The deadline the attempt was given, ms. */
  readonly deadlineMs: number;
  readonly outcome: Outcome;
}

/** A journey's notes that are not calls: a code acknowledged as sent that never arrived. */
export interface JourneyNote {
  readonly journey: number;
  readonly at: number;
  readonly note: string;
}

/** The ledger of one load run; append-only while the load runs. */
export class Ledger {
  private readonly rows: LedgerEntry[] = [];
  private readonly notes: JourneyNote[] = [];
  private readonly citizens = new Map<number, { readonly mobile: string; token?: string }>();
  private nextSeq = 0;

  /** A journey's citizen: their mobile, and their token once signed in (for read-backs). */
  citizen(journey: number, mobile: string, token?: string): void {
    this.citizens.set(journey, { mobile, ...(token === undefined ? {} : { token }) });
  }

  citizenOf(journey: number): { readonly mobile: string; readonly token?: string } | undefined {
    return this.citizens.get(journey);
  }

  /** The seq the next attempt gets (taken when it starts). */
  takeSeq(): number {
    return this.nextSeq++;
  }

  record(entry: LedgerEntry): void {
    this.rows.push(entry);
  }

  note(journey: number, note: string): void {
    this.notes.push({ journey, at: Date.now(), note });
  }

  /** Every attempt, in order of start. */
  get entries(): readonly LedgerEntry[] {
    return [...this.rows].sort((a, b) => a.seq - b.seq);
  }

  get journeyNotes(): readonly JourneyNote[] {
    return this.notes;
  }

  /** The acknowledged attempts, of one kind or all. */
  acknowledged(kind?: CallKind): (LedgerEntry & { outcome: { acknowledged: true } })[] {
    return this.entries.filter(
      (entry): entry is LedgerEntry & { outcome: { acknowledged: true } } =>
        entry.outcome.acknowledged && (kind === undefined || entry.kind === kind),
    );
  }

  /** The refused (or failed) attempts. */
  refused(): (LedgerEntry & { outcome: { acknowledged: false } })[] {
    return this.entries.filter(
      (entry): entry is LedgerEntry & { outcome: { acknowledged: false } } =>
        !entry.outcome.acknowledged,
    );
  }
}
