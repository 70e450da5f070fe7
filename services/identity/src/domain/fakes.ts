// In-memory stand-ins for the identity domain's ports, for unit tests.
import type { Mobile } from '@vaxguard/pii';
import type {
  BeneficiaryRecord,
  BeneficiaryStore,
  BeneficiaryUnitOfWork,
  IdentityEvent,
  NewBeneficiary,
} from './beneficiary-service';
import type { ConsentSmsCounts } from './identity-rules';
import type {
  ApiLockScope,
  Centre,
  NewStaff,
  PartnerRecord,
  PrincipalEvent,
  PrincipalRef,
  PrincipalStore,
  PrincipalUnitOfWork,
} from './principals';

interface State {
  readonly beneficiaries: Map<string, NewBeneficiary>;
  readonly secretCodeFailures: Map<string, number>;
  readonly staffConsentRequests: Map<string, number>;
  readonly consentSmsCounts: Map<string, ConsentSmsCounts>;
  readonly events: IdentityEvent[];
}

/** A registry entry's consent SMS quota, as the partners table holds it. */
type ConsentSmsEntry = { consentSmsPerMinute?: number; consentSmsPerDay?: number };

/** A store whose transactions commit when the work resolves and leave no trace when it throws. */
export class InMemoryBeneficiaryStore implements BeneficiaryStore {
  private state: State = {
    beneficiaries: new Map(),
    secretCodeFailures: new Map(),
    staffConsentRequests: new Map(),
    consentSmsCounts: new Map(),
    events: [],
  };
  private readonly consentSmsQuotas = new Map<string, ConsentSmsEntry>();

  /** Sets a client's registry entry for the consent SMS quota, as a registration would. */
  setConsentSmsQuota(clientId: string, entry: ConsentSmsEntry): void {
    this.consentSmsQuotas.set(clientId, entry);
  }

  get events(): readonly IdentityEvent[] {
    return this.state.events;
  }

  stored(ref: string): NewBeneficiary | undefined {
    return this.state.beneficiaries.get(ref);
  }

  async transaction<T>(work: (uow: BeneficiaryUnitOfWork) => Promise<T>): Promise<T> {
    const draft: State = {
      beneficiaries: new Map(this.state.beneficiaries),
      secretCodeFailures: new Map(this.state.secretCodeFailures),
      staffConsentRequests: new Map(this.state.staffConsentRequests),
      consentSmsCounts: new Map(this.state.consentSmsCounts),
      events: [...this.state.events],
    };
    const result = await work(unitOfWork(draft, this.consentSmsQuotas));
    this.state = draft;
    return result;
  }

  /** Each change is kept as it is made, even when the work throws later. */
  async autocommit<T>(work: (uow: BeneficiaryUnitOfWork) => Promise<T>): Promise<T> {
    return work(unitOfWork(this.state, this.consentSmsQuotas));
  }
}

function record(beneficiary: NewBeneficiary): BeneficiaryRecord {
  const { ref, mobileIndex, maskedMobile, name, gender, yearOfBirth, photoIdKind } = beneficiary;
  const { maskedPhotoId, canary } = beneficiary;
  return {
    ref,
    mobileIndex,
    maskedMobile,
    name,
    gender,
    yearOfBirth,
    photoIdKind,
    maskedPhotoId,
    canary,
  };
}

function unitOfWork(
  state: State,
  consentSmsQuotas: ReadonlyMap<string, ConsentSmsEntry>,
): BeneficiaryUnitOfWork {
  const all = () => [...state.beneficiaries.values()];
  return {
    lockMobile: async () => undefined,
    countOnMobile: async (mobileIndex) =>
      all().filter((beneficiary) => beneficiary.mobileIndex === mobileIndex).length,
    insert: async (beneficiary) => {
      if (all().some((other) => other.photoIdIndex === beneficiary.photoIdIndex)) {
        return 'duplicate-document';
      }
      state.beneficiaries.set(beneficiary.ref, beneficiary);
      return 'inserted';
    },
    listByMobile: async (mobileIndex) =>
      all()
        .filter((beneficiary) => beneficiary.mobileIndex === mobileIndex)
        .map(record),
    find: async (ref) => {
      const found = state.beneficiaries.get(ref);
      return found ? record(found) : undefined;
    },
    findForSecretCode: async (ref) => {
      const found = state.beneficiaries.get(ref);
      if (!found) return undefined;
      return {
        ...record(found),
        secretCodeHash: found.secretCodeHash,
        secretCodeFailures: state.secretCodeFailures.get(ref) ?? 0,
      };
    },
    recordSecretCodeFailure: async (ref) => {
      const failures = (state.secretCodeFailures.get(ref) ?? 0) + 1;
      state.secretCodeFailures.set(ref, failures);
      return failures;
    },
    clearSecretCodeFailures: async (ref) => void state.secretCodeFailures.delete(ref),
    countStaffConsentRequest: async (staffId, windowStart) => {
      const key = `${staffId}@${windowStart.toISOString()}`;
      const requests = (state.staffConsentRequests.get(key) ?? 0) + 1;
      state.staffConsentRequests.set(key, requests);
      return requests;
    },
    lockConsentSmsCounts: async (clientId) => ({
      quota: consentSmsQuotas.get(clientId) ?? {},
      counts: state.consentSmsCounts.get(clientId),
    }),
    saveConsentSmsCounts: async (clientId, counts) =>
      void state.consentSmsCounts.set(clientId, counts),
    markCanary: async (ref) => {
      const found = state.beneficiaries.get(ref);
      if (found) state.beneficiaries.set(ref, { ...found, canary: true });
      return found !== undefined;
    },
    mobileOf: async (ref): Promise<Mobile | undefined> => state.beneficiaries.get(ref)?.mobile,
    publish: async (event) => {
      state.events.push(event);
    },
  };
}

