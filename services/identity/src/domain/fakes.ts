// In-memory stand-ins for the identity domain's ports, for unit tests.
import type { Mobile } from '@vaxguard/pii';
import type {
  BeneficiaryRecord,
  BeneficiaryStore,
  BeneficiaryUnitOfWork,
  IdentityEvent,
  NewBeneficiary,
} from './beneficiary-service';

interface State {
  readonly beneficiaries: Map<string, NewBeneficiary>;
  readonly events: IdentityEvent[];
}

/** A store whose transactions commit when the work resolves and leave no trace when it throws. */
export class InMemoryBeneficiaryStore implements BeneficiaryStore {
  private state: State = { beneficiaries: new Map(), events: [] };

  get events(): readonly IdentityEvent[] {
    return this.state.events;
  }

  stored(ref: string): NewBeneficiary | undefined {
    return this.state.beneficiaries.get(ref);
  }

  async transaction<T>(work: (uow: BeneficiaryUnitOfWork) => Promise<T>): Promise<T> {
    const draft: State = {
      beneficiaries: new Map(this.state.beneficiaries),
      events: [...this.state.events],
    };
    const result = await work(unitOfWork(draft));
    this.state = draft;
    return result;
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

function unitOfWork(state: State): BeneficiaryUnitOfWork {
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
    mobileOf: async (ref): Promise<Mobile | undefined> => state.beneficiaries.get(ref)?.mobile,
    publish: async (event) => {
      state.events.push(event);
    },
  };
}
