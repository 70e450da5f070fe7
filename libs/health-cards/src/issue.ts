import { sign } from 'node:crypto';
import { constants, deflateRawSync } from 'node:zlib';
import { InvalidIssuerUrlError, InvalidRevocationIdError, JwsTooLargeError } from './errors';
import type { ImmunizationBundle } from './fhir';
import type { IssuerKey } from './keys';
import { isValidRid } from './revocation';
import {
  COVID19_CARD_TYPE,
  FHIR_VERSION,
  HEALTH_CARD_TYPE,
  IMMUNIZATION_CARD_TYPE,
  isValidIssuerUrl,
  JWS_ALG,
  JWS_ZIP,
  MAX_SINGLE_QR_JWS_CHARS,
} from './spec-rules';

/** The JWS payload of a card ("Health Cards are encoded as Compact Serialization JWS"). */
export interface HealthCardPayload {
  readonly iss: string;
  /** Issuance time, seconds since the epoch. */
  readonly nbf: number;
  readonly vc: {
    readonly type: readonly string[];
    readonly credentialSubject: {
      readonly fhirVersion: string;
      readonly fhirBundle: ImmunizationBundle;
    };
    readonly rid?: string;
  };
}

export interface IssueHealthCardOptions {
  /** The issuer URL: https, no trailing `/`; its `/.well-known/jwks.json` lists the key. */
  readonly issuer: string;
  readonly key: IssuerKey;
  readonly issuedAt: Date;
  readonly bundle: ImmunizationBundle;
  /** Revocation id (see `deriveRid`), so the card can be revoked on its own. */
  readonly rid?: string;
  /**
   * Whether the card holds a COVID-19 immunization: it then also carries the `#covid19`
   * type. The issuer decides, from its vaccines' target disease; a card's codings alone
   * do not say it without a terminology this library does not hold.
   */
  readonly covid19?: boolean;
}

/**
 * Signs a card as a compact JWS: header `{alg, zip, kid}`, payload minified JSON, raw
 * DEFLATE (no zlib header), ES256 with the JOSE r‖s signature ("Health Cards are
 * Compact"). Refuses a card that would not fit one QR code rather than chunk it.
 */
export function issueHealthCard(options: IssueHealthCardOptions): string {
  if (!isValidIssuerUrl(options.issuer)) throw new InvalidIssuerUrlError();
  if (options.rid !== undefined && !isValidRid(options.rid)) {
    throw new InvalidRevocationIdError('a rid is 1 to 24 base64url characters');
  }
  const payload: HealthCardPayload = {
    iss: options.issuer,
    nbf: Math.floor(options.issuedAt.getTime() / 1000),
    vc: {
      type: [
        HEALTH_CARD_TYPE,
        IMMUNIZATION_CARD_TYPE,
        ...(options.covid19 === true ? [COVID19_CARD_TYPE] : []),
      ],
      credentialSubject: { fhirVersion: FHIR_VERSION, fhirBundle: options.bundle },
      ...(options.rid === undefined ? {} : { rid: options.rid }),
    },
  };
  const header = { alg: JWS_ALG, zip: JWS_ZIP, kid: options.key.kid };
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${deflateRawSync(
    JSON.stringify(payload),
    // The smallest payload leaves the most room under the QR limit.
    { level: constants.Z_BEST_COMPRESSION },
  ).toString('base64url')}`;
  const signature = sign('sha256', Buffer.from(signingInput, 'latin1'), {
    key: options.key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  const jws = `${signingInput}.${signature.toString('base64url')}`;
  if (jws.length > MAX_SINGLE_QR_JWS_CHARS)
    throw new JwsTooLargeError(jws.length, MAX_SINGLE_QR_JWS_CHARS);
  return jws;
}
