// Demo data, made through the platform's public APIs as its users would: the platform
// admin creates centres, their staff, an auditor and partner clients; citizens sign in
// with an OTP and register their beneficiaries. npm start seeds a little of it; the
// command line's seed as much as asked for.
import { randomBytes, randomInt } from 'node:crypto';
import { identityStaffV1, identityV1 } from '@vaxguard/proto';
import { randomMadeUpAadhaar } from './made-up-aadhaar';
import { callAs, type OperatorClient } from './operator-client';

/** The most beneficiaries identity registers on one mobile. */
export const BENEFICIARIES_PER_MOBILE = 4;

/** A made-up mobile number, fresh each time, so no run meets another's per-mobile quotas. */
export const madeUpMobile = (): string => `9${String(randomInt(0, 1e9)).padStart(9, '0')}`;

/** A mobile as the demo shows it: the last four digits. */
export const maskedMobile = (mobile: string): string => `XXXXXX${mobile.slice(-4)}`;

const staffPassword = () => `demo-${randomBytes(12).toString('base64url')}`;

const SAMPLE_CENTRES = [
  { key: 'andheri', name: 'PHC Andheri West', district: 'Mumbai Suburban', state: 'Maharashtra' },
  { key: 'jayanagar', name: 'UPHC Jayanagar', district: 'Bengaluru Urban', state: 'Karnataka' },
  { key: 'saltlake', name: 'UPHC Salt Lake', district: 'North 24 Parganas', state: 'West Bengal' },
  { key: 'kothrud', name: 'PHC Kothrud', district: 'Pune', state: 'Maharashtra' },
  { key: 'adyar', name: 'UPHC Adyar', district: 'Chennai', state: 'Tamil Nadu' },
  { key: 'dwarka', name: 'PHC Dwarka', district: 'South West Delhi', state: 'Delhi' },
] as const;

const SAMPLE_PARTNERS = [
  {
    clientId: 'aarogya-setu',
    displayName: 'Aarogya Setu',
    scopes: ['beneficiary:demographics', 'beneficiary:id-masked'],
    quotaPerMinute: 600,
  },
  {
    clientId: 'umang',
    displayName: 'UMANG',
    scopes: ['beneficiary:demographics'],
    quotaPerMinute: 300,
  },
] as const;

const SAMPLE_PEOPLE = [
  { name: 'Asha Devi', gender: identityV1.Gender.GENDER_FEMALE, yearOfBirth: 1961 },
  { name: 'Ravi Kumar', gender: identityV1.Gender.GENDER_MALE, yearOfBirth: 1958 },
  { name: 'Meena Iyer', gender: identityV1.Gender.GENDER_FEMALE, yearOfBirth: 1990 },
  { name: 'Arjun Iyer', gender: identityV1.Gender.GENDER_MALE, yearOfBirth: 2012 },
  { name: 'Fatima Shaikh', gender: identityV1.Gender.GENDER_FEMALE, yearOfBirth: 1975 },
  { name: 'Gurpreet Singh', gender: identityV1.Gender.GENDER_MALE, yearOfBirth: 1983 },
  { name: 'Lakshmi Rao', gender: identityV1.Gender.GENDER_FEMALE, yearOfBirth: 1949 },
  { name: 'Joseph Thomas', gender: identityV1.Gender.GENDER_MALE, yearOfBirth: 1969 },
] as const;

/**
 * The centres a seed creates, each with a key its staff are named after. Past the
 * sample list the names repeat with a number; `tag` (if any) ends every key, so that
 * a second seed of the same platform makes new principals instead of clashing.
 */
export function plannedCentres(count: number, tag?: string) {
  return Array.from({ length: count }, (_, index) => {
    const sample = SAMPLE_CENTRES[index % SAMPLE_CENTRES.length] as (typeof SAMPLE_CENTRES)[number];
    const round = Math.floor(index / SAMPLE_CENTRES.length);
    const key = `${sample.key}${round > 0 ? round + 1 : ''}${tag ? `.${tag}` : ''}`;
    const name = `${sample.name}${round > 0 ? ` ${round + 1}` : ''}${tag ? ` (${tag})` : ''}`;
    return { key, name, district: sample.district, state: sample.state };
  });
}

/** How many beneficiaries each citizen registers: `perCitizen` each, the last one the rest. */
export function plannedHouseholds(beneficiaries: number, perCitizen: number): number[] {
  if (!Number.isInteger(perCitizen) || perCitizen < 1 || perCitizen > BENEFICIARIES_PER_MOBILE) {
    throw new RangeError(`perCitizen must be 1 to ${BENEFICIARIES_PER_MOBILE}`);
  }
  const sizes: number[] = [];
  for (let left = beneficiaries; left > 0; left -= perCitizen)
    sizes.push(Math.min(left, perCitizen));
  return sizes;
}

export interface SeededStaff {
  readonly staffId: string;
  readonly username: string;
  readonly password: string;
  readonly role: string;
  readonly centre: string;
}

export interface SeededPartner {
  readonly clientId: string;
  readonly displayName: string;
  readonly scopes: readonly string[];
  readonly quotaPerMinute: number;
  readonly clientSecret: string;
}

export interface SeededPrincipals {
  readonly centres: readonly { readonly centreId: string; readonly name: string }[];
  readonly staff: readonly SeededStaff[];
  readonly partners: readonly SeededPartner[];
}

