/**
 * The shape of VaxGuard access tokens: compact JWS signed with Ed25519 (alg EdDSA) by
 * the OTP service, verified locally by every service against its published JWKS.
 */
export const TOKEN_ISSUER = 'vaxguard-otp';
export const TOKEN_ALGORITHM = 'EdDSA';

/**
 * No VaxGuard token lives longer than this (the citizen session, 15 minutes). Verifiers
 * refuse a token that claims a longer life, and a service learning revocations needs
 * only those published in the last MAX_TOKEN_LIFETIME_MS: older ones concern dead tokens.
 */
export const MAX_TOKEN_LIFETIME_MS = 15 * 60_000;

/**
 * Client scopes that let a platform service act for other clients. Only the identity
 * service holds `onBehalf` (it starts CONSENT and STAFF_LOGIN transactions for the
 * client that will confirm them); platform services calling on a user's behalf hold
 * `relayTokens` (they present a token issued to another client).
 */
export const SERVICE_SCOPES = {
  onBehalf: 'otp:on-behalf',
  relayTokens: 'token:relay',
  /** Identity asks the OTP service to sign a consent grant from a checked secret code. */
  issueConsent: 'token:issue-consent',
  /** The audit service suspends principals its rules caught. */
  suspendPrincipals: 'principal:suspend',
} as const;

/** The header that carries a VaxGuard token; `authorization` carries the client secret. */
export const TOKEN_HEADER = 'x-vaxguard-token';

export const AUDIENCE = {
  /** A citizen acting on the beneficiaries registered on their mobile. */
  citizen: 'vaxguard:citizen',
  /** A grantee acting on one beneficiary record with that beneficiary's consent. */
  consent: 'vaxguard:consent',
  /**
   * A staff member's session: password checked by identity, then an OTP to the staff
   * member's mobile. Its subject is the staff id; it names the role and the centre.
   */
  staff: 'vaxguard:staff',
} as const;
export type Audience = (typeof AUDIENCE)[keyof typeof AUDIENCE];

/**
 * Why a token was issued: an OTP confirmed for one of the three OTP purposes, or a
 * beneficiary's secret code that identity checked (a consent grant to one vaccinator
 * for that one beneficiary).
 */
export type TokenPurpose = 'CITIZEN_LOGIN' | 'CONSENT' | 'STAFF_LOGIN' | 'SECRET_CODE';
export const TOKEN_PURPOSES: readonly TokenPurpose[] = [
  'CITIZEN_LOGIN',
  'CONSENT',
  'STAFF_LOGIN',
  'SECRET_CODE',
];
export type GranteeKind = 'STAFF' | 'PARTNER_CLIENT';

export interface ConsentClaim {
  /** The beneficiaries the grant opens: those on the mobile that consented. */
  readonly beneficiaryRefs: readonly string[];
  readonly grantee: { readonly kind: GranteeKind; readonly id: string };
}

export type StaffRole = 'VACCINATOR' | 'CENTRE_ADMIN' | 'AUDITOR' | 'PLATFORM_ADMIN';
export const STAFF_ROLES: readonly StaffRole[] = [
  'VACCINATOR',
  'CENTRE_ADMIN',
  'AUDITOR',
  'PLATFORM_ADMIN',
];

/** What a staff session says of its holder (the staff id is the token's subject). */
export interface StaffClaim {
  readonly role: StaffRole;
  /** The centre the staff member works at; empty for platform admins and auditors. */
  readonly centreId: string;
}

/** What a verified token says. */
export interface TokenClaims {
  readonly tokenId: string;
  /** The mobile's keyed blind index. */
  readonly subject: string;
  readonly audience: Audience;
  readonly scopes: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly keyId: string;
  readonly purpose: TokenPurpose;
  /** The client application the token was issued to. */
  readonly clientId: string;
  readonly consent?: ConsentClaim;
  readonly staff?: StaffClaim;
}

/** The JWT payload as it is signed: registered claims plus VaxGuard's short ones. */
export interface TokenPayload {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  scope: string;
  pur: TokenPurpose;
  cid: string;
  cst?: { brefs: string[]; gk: GranteeKind; gid: string };
  stf?: { role: StaffRole; ctr: string };
}

export function toPayload(claims: Omit<TokenClaims, 'keyId'>): TokenPayload {
  return {
    iss: TOKEN_ISSUER,
    sub: claims.subject,
    aud: claims.audience,
    iat: Math.floor(claims.issuedAt.getTime() / 1000),
    exp: Math.floor(claims.expiresAt.getTime() / 1000),
    jti: claims.tokenId,
    scope: claims.scopes.join(' '),
    pur: claims.purpose,
    cid: claims.clientId,
    ...(claims.consent
      ? {
          cst: {
            brefs: [...claims.consent.beneficiaryRefs],
            gk: claims.consent.grantee.kind,
            gid: claims.consent.grantee.id,
          },
        }
      : {}),
    ...(claims.staff ? { stf: { role: claims.staff.role, ctr: claims.staff.centreId } } : {}),
  };
}
