// The made-up population the scale benchmark seeds, derived from a beneficiary's number
// alone, so any part of it (its reference, its mobile) can be found again later without
// keeping it: the seeders of each service, and the timed calls, derive the same values.
import { createHmac, randomBytes } from 'node:crypto';
import { newBeneficiaryRef } from '@vaxguard/pii';
import { madeUpAadhaar } from '@vaxguard/testing';

/** Identity's limit: four beneficiaries on one mobile, as the seeded population has. */
export const BENEFICIARIES_PER_MOBILE = 4;
/** The slot on each mobile left unvaccinated: RecordDose's first doses are for them. */
export const UNVACCINATED_SLOT = 3;
/** One certificate in this many is revoked (its rid on its key's revocation list). */
export const REVOKED_EVERY = 1_000;
/** Audit entries per beneficiary, one of each of the four kinds (audit-seeder.ts). */
export const AUDIT_ENTRIES_PER_BENEFICIARY = 4;
// Far from any number the world's helpers make (madeUpAadhaar below 10^9, mobiles 9…).
const AADHAAR_BASE = 10_000_000_000;

/** Where each made-up beneficiary's reference comes from: a fresh key per run. */
export class Population {
  private readonly key = randomBytes(32);

  /** Beneficiary `n`'s reference, in identity's own format (newBeneficiaryRef). */
  ref(n: number): string {
    const digest = createHmac('sha256', this.key).update(`ref:${n}`).digest();
    return newBeneficiaryRef((size) => digest.subarray(0, size));
  }

  /** The mobile beneficiary `n` is registered on (four to a mobile; all begin with 7). */
  mobile(n: number): string {
    return `7${String(Math.floor(n / BENEFICIARIES_PER_MOBILE)).padStart(9, '0')}`;
  }

  slot(n: number): number {
    return n % BENEFICIARIES_PER_MOBILE;
  }

  vaccinated(n: number): boolean {
    return this.slot(n) !== UNVACCINATED_SLOT;
  }

  revoked(n: number): boolean {
    return this.vaccinated(n) && n % REVOKED_EVERY === 1;
  }

  aadhaar(n: number): string {
    return madeUpAadhaar(AADHAAR_BASE + n);
  }

  yearOfBirth(n: number): number {
    return 1950 + (n % 50);
  }
}
