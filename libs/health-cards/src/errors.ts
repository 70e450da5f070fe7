import { type ErrorCode, VaxGuardError } from '@vaxguard/errors';
import { ISSUER_URL_RULE } from './spec-rules';

/**
 * The errors this library throws, each with a stable reason, as VaxGuardErrors so the
 * issuing service's gRPC boundary maps them like any other. Messages name the rule that
 * was broken and never echo card content, names or identifiers. The offline verifier
 * throws none of these for a card it reads: it returns a reason instead.
 */
export class HealthCardError extends VaxGuardError {
  override readonly name: string = 'HealthCardError';

  constructor(code: ErrorCode, reason: string, message: string, cause?: unknown) {
    super(code, message, { reason, cause });
  }
}

/** A JWS too long for one QR code (spec: "Chunking Larger SHCs"; chunking is deprecated). */
export class JwsTooLargeError extends HealthCardError {
  override readonly name = 'JwsTooLargeError';
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(
      'FAILED_PRECONDITION',
      'SHC_TOO_LARGE_FOR_QR',
      `the signed card is ${length} characters; one QR code holds at most ${limit}`,
    );
  }
}

/** An `iss` that is not an https URL without a trailing slash (nor a loopback one in development). */
export class InvalidIssuerUrlError extends HealthCardError {
  override readonly name = 'InvalidIssuerUrlError';
  constructor() {
    super('INVALID_ARGUMENT', 'SHC_INVALID_ISSUER_URL', `iss must be ${ISSUER_URL_RULE}`);
  }
}

/** A key that is not an ES256 (P-256) key as the spec requires, or whose kid is wrong. */
export class InvalidIssuerKeyError extends HealthCardError {
  override readonly name = 'InvalidIssuerKeyError';
  constructor(message: string, cause?: unknown) {
    super('INVALID_ARGUMENT', 'SHC_INVALID_KEY', message, cause);
  }
}

/** Bundle input the builder cannot turn into a valid minimised FHIR bundle. */
export class InvalidImmunizationInputError extends HealthCardError {
  override readonly name = 'InvalidImmunizationInputError';
  constructor(message: string) {
    super('INVALID_ARGUMENT', 'SHC_INVALID_IMMUNIZATION_INPUT', message);
  }
}

/** A rid, a rid secret or a revocation-list entry that breaks the spec's format. */
export class InvalidRevocationIdError extends HealthCardError {
  override readonly name = 'InvalidRevocationIdError';
  constructor(message: string) {
    super('INVALID_ARGUMENT', 'SHC_INVALID_RID', message);
  }
}

/** A card revocation list that does not follow the spec's `rid` method. */
export class InvalidRevocationListError extends HealthCardError {
  override readonly name = 'InvalidRevocationListError';
  constructor(message: string, cause?: unknown) {
    super('INVALID_ARGUMENT', 'SHC_INVALID_REVOCATION_LIST', message, cause);
  }
}

/** A `shc:/` numeric QR payload that cannot be decoded into a JWS. */
export class InvalidNumericQrError extends HealthCardError {
  override readonly name = 'InvalidNumericQrError';
  constructor(message: string) {
    super('INVALID_ARGUMENT', 'SHC_INVALID_NUMERIC_QR', message);
  }
}

/** Certificate input that must not be printed: an unmasked ID, or a QR we did not draw. */
export class InvalidCertificateInputError extends HealthCardError {
  override readonly name = 'InvalidCertificateInputError';
  constructor(message: string) {
    super('INVALID_ARGUMENT', 'SHC_INVALID_CERTIFICATE_INPUT', message);
  }
}

/** Verifier options that cannot be used: a bad JWKS, a stale or mismatched revocation list. */
export class InvalidVerifierOptionsError extends HealthCardError {
  override readonly name = 'InvalidVerifierOptionsError';
  constructor(message: string, cause?: unknown) {
    super('INVALID_ARGUMENT', 'SHC_INVALID_VERIFIER_OPTIONS', message, cause);
  }
}
