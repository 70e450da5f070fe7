/**
 * A citizen's access history as they see it: each read, or refused read, of one of
 * their beneficiaries, by role and by the name of the centre or partner that read it,
 * never by a staff member's id. The names come from the log's own directory of what
 * identity announced (centres, staff members' roles and centres, partners).
 */

/**
 * What a citizen's access history reads, each read bounded: the beneficiaries
 * registered on the mobile, kept beside the log when their registration is appended
 * (not looked up among the citizen's own actions, which only grow), and their accesses.
 */
export interface AccessHistoryStore {
  /** The beneficiaries registered on the mobile, the first registered first, at most `limit`. */
  beneficiariesOf(mobileIndex: string, limit: number): Promise<string[]>;
  /**
   * Reads and refused reads of these beneficiaries below index `before`, newest first,
   * at most `limit`; reading no more than `limit` entries of each.
   */
  accessesOf(
    refs: readonly string[],
    before: number | undefined,
    limit: number,
  ): Promise<{ readonly index: number; readonly access: RecordedAccess }[]>;
}

/** One read, or refused read, of a beneficiary's record, as its event recorded it: ids only. */
export interface RecordedAccess {
  readonly beneficiaryRef: string;
  readonly occurredAt: Date | undefined;
  readonly granted: boolean;
  /** Who read, by the envelope's actor kind: CITIZEN, STAFF, PARTNER_CLIENT or SERVICE. */
  readonly actorKind: string;
  /** The staff id, partner client id, or the citizen's mobile index. Never shown. */
  readonly actorId: string;
  /** The reader's role as the reading service named it (VACCINATOR), or empty. */
  readonly role: string;
  /** The centre id (staff) or partner client id the reading service named, or empty. */
  readonly centreOrPartner: string;
  readonly purpose: string;
  /** For a refusal: its stable reason. */
  readonly refusal: string;
}

/** An access as the citizen is shown it. */
export interface AccessView {
  readonly beneficiaryRef: string;
  readonly occurredAt: Date | undefined;
  readonly granted: boolean;
  readonly role: string;
  /** The centre id or the partner client id, when known. */
  readonly centreOrPartner: string;
  readonly centreName: string;
  readonly partnerName: string;
  readonly purpose: string;
  readonly refusal: string;
}

export interface CentreEntry {
  readonly name: string;
  readonly district: string;
  readonly state: string;
}

export interface StaffEntry {
  readonly role: string;
  /** Empty for roles that work at no centre. */
  readonly centreId: string;
}

/** What the directory knows of the ids a page of accesses names. */
export interface DirectoryEntries {
  /** The centres asked for, and those the staff members asked for work at. */
  readonly centres: ReadonlyMap<string, CentreEntry>;
  readonly staff: ReadonlyMap<string, StaffEntry>;
  /** Partner client id to the application's display name. */
  readonly partners: ReadonlyMap<string, string>;
}

/** Centres, staff members and partners as identity announced them, by id. */
export interface Directory {
  lookUp(ids: DirectoryIds): Promise<DirectoryEntries>;
}

export interface DirectoryIds {
  readonly centreIds: readonly string[];
  readonly staffIds: readonly string[];
  readonly partnerIds: readonly string[];
}

const STAFF = 'STAFF';
const PARTNER_CLIENT = 'PARTNER_CLIENT';

/**
 * The centre or partner an access was made for: the one the reading service named
 * (vaccination-record names the staff member's centre from their session, or the
 * partner), else the staff member's centre as identity announced it, else the partner
 * client that acted. A citizen reading their own record has neither.
 */
function placeOf(
  access: RecordedAccess,
  staff: StaffEntry | undefined,
): { centreId: string; partnerId: string } {
  if (access.actorKind === PARTNER_CLIENT) {
    return { centreId: '', partnerId: access.centreOrPartner || access.actorId };
  }
  if (access.actorKind === STAFF) {
    return { centreId: access.centreOrPartner || (staff?.centreId ?? ''), partnerId: '' };
  }
  return { centreId: '', partnerId: '' };
}

/** The ids a page of accesses needs looked up in the directory. */
export function directoryIdsOf(accesses: readonly RecordedAccess[]): DirectoryIds {
  const centreIds = new Set<string>();
  const staffIds = new Set<string>();
  const partnerIds = new Set<string>();
  for (const access of accesses) {
    if (access.actorKind === STAFF) {
      staffIds.add(access.actorId);
      if (access.centreOrPartner) centreIds.add(access.centreOrPartner);
    } else if (access.actorKind === PARTNER_CLIENT) {
      partnerIds.add(access.centreOrPartner || access.actorId);
    }
  }
  return { centreIds: [...centreIds], staffIds: [...staffIds], partnerIds: [...partnerIds] };
}

/**
 * An access as the citizen sees it. The role is the one the reading service named,
 * else the staff member's role as identity announced it, else the reader's kind
 * (STAFF, PARTNER_CLIENT, CITIZEN). Names unknown to the directory are left empty;
 * the ids stay, so nothing is hidden that the log knows.
 */
export function describeAccess(access: RecordedAccess, entries: DirectoryEntries): AccessView {
  const staffEntry = access.actorKind === STAFF ? entries.staff.get(access.actorId) : undefined;
  const { centreId, partnerId } = placeOf(access, staffEntry);
  return {
    beneficiaryRef: access.beneficiaryRef,
    occurredAt: access.occurredAt,
    granted: access.granted,
    role: access.role || staffEntry?.role || access.actorKind,
    centreOrPartner: centreId || partnerId,
    centreName: entries.centres.get(centreId)?.name ?? '',
    partnerName: entries.partners.get(partnerId) ?? '',
    purpose: access.purpose,
    refusal: access.refusal,
  };
}
