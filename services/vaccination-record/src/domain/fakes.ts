import { generateIssuerKey, type IssuerKey } from '@vaxguard/health-cards';
import { permissionDenied } from '@vaxguard/errors';
import { AccessDecisions } from './access-decisions';
import { CertificateService } from './certificate-service';
import { DoseService } from './dose-service';
import type {
  BeneficiaryDirectory,
  BeneficiaryFacts,
  CentreDirectory,
  CertificateHold,
  CertificateRecord,
  DoseCorrection,
  GrantVerifier,
  HoldLift,
  IssuerKeyring,
  KeyPublication,
  KnownBeneficiary,
  RecordEvent,
  RecordStore,
  RecordUnitOfWork,
  StoredDose,
} from './model';
import type { ConsentGrant } from './record-rules';

/** What the in-memory register holds; copied before each transaction to roll it back. */
interface RegisterState {
  /** Every version of every dose, in the order written. */
  versions: StoredDose[];
  corrections: (DoseCorrection & { readonly doseId: string; readonly version: number })[];
  known: Map<string, KnownBeneficiary>;
  /** The beneficiaries counted in a staff member's window, by `staffId|windowStart`. */
  quota: Map<string, Set<string>>;
  certificates: Map<string, CertificateRecord>;
  holds: (CertificateHold & { reason: string; lift?: HoldLift })[];
  /** Each key's revoked rids. */
  revoked: Map<string, string[]>;
  events: RecordEvent[];
}

function emptyRegister(): RegisterState {
  return {
    versions: [],
    corrections: [],
    known: new Map(),
    quota: new Map(),
    certificates: new Map(),
    holds: [],
    revoked: new Map(),
    events: [],
  };
}

function copyOf(state: RegisterState): RegisterState {
  return {
    versions: [...state.versions],
    corrections: [...state.corrections],
    known: new Map(state.known),
    quota: new Map([...state.quota].map(([key, refs]) => [key, new Set(refs)])),
    certificates: new Map(state.certificates),
    holds: state.holds.map((hold) => ({ ...hold })),
    revoked: new Map([...state.revoked].map(([kid, rids]) => [kid, [...rids]])),
    events: [...state.events],
  };
}

/**
 * The register in memory, for unit tests: a transaction that throws leaves nothing
 * behind (its writes and events dropped), as PostgreSQL's would. Transactions run one at
 * a time, so the locks are recorded (`locked`) but need not be taken. `doseTransaction`
 * is a transaction of its own: group commit is the batcher's, tested with it.
 */
export class MemoryRecordStore implements RecordStore {
  state = emptyRegister();
  /** The beneficiaries locked, in order, across all transactions. */
  readonly locked: string[] = [];
  transactions = 0;

  get events(): readonly RecordEvent[] {
    return this.state.events;
  }

  eventTypes(): string[] {
    return this.state.events.map((event) => event.type);
  }

  /** The current version of each dose. */
  doses(): StoredDose[] {
    const current = new Map<string, StoredDose>();
    for (const dose of this.state.versions) current.set(dose.doseId, dose);
    return [...current.values()];
  }

  activeHold(beneficiaryRef: string): CertificateHold | undefined {
    return this.state.holds.find((hold) => hold.beneficiaryRef === beneficiaryRef && !hold.lift);
  }

  /** Stores a dose as though recorded earlier, outside any test's transaction. */
  addDose(dose: StoredDose): void {
    this.state.versions.push(dose);
  }

  addCertificate(certificate: CertificateRecord): void {
    this.state.certificates.set(certificate.certificateId, certificate);
  }

  remember(known: KnownBeneficiary): void {
    this.state.known.set(known.beneficiaryRef, known);
  }

  revokedRids(kid: string): readonly string[] {
    return this.state.revoked.get(kid) ?? [];
  }

  async transaction<T>(work: (uow: RecordUnitOfWork) => Promise<T>): Promise<T> {
    this.transactions += 1;
    const before = copyOf(this.state);
    try {
      return await work(this.unitOfWork());
    } catch (error) {
      this.state = before;
      throw error;
    }
  }

