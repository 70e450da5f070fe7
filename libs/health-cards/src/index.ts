export * from './errors';
export {
  buildImmunizationBundle,
  type FhirCoding,
  type FhirImmunization,
  type FhirPatient,
  type ImmunizationBundle,
  type ImmunizationBundleInput,
  type ImmunizationStatus,
  type VerifiedImmunization,
  type VerifiedPatient,
} from './fhir';
export { issueHealthCard, type HealthCardPayload, type IssueHealthCardOptions } from './issue';
export {
  exportIssuerKey,
  generateIssuerKey,
  importIssuerKey,
  jwkThumbprint,
  jwksOf,
  type IssuerKey,
  type IssuerPrivateJwk,
  type IssuerPublicJwk,
  type Jwks,
} from './keys';
export { fromNumericQr, qrSvg, toNumericQr } from './qr';
export {
  addRevocations,
  createRevocationList,
  deriveRid,
  parseRevocationList,
  type Revocation,
  type RevocationList,
} from './revocation';
export {
  isLoopbackIssuerUrl,
  isValidIssuerUrl,
  ISSUER_URL_RULE,
  MAX_SINGLE_QR_JWS_CHARS,
} from './spec-rules';
export {
  createOfflineVerifier,
  INVALID_CARD_REASONS,
  type InvalidCard,
  type InvalidCardReason,
  type OfflineVerifier,
  type OfflineVerifierOptions,
  type RevokedCard,
  type TrustedIssuer,
  type ValidCard,
  type VerificationResult,
} from './verifier';
export {
  renderCertificateSvg,
  type CertificateDose,
  type CertificateInput,
} from './certificate-svg';
