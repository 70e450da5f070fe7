import { describe, expect, it } from 'vitest';
import type {
  CertificateHold,
  CertificateRecord,
  HoldLift,
  RecordEvent,
  RecordStore,
  RecordUnitOfWork,
  StaffAccess,
  StaffSession,
} from './model';
import { AccessDecisions } from './access-decisions';
import { CertificateService } from './certificate-service';
import type { RevocationCause } from './record-rules';

const admin: StaffSession = {
  staffId: 'stf_admin',
  role: 'PLATFORM_ADMIN',
  centreId: '',
  clientId: 'console',
};
const centreAdmin: StaffSession = { ...admin, staffId: 'stf_centre', role: 'CENTRE_ADMIN' };
const BENEFICIARY = 'bnf_01hzy0000000000000000000aa';
const certificateId = (n: number) => `crt_${String(n).padStart(22, '0')}`;

/**
 * Certificates, holds and revocation lists in memory, with the order in which a
 * transaction locked the beneficiary and wrote: what RevokeCertificate and
 * LiftCertificateHold read and change. Other reads are not part of these rules.
 */
class MemoryStore implements RecordStore {
  readonly certificates = new Map<string, CertificateRecord>();
  readonly holds: (CertificateHold & { reason: string; lift?: HoldLift })[] = [];
  readonly events: RecordEvent[] = [];
  readonly steps: string[] = [];
  crl = 1;

  issue(n: number, revokedAt?: Date): CertificateRecord {
    const certificate: CertificateRecord = {
      certificateId: certificateId(n),
      beneficiaryRef: BENEFICIARY,
      kid: 'kid-1',
      rid: `rid${n}`,
      issuedAt: new Date(0),
      revokedAt,
    };
    this.certificates.set(certificate.certificateId, certificate);
    return certificate;
  }

  activeHold(): (CertificateHold & { reason: string }) | undefined {
    return this.holds.find((hold) => !hold.lift);
  }

  async transaction<T>(work: (uow: RecordUnitOfWork) => Promise<T>): Promise<T> {
    const uow: Partial<RecordUnitOfWork> = {
      findCertificate: (id) => Promise.resolve(this.certificates.get(id)),
      lockBeneficiary: (ref) => {
        this.steps.push(`lock ${ref}`);
        return Promise.resolve();
      },
      revokeCertificate: (certificate, at) => {
        this.steps.push(`revoke ${certificate.certificateId}`);
        this.certificates.set(certificate.certificateId, { ...certificate, revokedAt: at });
        return Promise.resolve(++this.crl);
      },
      crlVersion: () => Promise.resolve(this.crl),
      liveCertificate: (ref) =>
        Promise.resolve(
          [...this.certificates.values()].find((c) => c.beneficiaryRef === ref && !c.revokedAt),
        ),
      activeHold: () => Promise.resolve(this.activeHold()),
      placeHold: (hold, reason) => {
        this.steps.push(`hold ${hold.cause}`);
        const inPlace = this.activeHold();
        if (inPlace) Object.assign(inPlace, hold, { reason });
        else this.holds.push({ ...hold, reason });
        return Promise.resolve();
      },
      liftHold: (_ref, lift) => {
        this.steps.push(`lift ${lift.liftedBy}`);
        const inPlace = this.activeHold();
        if (inPlace) Object.assign(inPlace, { lift });
        return Promise.resolve();
      },
      publish: (event) => {
        this.events.push(event);
        return Promise.resolve();
      },
    };
    return work(uow as RecordUnitOfWork);
  }

  doseTransaction<T>(work: (uow: RecordUnitOfWork) => Promise<T>): Promise<T> {
    return this.transaction(work);
  }
}

function serviceWith(store: MemoryStore): CertificateService {
  const unused = {} as never;
  const clock = () => new Date('2024-03-01T10:00:00Z');
  return new CertificateService({
    store,
    access: new AccessDecisions({
      store,
      directory: unused,
      grants: unused,
      clock,
      staffBeneficiariesPerHour: 60,
    }),
    centres: unused,
    keys: unused,
    clock,
    issuer: 'https://example.test',
    ridSecret: Buffer.alloc(32),
  });
}
const access = (session: StaffSession, method: string): StaffAccess => ({
  actor: { kind: 'staff', ...session },
  purpose: 'CERTIFICATE',
  method,
});

const revoke = (
  service: CertificateService,
  n: number,
  cause: RevocationCause | undefined,
  session = admin,
) =>
  service.revokeCertificate(access(session, 'RevokeCertificate'), {
    certificateId: certificateId(n),
    reason: 'reported by the helpdesk',
    cause,
  });