interface PrincipalState {
  readonly centres: Map<string, Centre>;
  readonly staff: Map<string, NewStaff>;
  readonly partners: Map<string, PartnerRecord>;
  readonly suspended: Set<string>;
  readonly locks: Map<string, ApiLockScope>;
  /** `client|windowStart|usernameIndex` of each failed sign-in. */
  readonly signInFailures: Set<string>;
  readonly events: PrincipalEvent[];
}

/** Principals in memory; transactions commit when the work resolves, vanish when it throws. */
export class InMemoryPrincipalStore implements PrincipalStore {
  private state: PrincipalState = {
    centres: new Map(),
    staff: new Map(),
    partners: new Map(),
    suspended: new Set(),
    locks: new Map(),
    signInFailures: new Set(),
    events: [],
  };

  get events(): readonly PrincipalEvent[] {
    return this.state.events;
  }

  staff(staffId: string): NewStaff | undefined {
    return this.state.staff.get(staffId);
  }

  async transaction<T>(work: (uow: PrincipalUnitOfWork) => Promise<T>): Promise<T> {
    const s = this.state;
    const draft: PrincipalState = {
      centres: new Map(s.centres),
      staff: new Map(s.staff),
      partners: new Map(s.partners),
      suspended: new Set(s.suspended),
      locks: new Map(s.locks),
      signInFailures: new Set(s.signInFailures),
      events: [...s.events],
    };
    const result = await work(principalUnitOfWork(draft));
    this.state = draft;
    return result;
  }
}

function principalUnitOfWork(state: PrincipalState): PrincipalUnitOfWork {
  const byUsername = (username: string) =>
    [...state.staff.values()].find((staff) => staff.username === username);
  const key = (principal: PrincipalRef) => `${principal.kind}:${principal.id}`;
  return {
    insertCentre: async (centre) => void state.centres.set(centre.centreId, centre),
    findCentre: async (centreId) => state.centres.get(centreId),
    insertStaff: async (staff) => {
      if (byUsername(staff.username)) return 'duplicate-username';
      if ([...state.staff.values()].some((other) => other.mobileIndex === staff.mobileIndex)) {
        return 'duplicate-mobile';
      }
      state.staff.set(staff.staffId, staff);
      return 'inserted';
    },
    findStaffByUsernameForUpdate: async (username) => byUsername(username),
    findStaff: async (staffId) => state.staff.get(staffId),
    recordLoginFailure: async (staffId, at) => {
      const staff = state.staff.get(staffId);
      if (staff) {
        state.staff.set(staffId, {
          ...staff,
          failedLogins: staff.failedLogins + 1,
          lastFailedLoginAt: at,
        });
      }
    },
    clearLoginFailures: async (staffId) => {
      const staff = state.staff.get(staffId);
      if (staff) state.staff.set(staffId, { ...staff, failedLogins: 0 });
    },
    countClientSignInFailures: async (clientId, windowStart) =>
      [...state.signInFailures].filter((key) =>
        key.startsWith(`${clientId}|${windowStart.toISOString()}|`),
      ).length,
    recordClientSignInFailure: async (clientId, usernameIndex, windowStart) =>
      void state.signInFailures.add(`${clientId}|${windowStart.toISOString()}|${usernameIndex}`),
    mobileOfStaff: async (staffId) => {
      const staff = state.staff.get(staffId);
      if (!staff) throw new Error('no such staff member');
      return staff.mobile;
    },
    insertPartner: async (partner) => {
      if (state.partners.has(partner.clientId)) return 'duplicate';
      state.partners.set(partner.clientId, partner);
      return 'inserted';
    },
    findPartnerForUpdate: async (clientId) => state.partners.get(clientId),
    setPartnerLocked: async (clientId, locked) => {
      const partner = state.partners.get(clientId);
      if (partner) state.partners.set(clientId, { ...partner, locked });
    },
    isSuspended: async (principal) => state.suspended.has(key(principal)),
    setSuspended: async (principal, suspended) => {
      const had = state.suspended.has(key(principal));
      if (suspended) state.suspended.add(key(principal));
      else state.suspended.delete(key(principal));
      return had !== suspended;
    },
    setApiLock: async (lockKey, scope, locked) => {
      const had = state.locks.has(lockKey);
      if (locked) state.locks.set(lockKey, scope);
      else state.locks.delete(lockKey);
      return had !== locked;
    },
    publish: async (event) => void state.events.push(event),
  };
}
