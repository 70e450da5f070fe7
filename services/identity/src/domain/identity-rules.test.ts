import { describe, expect, it } from 'vitest';
import {
  ANY_CLIENT_ID,
  checkBeneficiaryLimit,
  checkConsentSmsQuota,
  checkPartnerQuota,
  checkPlatformServiceClientStop,
  checkSecretCodeFormat,
  checkSecretCodeNotLocked,
  checkStaffPassword,
  checkYearOfBirth,
  consentGrantExpiresAt,
  consentSmsDayStart,
  consentSmsQuotaOf,
  decideConsentSms,
  generateSecretCode,
  hashSecretCode,
  indexStaffUsername,
  isClientSignInThrottled,
  isConsentGrantLive,
  normaliseName,
  parseGender,
  secretCodeMatches,
  secretCodeTriesLeft,
  staffLockedUntil,
  staffLoginFailureWindowStart,
  STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE,
} from './identity-rules';

/** How a check refuses, as the caller sees it: the code, a stable reason and the message. */
function refused(code: string, reason: string, message?: RegExp): unknown {
  const matcher: unknown = message ? expect.stringMatching(message) : expect.any(String);
  return expect.objectContaining({ code, reason, message: matcher }) as unknown;
}

const MINUTE = 60_000;
const now = new Date('2026-11-22T10:00:00Z');

describe('beneficiaries per mobile', () => {
  it('admits a 4th beneficiary and refuses a 5th, as FAILED_PRECONDITION', () => {
    for (const registered of [0, 1, 2, 3]) checkBeneficiaryLimit(registered);
    expect(() => checkBeneficiaryLimit(4)).toThrow(
      refused('FAILED_PRECONDITION', 'BENEFICIARY_LIMIT', /at most 4 beneficiaries/),
    );
    expect(() => checkBeneficiaryLimit(7)).toThrow(
      refused('FAILED_PRECONDITION', 'BENEFICIARY_LIMIT'),
    );
  });
});

describe('year of birth', () => {
  it('accepts those turning 12 this year or earlier, back to 1900', () => {
    expect(checkYearOfBirth(2014, now)).toBe(2014);
    expect(checkYearOfBirth(1960, now)).toBe(1960);
    expect(checkYearOfBirth(1900, now)).toBe(1900);
  });

  it.each([2015, 2020, 2026])('refuses %i as below the minimum age of 12', (year) => {
    expect(() => checkYearOfBirth(year, now)).toThrow(
      refused(
        'INVALID_ARGUMENT',
        'BELOW_MINIMUM_AGE',
        /turn 12 this year or earlier: year_of_birth must be 2014 or earlier/,
      ),
    );
  });

  it.each([0, 1899, 2027, 3000, 1990.5, Number.NaN, -1990])(
    'refuses %d as not a plausible year',
    (year) => {
      expect(() => checkYearOfBirth(year, now)).toThrow(
        refused('INVALID_ARGUMENT', 'INVALID_YEAR_OF_BIRTH', /year from 1900 to 2026/),
      );
    },
  );

  it('turns the year at midnight in India, 18:30 UTC on 31 December', () => {
    const lastSecondOf2026 = new Date('2026-12-31T18:29:59Z');
    const firstSecondOf2027 = new Date('2026-12-31T18:30:00Z');
    expect(() => checkYearOfBirth(2015, lastSecondOf2026)).toThrow(
      refused('INVALID_ARGUMENT', 'BELOW_MINIMUM_AGE', /2014 or earlier/),
    );
    expect(checkYearOfBirth(2015, firstSecondOf2027)).toBe(2015);
    expect(() => checkYearOfBirth(2027, lastSecondOf2026)).toThrow(
      refused('INVALID_ARGUMENT', 'INVALID_YEAR_OF_BIRTH'),
    );
  });
});