const typesOf = (store: MemoryStore) => store.events.map((event) => event.type);

describe('revoking a certificate for a cause', () => {
  it('a leaked card is revoked and nothing is held: the next GetCertificate issues a new one', async () => {
    const store = new MemoryStore();
    store.issue(1);
    const service = serviceWith(store);
    expect(await revoke(service, 1, 'LEAKED')).toEqual({
      kid: 'kid-1',
      crlVersion: 2,
      held: false,
    });
    expect(store.activeHold()).toBeUndefined();
    expect(typesOf(store)).toEqual(['certificate.revoked']);
    await expect(revoke(service, 1, 'LEAKED')).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      reason: 'ALREADY_REVOKED',
    });
  });

  it.each(['FRAUDULENT', 'MISTAKEN_RECORD'] as const)(
    'a %s record is revoked and held, under the beneficiary’s lock taken first; again, nothing changes',
    async (cause) => {
      const store = new MemoryStore();
      store.issue(1);
      const service = serviceWith(store);
      const first = await revoke(service, 1, cause);
      expect(first).toEqual({ kid: 'kid-1', crlVersion: 2, held: true });
      expect(store.steps).toEqual([
        `lock ${BENEFICIARY}`,
        `revoke ${certificateId(1)}`,
        `hold ${cause}`,
      ]);
      expect(store.activeHold()).toMatchObject({
        certificateId: certificateId(1),
        cause,
        placedBy: admin.staffId,
      });
      expect(typesOf(store)).toEqual(['certificate.revoked', 'certificate.held']);
      expect(await revoke(service, 1, cause)).toEqual(first);
      expect(typesOf(store)).toEqual(['certificate.revoked', 'certificate.held']);
      expect(store.holds).toHaveLength(1);
    },
  );

  it('fraud found on a card already replaced after a leak revokes the live replacement too', async () => {
    const store = new MemoryStore();
    store.issue(1, new Date(0));
    store.issue(2);
    const service = serviceWith(store);
    expect(await revoke(service, 1, 'FRAUDULENT')).toMatchObject({ held: true });
    expect(store.certificates.get(certificateId(2))?.revokedAt).toBeDefined();
    expect(store.activeHold()?.cause).toBe('FRAUDULENT');
  });

  it('a mistaken record found fraudulent becomes a fraud hold (which a correction does not lift)', async () => {
    const store = new MemoryStore();
    store.issue(1);
    const service = serviceWith(store);
    await revoke(service, 1, 'MISTAKEN_RECORD');
    await revoke(service, 1, 'FRAUDULENT');
    expect(store.holds).toHaveLength(1);
    expect(store.activeHold()?.cause).toBe('FRAUDULENT');
    expect(typesOf(store)).toEqual(['certificate.revoked', 'certificate.held', 'certificate.held']);
  });

  it('refuses no cause before reading anything, and anyone but a platform admin', async () => {
    const store = new MemoryStore();
    store.issue(1);
    const service = serviceWith(store);
    await expect(revoke(service, 1, undefined)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      reason: 'INVALID_REVOCATION_CAUSE',
    });
    await expect(revoke(service, 1, 'FRAUDULENT', centreAdmin)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      reason: 'ROLE_NOT_ALLOWED',
    });
    expect(store.steps).toEqual([]);
    // The refusal of a staff member is itself an event.
    expect(typesOf(store)).toEqual(['record.access_denied']);
  });
});

describe('lifting a hold', () => {
  const lift = (service: CertificateService, session = admin) =>
    service.liftCertificateHold(access(session, 'LiftCertificateHold'), {
      certificateId: certificateId(1),
      reason: 'checked with the centre',
    });

  it('a platform admin lifts it once, published; with none in place nothing changes', async () => {
    const store = new MemoryStore();
    store.issue(1);
    const service = serviceWith(store);
    await revoke(service, 1, 'FRAUDULENT');
    await expect(lift(service, centreAdmin)).rejects.toMatchObject({ reason: 'ROLE_NOT_ALLOWED' });
    expect(store.activeHold()).toBeDefined();
    expect(await lift(service)).toEqual({ lifted: true });
    expect(store.activeHold()).toBeUndefined();
    expect(store.holds[0]?.lift).toMatchObject({ liftedBy: 'ADMIN', staffId: admin.staffId });
    expect(await lift(service)).toEqual({ lifted: false });
    expect(typesOf(store).filter((type) => type === 'certificate.hold_lifted')).toHaveLength(1);
  });

  it('an unknown certificate is NOT_FOUND (to a platform admin only)', async () => {
    const service = serviceWith(new MemoryStore());
    await expect(lift(service)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      reason: 'NO_CERTIFICATE',
    });
  });
});
