import type { PhotoIdKind } from '@vaxguard/pii';
import type { Gender } from './identity-rules';

/**
 * What each role may see of a beneficiary, declared once. Every response that carries a
 * beneficiary is built by `viewFor`, which copies exactly the fields of the viewer's role
 * and nothing else: a field not listed here cannot reach a caller, whatever the record
 * holds. Whether the viewer may see the record at all (its owner, or a live consent
 * grant for it) is decided before, by the service.
 */

/** A stored beneficiary, its numbers already masked (the raw ones stay in the vault). */
export interface StoredBeneficiary {
  readonly ref: string;
  readonly name: string;
  readonly gender: Gender;
  readonly yearOfBirth: number;
  readonly photoIdKind: PhotoIdKind;
  /** `XXXX XXXX 1234` for Aadhaar, all but the last 4 characters masked for the others. */
  readonly maskedPhotoId: string;
  /** `******1234`. */
  readonly maskedMobile: string;
}

/** A beneficiary as one viewer may see it: absent fields are not theirs to see. */
export interface BeneficiaryView {
  readonly beneficiaryRef: string;
  readonly name?: string;
  readonly gender?: Gender;
  readonly yearOfBirth?: number;
  readonly photoIdKind?: PhotoIdKind;
  readonly maskedPhotoId?: string;
  readonly maskedMobile?: string;
}

/** Who is looking. */
export type Viewer =
  | { readonly kind: 'citizen' }
  | {
      readonly kind: 'grantee';
      readonly granteeKind: 'STAFF' | 'PARTNER_CLIENT';
      /** A partner client's scopes; staff views do not depend on them. */
      readonly scopes: readonly string[];
    };

export type ViewField = Exclude<keyof BeneficiaryView, 'beneficiaryRef'>;

/** The fields of the citizen's and the staff view; every view also carries the reference. */
export const ROLE_VIEWS = {
  /** The citizen whose mobile registered the beneficiary: every field, numbers masked. */
  citizen: ['name', 'gender', 'yearOfBirth', 'photoIdKind', 'maskedPhotoId', 'maskedMobile'],
  /**
   * A vaccinator (or other staff member) holding the beneficiary's consent: what
   * vaccination needs, the person's name, gender and age, and the kind and last 4
   * characters of the photo ID they show at the centre. Never the mobile: staff have no
   * reason to reach the person outside the centre, and a mobile is the key the 2023 leak
   * was queried by.
   */
  staff: ['name', 'gender', 'yearOfBirth', 'photoIdKind', 'maskedPhotoId'],
} as const satisfies Record<string, readonly ViewField[]>;

/**
 * The scopes a partner client (Aarogya Setu, UMANG) may be granted, each opening a set of
 * fields of a beneficiary it holds a consent grant for; a partner sees the union of its
 * scopes' fields. Other scopes open nothing here.
 */
export const PARTNER_SCOPES = {
  /** Name, gender and year of birth: to show the person their own record. */
  'beneficiary:demographics': ['name', 'gender', 'yearOfBirth'],
  /** The photo ID's kind and its masked number: to let the person recognise it. */
  'beneficiary:id-masked': ['photoIdKind', 'maskedPhotoId'],
  /** The masked mobile: to let the person recognise the number registered. */
  'beneficiary:mobile-masked': ['maskedMobile'],
} as const satisfies Record<string, readonly ViewField[]>;

export type PartnerScope = keyof typeof PARTNER_SCOPES;

function isPartnerScope(scope: string): scope is PartnerScope {
  return Object.hasOwn(PARTNER_SCOPES, scope);
}

/** The fields a viewer may see, besides the reference. */
export function visibleFields(viewer: Viewer): ReadonlySet<ViewField> {
  if (viewer.kind === 'citizen') return new Set(ROLE_VIEWS.citizen);
  if (viewer.granteeKind === 'STAFF') return new Set(ROLE_VIEWS.staff);
  return new Set(viewer.scopes.filter(isPartnerScope).flatMap((scope) => PARTNER_SCOPES[scope]));
}

/** The beneficiary as this viewer may see it: exactly the fields of its role. */
export function viewFor(viewer: Viewer, beneficiary: StoredBeneficiary): BeneficiaryView {
  const view: Record<string, unknown> = { beneficiaryRef: beneficiary.ref };
  for (const field of visibleFields(viewer)) view[field] = beneficiary[field];
  return view as unknown as BeneficiaryView;
}