  doseTransaction<T>(work: (uow: RecordUnitOfWork) => Promise<T>): Promise<T> {
    return this.transaction(work);
  }

  private unitOfWork(): RecordUnitOfWork {
    const current = () => this.doses();
    const dosesOf = (beneficiaryRef: string) =>
      current()
        .filter((dose) => dose.beneficiaryRef === beneficiaryRef)
        .sort((a, b) => a.doseNumber - b.doseNumber);
    const quotaOf = (staffId: string, windowStart: Date) => {
      const key = `${staffId}|${windowStart.toISOString()}`;
      let refs = this.state.quota.get(key);
      if (!refs) {
        refs = new Set();
        this.state.quota.set(key, refs);
      }
      return refs;
    };
    const usage = (staffId: string, windowStart: Date, beneficiaryRef: string) => {
      const refs = quotaOf(staffId, windowStart);
      return { alreadyCounted: refs.has(beneficiaryRef), distinct: refs.size };
    };
    const liveCertificate = (beneficiaryRef: string) =>
      [...this.state.certificates.values()].find(
        (certificate) => certificate.beneficiaryRef === beneficiaryRef && !certificate.revokedAt,
      );
    return {
      doseReads: async ({ clientRequestId, staffId, windowStart, beneficiaryRef }) => {
        const original = this.state.versions.find(
          (dose) => dose.clientRequestId === clientRequestId && dose.version === 0,
        );
        const latest = original && current().find((dose) => dose.doseId === original.doseId);
        return {
          ...(original && latest ? { earlier: { current: latest, original } } : {}),
          quota: usage(staffId, windowStart, beneficiaryRef),
          history: dosesOf(beneficiaryRef),
          ...(this.state.known.has(beneficiaryRef)
            ? { known: this.state.known.get(beneficiaryRef) }
            : {}),
        };
      },
      lockBeneficiary: async (beneficiaryRef) => {
        this.locked.push(beneficiaryRef);
      },
      dosesOf: async (beneficiaryRef) => dosesOf(beneficiaryRef),
      rememberBeneficiary: async (known) => {
        this.state.known.set(known.beneficiaryRef, known);
      },
      insertDose: async (dose) => {
        this.state.versions.push(dose);
      },
      findDose: async (doseId) => current().find((dose) => dose.doseId === doseId),
      saveCorrection: async (dose, correction) => {
        this.state.versions.push(dose);
        this.state.corrections.push({ ...correction, doseId: dose.doseId, version: dose.version });
      },
      liveCertificate: async (beneficiaryRef) => liveCertificate(beneficiaryRef),
      insertCertificate: async (certificate) => {
        this.state.certificates.set(certificate.certificateId, certificate);
      },
      findCertificate: async (certificateId) => this.state.certificates.get(certificateId),
      revokeCertificate: async (certificate, at) => {
        this.state.certificates.set(certificate.certificateId, { ...certificate, revokedAt: at });
        const rids = [...(this.state.revoked.get(certificate.kid) ?? []), certificate.rid];
        this.state.revoked.set(certificate.kid, rids);
        return rids.length + 1;
      },
      crlVersion: async (kid) => (this.state.revoked.get(kid) ?? []).length + 1,
      activeHold: async (beneficiaryRef) => this.activeHold(beneficiaryRef),
      placeHold: async (hold, reason) => {
        const inPlace = this.state.holds.find(
          (held) => held.beneficiaryRef === hold.beneficiaryRef && !held.lift,
        );
        if (inPlace) Object.assign(inPlace, hold, { reason });
        else this.state.holds.push({ ...hold, reason });
      },
      liftHold: async (beneficiaryRef, lift) => {
        const inPlace = this.state.holds.find(
          (held) => held.beneficiaryRef === beneficiaryRef && !held.lift,
        );
        if (inPlace) inPlace.lift = lift;
      },
      quotaUsage: async (staffId, windowStart, beneficiaryRef) =>
        usage(staffId, windowStart, beneficiaryRef),
      countInQuota: async (staffId, windowStart, beneficiaryRef) => {
        quotaOf(staffId, windowStart).add(beneficiaryRef);
      },
      publish: async (event) => {
        this.state.events.push(event);
      },
    };
  }
}

