import { eventsV1, otpEventsV1, otpV1 } from '@vaxguard/proto';
import type { GranteeKind, TokenPurpose } from '@vaxguard/tokens';

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
