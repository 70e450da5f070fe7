// The hot calls the scale benchmark times at each size, through the real services over
// gRPC (and the revocation list over HTTP), each on rows drawn at random from the whole
// seeded population: citizens signed in on seeded mobiles read their own beneficiaries,
// certificates and access histories; vaccinators record first doses for seeded
// beneficiaries who had none, under consent grants they asked for; an auditor queries
// the log by each filter; anyone asks for proofs and verifies the newest entries.
import { randomBytes, randomInt } from 'node:crypto';
import { identityStaffV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { callAs, type World } from '@vaxguard/testing';
import { runLoad, type LoadResult } from '../load';
import { seededStaffId } from './audit-seeder';
import {
  AUDIT_ENTRIES_PER_BENEFICIARY,
  BENEFICIARIES_PER_MOBILE,
  type Population,
} from './population';

/** How each call is loaded: a few callers at once, a bounded number of calls. */
export interface CallLimits {
  readonly concurrency: number;
  readonly maxCalls: number;
  readonly maxSeconds: number;
}

/** The citizens, staff and keys the calls are made as, set up once per run. */
export interface Cast {
  readonly centreId: string;
  readonly vaccinators: readonly { id: string; session: string }[];
  readonly auditorSession: string;
  readonly kid: string;
  readonly issuerUrl: string;
}

/** Vaccinators a run creates: each may ask 10 people for consent a minute (identity's rule). */
export const VACCINATORS = 5;
/** Citizens signed in at each size, each on a seeded mobile with four beneficiaries. */
const CITIZENS = 8;
/** First doses recorded at each size (one consent grant each, within identity's rate). */
const DOSES = 45;
/** VerifyLog covers the newest this many entries (the figure). */
export const VERIFY_LOG_ENTRIES = 100_000;
const VERIFY_LOG_RUNS = 3;
/** Calls made before each timed run, so connections and prepared statements are warm. */
const WARM_UP_CALLS = 10;

export async function setUpCast(world: World, issuerUrl: string, kid: string): Promise<Cast> {
  const centreId = await world.centre();
  return { centreId, ...(await signedInStaff(world, centreId)), kid, issuerUrl };
}

/**
 * Vaccinators and an auditor, created and signed in now: a size's calls outlast no staff
 * session (they end after identity's session lifetime; seeding a size takes longer).
 */
export async function signedInStaff(
  world: World,
  centreId: string,
): Promise<Pick<Cast, 'vaccinators' | 'auditorSession'>> {
  const vaccinators = [];
  for (let i = 0; i < VACCINATORS; i++) {
    vaccinators.push(await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR, centreId));
  }
  const auditor = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
  return { vaccinators, auditorSession: auditor.session };
}

const indianToday = () => new Date(Date.now() + 5.5 * 3_600_000).toISOString().slice(0, 10);
const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)] as T;

/**
 * Times every hot call once the platform holds `beneficiaries` beneficiaries and
 * `entries` log entries; each call's result by name.
 */