/** Consent grants by token; any other token is refused as identity's verifier would. */
export class FakeGrants implements GrantVerifier {
  readonly grants = new Map<string, ConsentGrant>();

  add(grant: ConsentGrant): ConsentGrant {
    this.grants.set(grant.token, grant);
    return grant;
  }

  async verify(token: string): Promise<ConsentGrant> {
    const grant = this.grants.get(token);
    if (!grant) throw permissionDenied('not a consent grant', { reason: 'INVALID_GRANT' });
    return grant;
  }
}

/**
 * Identity's view of beneficiaries: what each token may see. `asked` lists every call,
 * so a test sees whether identity was asked at all.
 */
export class FakeDirectory implements BeneficiaryDirectory {
  readonly asked: string[] = [];
  private readonly views = new Map<string, BeneficiaryFacts>();

  /** Identity shows `facts` to the holder of `token`. */
  show(token: string, facts: BeneficiaryFacts): void {
    this.views.set(`${token}|${facts.beneficiaryRef}`, facts);
  }

  async get(beneficiaryRef: string, token: string): Promise<BeneficiaryFacts | undefined> {
    this.asked.push(beneficiaryRef);
    return this.views.get(`${token}|${beneficiaryRef}`);
  }
}

export class FakeCentres implements CentreDirectory {
  constructor(private readonly known: Readonly<Record<string, string>> = {}) {}

  async names(centreIds: readonly string[]): Promise<ReadonlyMap<string, string>> {
    return new Map(
      centreIds.flatMap((id) => (Object.hasOwn(this.known, id) ? [[id, this.known[id]!]] : [])),
    );
  }
}

/** One issuer key, its revocation list read from the store's revoked rids. */
export class FakeKeyring implements IssuerKeyring {
  readonly key: IssuerKey = generateIssuerKey();

  constructor(private readonly store: MemoryRecordStore) {}

  async current(): Promise<IssuerKey> {
    return this.key;
  }

  async byKid(kid: string): Promise<IssuerKey | undefined> {
    return kid === this.key.kid ? this.key : undefined;
  }

  async publishedSince(known: ReadonlyMap<string, number>): Promise<readonly KeyPublication[]> {
    const { kid } = this.key;
    // The store's nth rid (from 0) was listed at version n + 2: the list starts at 1.
    const rids = this.store.revokedRids(kid);
    const held = known.get(kid);
    return [
      {
        kid,
        publicJwk: held === undefined ? this.key.publicJwk : undefined,
        crlVersion: rids.length + 1,
        added: rids.slice(Math.max(0, (held ?? 1) - 1)),
      },
    ];
  }
}

/** The record domain on fakes of every port, sharing one store and one clock. */
export function fakeRecordDomain(
  options: { readonly now?: Date; readonly staffBeneficiariesPerHour?: number } = {},
) {
  const time = { now: options.now ?? new Date('2026-11-22T06:00:00Z') };
  const clock = () => time.now;
  const store = new MemoryRecordStore();
  const grants = new FakeGrants();
  const directory = new FakeDirectory();
  const keys = new FakeKeyring(store);
  const access = new AccessDecisions({
    store,
    directory,
    grants,
    clock,
    staffBeneficiariesPerHour: options.staffBeneficiariesPerHour ?? 60,
  });
  const certificates = new CertificateService({
    store,
    access,
    centres: new FakeCentres({ ctr_1: 'PHC Andheri' }),
    keys,
    clock,
    issuer: 'https://vaxguard.example',
    ridSecret: Buffer.alloc(32, 7),
  });
  const doses = new DoseService({ store, access, certificates, clock });
  return { time, store, grants, directory, keys, access, certificates, doses };
}