describe('names', () => {
  it.each([
    ['Ravi Kumar', 'Ravi Kumar'],
    ['  Ravi \t  Kumar \n', 'Ravi Kumar'],
    ['A.P.J. Abdul Kalam', 'A.P.J. Abdul Kalam'],
    ["D'Souza", "D'Souza"],
    ['Mary-Ann Thomas', 'Mary-Ann Thomas'],
    ['S. Ramanathan', 'S. Ramanathan'],
    ['José', 'José'],
    // Decomposed é becomes the one precomposed character.
    ['Jose\u0301', 'José'],
    ['A', 'A'],
    ['रवि कुमार', 'रवि कुमार'],
    ['सौरभ गांगुली', 'सौरभ गांगुली'],
    ['সৌরভ গঙ্গোপাধ্যায়', 'সৌরভ গঙ্গোপাধ্যায়'],
    ['ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ', 'ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ'],
    ['નરેન્દ્ર', 'નરેન્દ્ર'],
    ['ସୁଭଦ୍ରା', 'ସୁଭଦ୍ରା'],
    ['சுப்பிரமணியன்', 'சுப்பிரமணியன்'],
    ['వెంకటేశ్వర్లు', 'వెంకటేశ్వర్లు'],
    ['ಕುವೆಂಪು', 'ಕುವೆಂಪು'],
    ['ശ്രീനിവാസൻ', 'ശ്രീനിവാസൻ'],
    ['محمد علی', 'محمد علی'],
    ['ᱥᱟᱱᱛᱟᱲ', 'ᱥᱟᱱᱛᱟᱲ'],
    ['ꯃꯅꯤꯄꯨꯔ', 'ꯃꯅꯤꯄꯨꯔ'],
    // A zero-width joiner inside a Devanagari conjunct.
    ['क्\u200dष', 'क्\u200dष'],
  ])('accepts %j as %j', (input, name) => {
    expect(normaliseName(input)).toBe(name);
  });

  it('accepts 100 characters and refuses 101', () => {
    expect(normaliseName('a'.repeat(100))).toHaveLength(100);
    expect(normaliseName('क'.repeat(100))).toHaveLength(100);
    expect(() => normaliseName('a'.repeat(101))).toThrow(
      refused('INVALID_ARGUMENT', 'INVALID_NAME'),
    );
  });

  it.each([
    ['a digit', 'Ravi2'],
    ['a Devanagari digit', 'रवि१'],
    ['an Arabic-Indic digit', 'علی٣'],
    ['a leading full stop', '.Ravi'],
    ['a leading hyphen', '-Ravi'],
    ['a leading vowel sign', '\u093fरवि'],
    ['only punctuation', "'-."],
    ['an @', 'Ravi@Kumar'],
    ['an underscore', 'Ravi_Kumar'],
    ['markup', '<b>Ravi</b>'],
    ['a control character', 'Ravi\u0000Kumar'],
    ['an emoji', 'Ravi 😀'],
    ['Cyrillic', 'Иван'],
    ['Han', '李明'],
    ['nothing', ''],
    ['only spaces', '   '],
  ])('refuses %s without echoing the name', (_, input) => {
    expect(() => normaliseName(input)).toThrow(
      refused(
        'INVALID_ARGUMENT',
        'INVALID_NAME',
        /^name must be 1 to 100 characters: letters \(Latin or an Indian script\), spaces, full stops, apostrophes and hyphens, starting with a letter, with no digits$/,
      ),
    );
  });
});

describe('gender', () => {
  it.each(['FEMALE', 'MALE', 'OTHER'])('accepts %s', (gender) => {
    expect(parseGender(gender)).toBe(gender);
  });

  it.each([undefined, '', 'female', 'GENDER_UNSPECIFIED', 'UNKNOWN'])('refuses %j', (gender) => {
    expect(() => parseGender(gender)).toThrow(
      refused('INVALID_ARGUMENT', 'INVALID_GENDER', /^gender must be one of FEMALE, MALE, OTHER$/),
    );
  });
});

describe('secret code', () => {
  const key = Buffer.alloc(32, 4);
  const ref = 'bnf_014d2pf2dbsqqzxq5tk1v58cgg';

  it('draws 4-digit codes from the whole space of 10,000, zero-padded', () => {
    const asked: number[] = [];
    expect(generateSecretCode((max) => (asked.push(max), 7))).toBe('0007');
    expect(generateSecretCode(() => 9_999)).toBe('9999');
    expect(asked).toEqual([10_000]);
    const codes = Array.from({ length: 300 }, () => generateSecretCode());
    expect(codes.every((code) => /^\d{4}$/.test(code))).toBe(true);
    expect(new Set(codes).size).toBeGreaterThan(250);
  });

  it('refuses a malformed code before comparing it', () => {
    checkSecretCodeFormat('0123');
    for (const code of ['123', '12345', '12a4', ' 1234', '', '१२३४']) {
      expect(() => checkSecretCodeFormat(code)).toThrow(
        refused('INVALID_ARGUMENT', 'INVALID_SECRET_CODE', /^secret_code must be 4 digits$/),
      );
    }
  });

  it('is stored as a keyed hash bound to its beneficiary and matched in constant time', () => {
    const hash = hashSecretCode(key, ref, '0427');
    expect(hash).toHaveLength(32);
    expect(hash.toString('hex')).not.toContain('0427');
    expect(secretCodeMatches(key, ref, '0427', hash)).toBe(true);
    expect(secretCodeMatches(key, ref, '0428', hash)).toBe(false);
    expect(secretCodeMatches(key, 'bnf_7zzzzzzzzzzzzzzzzzzzzzzzzz', '0427', hash)).toBe(false);
    expect(secretCodeMatches(Buffer.alloc(32, 5), ref, '0427', hash)).toBe(false);
    expect(secretCodeMatches(key, ref, '0427', hash.subarray(0, 16))).toBe(false);
  });

  it('allows 4 wrong tries and locks at the 5th, until the code is replaced', () => {
    expect([0, 1, 4, 5, 6].map(secretCodeTriesLeft)).toEqual([5, 4, 1, 0, 0]);
    for (const failures of [0, 1, 2, 3, 4]) checkSecretCodeNotLocked(failures);
    for (const failures of [5, 6, 100]) {
      expect(() => checkSecretCodeNotLocked(failures)).toThrow(
        refused(
          'FAILED_PRECONDITION',
          'SECRET_CODE_LOCKED',
          /locked after 5 wrong tries; the beneficiary must sign in with an OTP/,
        ),
      );
    }
  });
});

