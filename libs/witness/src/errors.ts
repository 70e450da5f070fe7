/**
 * Why a witness did not cosign (c2sp.org/tlog-witness add-checkpoint). Each error
 * carries a stable `reason` the audit service maps to its own error model and alerts;
 * the HTTP status, when there was one, is kept for logs.
 */
export abstract class WitnessError extends Error {
  abstract readonly reason: string;
  /** The witness's HTTP status, or undefined when no answer came. */
  readonly status: number | undefined;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
  }
}

/**
 * 409: the witness's latest size for this log is not the old size the request gave. The
 * log resubmits with `knownSize` as the old size, and a proof from there; a known size
 * larger than the log's own checkpoint means the log was rolled back.
 */
export class WitnessConflictError extends WitnessError {
  override readonly name = 'WitnessConflictError';
  readonly reason = 'WITNESS_CONFLICT';

  constructor(
    readonly knownSize: number,
    status = 409,
  ) {
    super(`the witness knows the log at size ${knownSize}`, { status });
  }
}

/**
 * 422: the consistency proof does not prove the checkpoint extends the tree the witness
 * saw last: the log forked, or was rolled back and grew again.
 */
export class WitnessInconsistentError extends WitnessError {
  override readonly name = 'WitnessInconsistentError';
  readonly reason = 'WITNESS_INCONSISTENT';
}

/**
 * 403 or 404: the witness does not know this log's origin, or no key it trusts for the
 * log signed the checkpoint.
 */
export class WitnessRefusedError extends WitnessError {
  override readonly name = 'WitnessRefusedError';
  readonly reason = 'WITNESS_REFUSED';
}

/** 400: the witness could not read the request (a bug on our side, never retried). */
export class WitnessBadRequestError extends WitnessError {
  override readonly name = 'WitnessBadRequestError';
  readonly reason = 'WITNESS_BAD_REQUEST';
}

/** No answer: connection refused or reset, the deadline passed, or the call was aborted. */
export class WitnessUnreachableError extends WitnessError {
  override readonly name = 'WitnessUnreachableError';
  readonly reason = 'WITNESS_UNREACHABLE';
}

/** An answer that is none of the above: a 5xx, another status, or a malformed body. */
export class WitnessResponseError extends WitnessError {
  override readonly name = 'WitnessResponseError';
  readonly reason = 'WITNESS_BAD_RESPONSE';
}

/** The witness's cosignature is missing or does not verify with its verifier key. */
export class WitnessCosignatureError extends WitnessError {
  override readonly name = 'WitnessCosignatureError';
  readonly reason = 'WITNESS_BAD_COSIGNATURE';
}
