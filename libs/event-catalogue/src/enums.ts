import { eventsV1, identityStaffV1, identityV1, otpEventsV1, otpV1 } from '@vaxguard/proto';
import type { GranteeKind, StaffRole, TokenPurpose } from '@vaxguard/tokens';

/**
 * A two-way mapping between a proto enum and the domain's string values. Unknown or
 * UNSPECIFIED proto values map to `undefined`, so each caller decides what a value it
 * cannot read means (refuse the request, skip the event).
 */
export interface EnumMapping<D extends string, P extends number> {
  readonly values: readonly D[];
  toProto(value: D): P;
  fromProto(value: number): D | undefined;
}

export function enumMapping<D extends string, P extends number>(
  table: Readonly<Record<D, P>>,
): EnumMapping<D, P> {
  const entries = Object.entries(table) as [D, P][];
  const reverse = new Map<number, D>(entries.map(([domain, proto]) => [proto, domain]));
  return {
    values: entries.map(([domain]) => domain),
    toProto: (value) => table[value],
    fromProto: (value) => reverse.get(value),
  };
}

export type OtpFailureReason =
  'WRONG_CODE' | 'EXPIRED' | 'ATTEMPTS_EXHAUSTED' | 'ALREADY_USED' | 'MOBILE_LOCKED';

export type ActorKindValue = 'CITIZEN' | 'STAFF' | 'PARTNER_CLIENT' | 'SERVICE';

export const OTP_PURPOSE = enumMapping<TokenPurpose, otpV1.OtpPurpose>({
  CITIZEN_LOGIN: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
  CONSENT: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
  STAFF_LOGIN: otpV1.OtpPurpose.OTP_PURPOSE_STAFF_LOGIN,
  SECRET_CODE: otpV1.OtpPurpose.OTP_PURPOSE_SECRET_CODE,
});

export const STAFF_ROLE = enumMapping<StaffRole, identityStaffV1.StaffRole>({
  VACCINATOR: identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
  CENTRE_ADMIN: identityStaffV1.StaffRole.STAFF_ROLE_CENTRE_ADMIN,
  AUDITOR: identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR,
  PLATFORM_ADMIN: identityStaffV1.StaffRole.STAFF_ROLE_PLATFORM_ADMIN,
});

export type PrincipalKindValue = 'STAFF' | 'PARTNER_CLIENT';

export const PRINCIPAL_KIND = enumMapping<PrincipalKindValue, identityV1.PrincipalKind>({
  STAFF: identityV1.PrincipalKind.PRINCIPAL_KIND_STAFF,
  PARTNER_CLIENT: identityV1.PrincipalKind.PRINCIPAL_KIND_PARTNER_CLIENT,
});

export const OTP_FAILURE_REASON = enumMapping<OtpFailureReason, otpEventsV1.OtpFailureReason>({
  WRONG_CODE: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_WRONG_CODE,
  EXPIRED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_EXPIRED,
  ATTEMPTS_EXHAUSTED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_ATTEMPTS_EXHAUSTED,
  ALREADY_USED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_ALREADY_USED,
  MOBILE_LOCKED: otpEventsV1.OtpFailureReason.OTP_FAILURE_REASON_MOBILE_LOCKED,
});

export const GRANTEE_KIND = enumMapping<GranteeKind, otpV1.GranteeKind>({
  STAFF: otpV1.GranteeKind.GRANTEE_KIND_STAFF,
  PARTNER_CLIENT: otpV1.GranteeKind.GRANTEE_KIND_PARTNER_CLIENT,
});

export const ACTOR_KIND = enumMapping<ActorKindValue, eventsV1.ActorKind>({
  CITIZEN: eventsV1.ActorKind.ACTOR_KIND_CITIZEN,
  STAFF: eventsV1.ActorKind.ACTOR_KIND_STAFF,
  PARTNER_CLIENT: eventsV1.ActorKind.ACTOR_KIND_PARTNER_CLIENT,
  SERVICE: eventsV1.ActorKind.ACTOR_KIND_SERVICE,
});

export type GenderValue = 'FEMALE' | 'MALE' | 'OTHER';
export type PhotoIdKindValue = 'AADHAAR' | 'PAN' | 'PASSPORT' | 'VOTER_ID' | 'DRIVING_LICENCE';

export const GENDER = enumMapping<GenderValue, identityV1.Gender>({
  FEMALE: identityV1.Gender.GENDER_FEMALE,
  MALE: identityV1.Gender.GENDER_MALE,
  OTHER: identityV1.Gender.GENDER_OTHER,
});

export const PHOTO_ID_KIND = enumMapping<PhotoIdKindValue, identityV1.PhotoIdKind>({
  AADHAAR: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
  PAN: identityV1.PhotoIdKind.PHOTO_ID_KIND_PAN,
  PASSPORT: identityV1.PhotoIdKind.PHOTO_ID_KIND_PASSPORT,
  VOTER_ID: identityV1.PhotoIdKind.PHOTO_ID_KIND_VOTER_ID,
  DRIVING_LICENCE: identityV1.PhotoIdKind.PHOTO_ID_KIND_DRIVING_LICENCE,
});