export interface SeedPrincipalsOptions {
  /** Centres, each with a vaccinator and a centre admin (default 2). */
  readonly centres?: number;
  /** Ends every username, partner id and centre name (default: none, the demo's names). */
  readonly tag?: string;
}

/** Centres with a vaccinator and a centre admin each, an auditor, two partners. */
export async function seedPrincipals(
  client: OperatorClient,
  adminToken: string,
  options: SeedPrincipalsOptions = {},
): Promise<SeededPrincipals> {
  const admin = callAs(adminToken);
  const suffix = options.tag ? `.${options.tag}` : '';
  const centres: { centreId: string; name: string }[] = [];
  const staff: SeededStaff[] = [];
  const createStaff = async (
    username: string,
    role: identityStaffV1.StaffRole,
    centre: { centreId: string; name: string } | undefined,
  ) => {
    const password = staffPassword();
    const created = await client.identity.call(
      'createStaff',
      {
        username,
        displayName: username,
        role,
        centreId: centre?.centreId ?? '',
        mobile: madeUpMobile(),
        password,
      },
      admin,
    );
    staff.push({
      staffId: created.staff?.staffId ?? '',
      username,
      password,
      role: identityStaffV1.staffRoleToJSON(role).replace('STAFF_ROLE_', ''),
      centre: centre?.name ?? '',
    });
  };
  for (const { key, ...input } of plannedCentres(options.centres ?? 2, options.tag)) {
    const { centre } = await client.identity.call('createCentre', input, admin);
    if (!centre) throw new Error('CreateCentre returned no centre');
    centres.push({ centreId: centre.centreId, name: centre.name });
    await createStaff(`vaccinator.${key}`, identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR, centre);
    await createStaff(`admin.${key}`, identityStaffV1.StaffRole.STAFF_ROLE_CENTRE_ADMIN, centre);
  }
  await createStaff(
    `auditor.national${suffix}`,
    identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR,
    undefined,
  );
  const partners: SeededPartner[] = [];
  for (const sample of SAMPLE_PARTNERS) {
    const partner = {
      ...sample,
      clientId: `${sample.clientId}${suffix}`,
      scopes: [...sample.scopes],
    };
    const registered = await client.identity.call('registerPartner', partner, admin);
    partners.push({ ...partner, clientSecret: registered.clientSecret });
  }
  return { centres, staff, partners };
}

export interface SeededHousehold {
  readonly mobile: string;
  /** The citizen's token from their sign-in (valid 15 minutes). */
  readonly token: string;
  readonly beneficiaries: readonly identityV1.Beneficiary[];
}

export interface SeedBeneficiariesOptions {
  /** Beneficiaries in all (default 4). */
  readonly count?: number;
  /** Beneficiaries per citizen's mobile, 1 to 4 (default 2). */
  readonly perCitizen?: number;
  /** Citizens signing in and registering at the same time (default 1). */
  readonly concurrency?: number;
  /** Marks the second household's second beneficiary (or the last one) a canary. */
  readonly canary?: boolean;
  /** Called after each beneficiary registered, with how many are done. */
  readonly onProgress?: (done: number) => void;
}

/**
 * Citizens sign in with an OTP and register their beneficiaries. A client over its OTP
 * quota is told when to ask again; each sign-in waits up to two minutes for that.
 */
export async function seedBeneficiaries(
  client: OperatorClient,
  adminToken: string,
  options: SeedBeneficiariesOptions = {},
): Promise<{ households: SeededHousehold[]; canary?: string }> {
  const perCitizen = options.perCitizen ?? 2;
  const sizes = plannedHouseholds(options.count ?? 4, perCitizen);
  const households: SeededHousehold[] = new Array<SeededHousehold>(sizes.length);
  let done = 0;
  let next = 0;
  const register = async (index: number) => {
    const mobile = madeUpMobile();
    const { token } = await client.citizenSignIn(mobile, { deadlineMs: 120_000 });
    const beneficiaries: identityV1.Beneficiary[] = [];
    for (let slot = 0; slot < (sizes[index] ?? 0); slot++) {
      const person = SAMPLE_PEOPLE[(index * perCitizen + slot) % SAMPLE_PEOPLE.length];
      const { beneficiary } = await client.identity.call(
        'registerBeneficiary',
        {
          mobile,
          ...(person as (typeof SAMPLE_PEOPLE)[number]),
          photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
          // Random: a platform on local infrastructure keeps what earlier runs registered.
          photoIdNumber: randomMadeUpAadhaar(),
        },
        callAs(token),
      );
      if (!beneficiary) throw new Error('RegisterBeneficiary returned no beneficiary');
      beneficiaries.push(beneficiary);
      options.onProgress?.(++done);
    }
    households[index] = { mobile, token, beneficiaries };
  };
  // The first failure stops every worker from starting another household.
  let failed = false;
  const worker = async () => {
    while (!failed && next < sizes.length) {
      await register(next++).catch((error: unknown) => {
        failed = true;
        throw error;
      });
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 1, sizes.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (!options.canary) return { households };
  const canary = (households[1]?.beneficiaries[1] ?? households.at(-1)?.beneficiaries.at(-1))
    ?.beneficiaryRef;
  if (!canary) return { households };
  await client.identity.call('markCanary', { beneficiaryRef: canary }, callAs(adminToken));
  return { households, canary };
}
