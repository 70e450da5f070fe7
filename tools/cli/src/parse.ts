// Parsers for what commands take: each refuses a bad value as a usage error (exit 2)
// and never echoes a value that may be personal (a mobile, a code).
import { InvalidArgumentError } from 'commander';
import { isBeneficiaryRef, parseMobile } from '@vaxguard/pii';
import { UsageError } from './errors';

/** For commander's argParser: a whole number from `min`, as typed. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const number = Number(value);
    if (
      !/^\d+$/.test(value.trim()) ||
      !Number.isSafeInteger(number) ||
      number < min ||
      number > max
    ) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `a whole number of at least ${min} is expected`
          : `a whole number from ${min} to ${max} is expected`,
      );
    }
    return number;
  };
}

/** For commander's argParser: seconds, such as 5 or 0.5, above zero. */
export function seconds(value: string): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(number > 0)) {
    throw new InvalidArgumentError('a number of seconds above 0 is expected, such as 5 or 0.5');
  }
  return number;
}

/** For commander's argParser: a beneficiary reference (`bnf_` and 26 base32 characters). */
export function beneficiaryRef(value: string): string {
  if (!isBeneficiaryRef(value)) {
    throw new InvalidArgumentError('a beneficiary reference is bnf_ and 26 base32 characters');
  }
  return value;
}

/** A mobile as typed; refused without echoing it (it may be a real person's number). */
export function mobileNumber(value: string): string {
  try {
    return parseMobile(value);
  } catch (error) {
    throw new UsageError(
      'the mobile must be an Indian mobile number: 10 digits starting with 6, 7, 8 or 9, optionally prefixed with +91',
      { cause: error },
    );
  }
}

/** An OTP as typed; refused without echoing it. */
export function otpCode(value: string): string {
  if (!/^\d{6}$/.test(value.trim())) throw new UsageError('the code is 6 digits');
  return value.trim();
}

/** Why an operator locks or unlocks: 3 to 200 characters, for the record. */
export function reason(value: string): string {
  const text = value.trim();
  if (text.length < 3 || text.length > 200) {
    throw new InvalidArgumentError('a reason of 3 to 200 characters is expected');
  }
  return text;
}

/** A gRPC method as an API lock names it: `/package.Service/Method`. */
export function methodPath(value: string): string {
  const path = value.startsWith('/') ? value : `/${value}`;
  if (!/^\/[A-Za-z_][\w.]*\.[A-Za-z_]\w*\/[A-Za-z_]\w*$/.test(path)) {
    throw new InvalidArgumentError(
      'a method is package.Service/Method, such as vaxguard.identity.v1.IdentityService/GetBeneficiary',
    );
  }
  return path;
}

/** A gRPC service as an API lock names it: `package.Service`. */
export function serviceName(value: string): string {
  if (!/^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$/.test(value)) {
    throw new InvalidArgumentError(
      'a service is its full name, such as vaxguard.otp.v1.OtpService',
    );
  }
  return value;
}

/** What ends a seed's usernames and partner ids: 1 to 8 characters a-z 0-9. */
export function seedTag(value: string): string {
  if (!/^[a-z0-9]{1,8}$/.test(value)) {
    throw new InvalidArgumentError('a tag is 1 to 8 characters a-z 0-9');
  }
  return value;
}