export async function timeCalls(options: {
  readonly world: World;
  readonly population: Population;
  readonly cast: Cast;
  readonly beneficiaries: number;
  readonly entries: number;
  readonly limits: CallLimits;
  readonly say: (line: string) => void;
}): Promise<Map<string, LoadResult>> {
  const { world, population, cast, beneficiaries, entries, limits, say } = options;
  const { identity, records, audit } = world.clients;
  const results = new Map<string, LoadResult>();
  const time = async (name: string, call: (index: number) => Promise<unknown>, max = limits) => {
    // A few calls first, so connections and prepared statements are warm.
    const warmUp = Math.min(WARM_UP_CALLS, Math.max(1, Math.floor(max.maxCalls / 4)));
    await runLoad({ ...max, maxCalls: warmUp, call });
    const result = await runLoad({ ...max, call });
    if (result.errors > 0 && result.calls === 0) {
      // Run it once more, unguarded, so the refusal itself is what is reported.
      await call(0);
    }
    results.set(name, result);
    say(
      `${name.padEnd(36)} p50 ${result.p50Ms.toFixed(1).padStart(7)} ms  p99 ${result.p99Ms.toFixed(1).padStart(7)} ms  (${result.calls} ok, ${result.errors} errors)`,
    );
  };

  // Citizens on mobiles whose beneficiaries the log has entries for (a quarter of the
  // population when the log holds as many entries as there are beneficiaries).
  const withHistory = Math.max(
    BENEFICIARIES_PER_MOBILE,
    Math.min(beneficiaries, Math.floor(entries / AUDIT_ENTRIES_PER_BENEFICIARY)),
  );
  const citizens: { token: string; refs: string[]; vaccinatedRefs: string[] }[] = [];
  for (let i = 0; i < CITIZENS; i++) {
    const first =
      randomInt(Math.floor(withHistory / BENEFICIARIES_PER_MOBILE)) * BENEFICIARIES_PER_MOBILE;
    const onMobile = Array.from({ length: BENEFICIARIES_PER_MOBILE }, (_, slot) => first + slot);
    citizens.push({
      token: await world.citizen(population.mobile(first)),
      refs: onMobile.map((n) => population.ref(n)),
      vaccinatedRefs: onMobile
        .filter((n) => population.vaccinated(n) && !population.revoked(n))
        .map((n) => population.ref(n)),
    });
  }
  const citizenRead = () => {
    const citizen = pick(citizens);
    return { citizen, options: callAs(citizen.token) };
  };

  await time('GetBeneficiary', () => {
    const { citizen, options } = citizenRead();
    return identity.call('getBeneficiary', { beneficiaryRef: pick(citizen.refs) }, options);
  });
  const cards: string[] = [];
  await time('GetCertificate', async () => {
    const { citizen, options } = citizenRead();
    const { jws } = await records.call(
      'getCertificate',
      { beneficiaryRef: pick(citizen.vaccinatedRefs) },
      options,
    );
    cards.push(jws);
  });
  await time('VerifyCertificate', async () => {
    const { status } = await records.call('verifyCertificate', { qrOrJws: pick(cards) }, callAs());
    if (status !== vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_VALID)
      throw new Error(`VerifyCertificate answered status ${status}`);
  });
  const crlUrl = `${cast.issuerUrl.replace(/\/$/, '')}/.well-known/crl/${cast.kid}.json`;
  let crlBytes = 0;
  await time('revocation list (HTTP GET)', async () => {
    const response = await fetch(crlUrl);
    if (!response.ok) throw new Error(`GET ${crlUrl}: ${response.status}`);
    crlBytes = (await response.arrayBuffer()).byteLength;
  });
  say(`  the revocation list is ${crlBytes.toLocaleString('en')} bytes`);

  // ---- RecordDose: consent grants for seeded beneficiaries who had no dose -----------
  const unvaccinated = Array.from({ length: DOSES }, () => {
    const mobile = randomInt(Math.floor(beneficiaries / BENEFICIARIES_PER_MOBILE));
    return mobile * BENEFICIARIES_PER_MOBILE + (BENEFICIARIES_PER_MOBILE - 1);
  });
  const grants = await Promise.all(
    [...new Set(unvaccinated)].map(async (n, i) => {
      const vaccinator = cast.vaccinators[i % cast.vaccinators.length]!;
      const { txnId } = await identity.call(
        'requestConsent',
        { target: { $case: 'beneficiaryRef', value: population.ref(n) } },
        callAs(vaccinator.session),
      );
      return { n, vaccinator, grant: await world.confirm(txnId) };
    }),
  );
  const today = indianToday();
  let nextGrant = 0;
  await time(
    'RecordDose',
    async () => {
      const next = grants[nextGrant++];
      if (!next) throw new Error('no consent grant left');
      await records.call(
        'recordDose',
        {
          beneficiaryRef: population.ref(next.n),
          vaccineCode: 'COVISHIELD',
          doseNumber: 1,
          batchNumber: 'SCALE0001',
          administeredOn: today,
          clientRequestId: `scale-${randomBytes(8).toString('hex')}`,
          consentGrant: next.grant,
        },
        callAs(next.vaccinator.session),
      );
    },
    // Each grant is used once: the warm-up takes the first, the timed calls the rest.
    { ...limits, maxCalls: grants.length - WARM_UP_CALLS },
  );

  // ---- The audit log -----------------------------------------------------------------
  const asAuditor = callAs(cast.auditorSession);
  const query = (filter: {
    actorId?: string;
    subjectRef?: string;
    eventType?: string;
    from?: Date;
    to?: Date;
  }) =>
    audit.call(
      'queryEntries',
      {
        actorId: filter.actorId ?? '',
        subjectRef: filter.subjectRef ?? '',
        eventType: filter.eventType ?? '',
        from: filter.from,
        to: filter.to,
        pageSize: 100,
        pageToken: '',
      },
      asAuditor,
    );
  await time('QueryEntries, newest page', () => query({}));
  await time('QueryEntries, by actor', () =>
    query({ actorId: seededStaffId(randomInt(1_000_000)) }),
  );
  await time('QueryEntries, by subject', () =>
    query({ subjectRef: population.ref(randomInt(withHistory)) }),
  );
  await time('QueryEntries, by event type', () => query({ eventType: 'record.accessed' }));
  await time('QueryEntries, the last hour', () =>
    query({ from: new Date(Date.now() - 3_600_000), to: new Date() }),
  );
  await time('GetMyAccessHistory', () =>
    audit.call('getMyAccessHistory', { pageSize: 50, pageToken: '' }, callAs(pick(citizens).token)),
  );
  const { treeSize } = await audit.call('getCheckpoint', {}, callAs());
  const size = Number(treeSize);
  await time('GetInclusionProof', () =>
    audit.call(
      'getInclusionProof',
      { index: String(randomInt(size)), treeSize: String(size) },
      callAs(),
    ),
  );
  await time('GetConsistencyProof', () =>
    audit.call(
      'getConsistencyProof',
      { oldSize: String(1 + randomInt(size - 1)), newSize: String(size) },
      callAs(),
    ),
  );
  const from = Math.max(0, size - VERIFY_LOG_ENTRIES);
  await time(
    `VerifyLog, newest ${VERIFY_LOG_ENTRIES.toLocaleString('en')} entries`,
    async () => {
      let pageToken = '';
      do {
        const page = await audit.call(
          'verifyLog',
          { from: String(from), to: String(size), pageSize: 0, pageToken },
          { ...asAuditor, deadlineMs: 600_000 },
        );
        if (page.firstMismatch) throw new Error(`VerifyLog: ${page.firstMismatch.description}`);
        pageToken = page.nextPageToken;
        if (!pageToken && !page.ok) throw new Error('VerifyLog ended without ok');
      } while (pageToken);
    },
    { concurrency: 1, maxCalls: VERIFY_LOG_RUNS, maxSeconds: 600 },
  );
  return results;
}