describe('consent grants', () => {
  it('live for 5 minutes from the grant', () => {
    const expiresAt = consentGrantExpiresAt(now);
    expect(expiresAt).toEqual(new Date(now.getTime() + 5 * MINUTE));
    expect(isConsentGrantLive(expiresAt, new Date(now.getTime() + 5 * MINUTE - 1))).toBe(true);
    expect(isConsentGrantLive(expiresAt, expiresAt)).toBe(false);
    expect(isConsentGrantLive(expiresAt, new Date(now.getTime() + 6 * MINUTE))).toBe(false);
  });
});

describe('staff passwords', () => {
  const staff = { username: 'ravi.kumar' };

  it('accepts 12 to 128 characters of any kind, with no composition rules', () => {
    expect(checkStaffPassword('correct horse battery', staff)).toBe('correct horse battery');
    expect(checkStaffPassword('twelve chars', staff)).toBe('twelve chars');
    expect(checkStaffPassword('टीका केंद्र पुणे', staff)).toBe('टीका केंद्र पुणे');
    expect(checkStaffPassword('x'.repeat(127) + 'y', staff)).toHaveLength(128);
  });

  it('counts characters, not UTF-16 units, after NFKC normalisation', () => {
    // 11 emoji are 22 UTF-16 units but 11 characters.
    expect(() => checkStaffPassword('😀😁😂🤣😃😄😅😆😉😊😋', staff)).toThrow(
      refused('INVALID_ARGUMENT', 'WEAK_PASSWORD', /12 to 128 characters/),
    );
    // Full-width letters become ASCII, the form that is hashed and later verified.
    expect(checkStaffPassword('ｃｏｒｒｅｃｔ ｈｏｒｓｅ', staff)).toBe('correct horse');
  });

  it.each([
    ['11 characters', 'eleven char', /12 to 128 characters/],
    ['129 characters', 'x'.repeat(128) + 'y', /12 to 128 characters/],
    ['one character repeated', 'aaaaaaaaaaaaaaaa', /must not repeat one character/],
    ['the username', 'my Ravi.Kumar password', /must not contain the username/],
  ])('refuses %s without echoing it', (_, password, rule) => {
    expect(() => checkStaffPassword(password, staff)).toThrow(
      refused('INVALID_ARGUMENT', 'WEAK_PASSWORD', rule),
    );
    expect(() => checkStaffPassword(password, staff)).not.toThrow(password);
  });

  it('locks sign-in for an hour at the 10th wrong password in a row', () => {
    expect(staffLockedUntil(9, now)).toBeUndefined();
    expect(staffLockedUntil(10, now)).toEqual(new Date(now.getTime() + 60 * MINUTE));
    expect(staffLockedUntil(12, now)).toEqual(new Date(now.getTime() + 60 * MINUTE));
  });
});

describe('consent SMS quotas', () => {
  const quota = { perMinute: 2, perDay: 3 };
  // 23:59:30 IST on 22 November.
  const late = new Date('2026-11-22T18:29:30Z');

  it('start the day at midnight in India', () => {
    expect(consentSmsDayStart(late)).toEqual(new Date('2026-11-21T18:30:00Z'));
    expect(consentSmsDayStart(new Date('2026-11-22T18:30:00Z'))).toEqual(
      new Date('2026-11-22T18:30:00Z'),
    );
  });

  it('admit up to the minute quota, then refuse until the next minute', () => {
    const first = decideConsentSms(undefined, quota, late);
    expect(first).toMatchObject({ admitted: true, counts: { minuteRequests: 1, dayRequests: 1 } });
    const second = first.admitted ? decideConsentSms(first.counts, quota, late) : first;
    const third = second.admitted ? decideConsentSms(second.counts, quota, late) : second;
    expect(third).toEqual({ admitted: false, per: 'minute', limit: 2, retryAfterMs: 30_000 });
  });

  it('refuse past the day quota until midnight IST, and count afresh after it', () => {
    const counted = {
      minuteStart: new Date('2026-11-22T18:28:00Z'),
      minuteRequests: 1,
      dayStart: new Date('2026-11-21T18:30:00Z'),
      dayRequests: 3,
    };
    expect(decideConsentSms(counted, quota, late)).toEqual({
      admitted: false,
      per: 'day',
      limit: 3,
      retryAfterMs: 30_000,
    });
    expect(decideConsentSms(counted, quota, new Date('2026-11-22T18:30:00Z'))).toMatchObject({
      admitted: true,
      counts: { minuteRequests: 1, dayRequests: 1 },
    });
  });

  it("take a partner's own quotas, and the defaults for those it was not given", () => {
    expect(consentSmsQuotaOf({})).toEqual({ perMinute: 20, perDay: 1_000 });
    expect(consentSmsQuotaOf({ consentSmsPerDay: 50_000 })).toEqual({
      perMinute: 20,
      perDay: 50_000,
    });
  });

  it.each([0, -1, 1.5, 60_001])('refuse %d a minute at registration', (value) => {
    expect(() => checkConsentSmsQuota(value, 'minute')).toThrow(
      refused('INVALID_ARGUMENT', 'INVALID_PARTNER_QUOTA', /consent_sms_per_minute/),
    );
  });

  it('leave an unset quota unset', () => {
    expect(checkConsentSmsQuota(undefined, 'day')).toBeUndefined();
    expect(checkConsentSmsQuota(100_000, 'day')).toBe(100_000);
  });
});

describe('partner quotas', () => {
  it.each([1, 600, 60_000])('accepts %i codes per minute', (quota) => {
    expect(checkPartnerQuota(quota)).toBe(quota);
  });

  it.each([0, -5, 60_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses %d', (quota) => {
    expect(() => checkPartnerQuota(quota)).toThrow(
      refused('INVALID_ARGUMENT', 'INVALID_PARTNER_QUOTA', /from 1 to 60000/),
    );
  });
});

describe("stopping a platform service's own client", () => {
  it('needs a platform admin who confirms it; other clients need neither', () => {
    const admin = { byPlatformAdmin: true, confirmed: false };
    expect(() => checkPlatformServiceClientStop('svc-identity', admin)).toThrow(
      refused('FAILED_PRECONDITION', 'PLATFORM_SERVICE_CLIENT', /confirm_platform_service/),
    );
    expect(() =>
      checkPlatformServiceClientStop('svc-identity', { ...admin, confirmed: true }),
    ).not.toThrow();
    expect(() =>
      checkPlatformServiceClientStop('svc-otp', { byPlatformAdmin: false, confirmed: true }),
    ).toThrow(refused('FAILED_PRECONDITION', 'PLATFORM_SERVICE_CLIENT', /never automatically/));
    expect(() =>
      checkPlatformServiceClientStop('demo-portal', { byPlatformAdmin: false, confirmed: false }),
    ).not.toThrow();
  });

  it('accepts any client id configuration accepts, and nothing else', () => {
    for (const id of ['ab', 'demo-portal', 'svc-audit', 'a'.repeat(64)]) {
      expect(ANY_CLIENT_ID.test(id)).toBe(true);
    }
    for (const id of ['a', 'Demo', 'demo portal', '-demo', 'a'.repeat(65), '9876543210:x']) {
      expect(ANY_CLIENT_ID.test(id)).toBe(false);
    }
  });
});

describe('failed staff sign-ins per client', () => {
  it('refuses from the limit on, in windows that start on the minute', () => {
    expect(isClientSignInThrottled(STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE - 1)).toBe(
      false,
    );
    expect(isClientSignInThrottled(STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE)).toBe(true);
    expect(staffLoginFailureWindowStart(new Date('2026-12-01T06:00:59.999Z'))).toEqual(
      new Date('2026-12-01T06:00:00Z'),
    );
  });

  it('indexes a username under a key: stable, keyed, and not the username', () => {
    const key = Buffer.alloc(32, 7);
    const index = indexStaffUsername(key, 'asha.v');
    expect(index).toBe(indexStaffUsername(key, 'asha.v'));
    expect(index).not.toContain('asha');
    expect(index).not.toBe(indexStaffUsername(key, 'asha.w'));
    expect(index).not.toBe(indexStaffUsername(Buffer.alloc(32, 8), 'asha.v'));
  });
});
