// Leak-replay scenarios 4 and 5 against the whole platform as processes. 4: a citizen's
// token reaches nothing of another citizen's records, and cannot even tell them from
// records that do not exist. 5: forged tokens (unsigned, algorithm-confused, foreign-signed,
// expired, revoked, of another audience, tampered) get nothing from any RPC that takes a
// token, in any service. The file ends with the shared leak scan over what they left.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { decodeJwt, decodeProtectedHeader, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceCallOptions, ServiceStreamOptions } from '@vaxguard/grpc-kit';
import { newBeneficiaryRef } from '@vaxguard/pii';
import { auditV1, identityStaffV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { Sealer } from '@vaxguard/sealing';
import {
  eventually,
  outcomeOf,
  type Refusal,
  callAs,
  everythingReadable,
  findRawValues,
  startWorld,
  type World,
} from '@vaxguard/testing';
import { AUDIENCE, type Audience } from '@vaxguard/tokens';

/**
 * OTP's key-encryption key, chosen here and given to the OTP process, so that this test
 * can do what an insider holding it and a copy of OTP's database could: unseal the real
 * signing key and sign a token that differs from a live one only in its `exp`.
 */
const OTP_KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');
/** What OTP seals its signing keys under, with the key id as associated data (its app.ts). */
const SIGNING_KEY_SEAL_CONTEXT = 'vaxguard/otp/signing-key/v1';

const { STAFF_ROLE_VACCINATOR } = identityStaffV1.StaffRole;
const CITIZEN = AUDIENCE.citizen;
const STAFF = AUDIENCE.staff;
const CONSENT = AUDIENCE.consent;

/**
 * The RPCs that take a VaxGuard token in x-vaxguard-token, with the audiences each
 * accepts, as the protos and the README document them.
 */
const TOKEN_AUDIENCES: Readonly<Record<string, readonly Audience[]>> = {
  // A citizen's own consent grants: listed and withdrawn with their sign-in token.
  'OtpService/ListMyConsents': [CITIZEN],
  'OtpService/WithdrawConsent': [CITIZEN],
  'IdentityService/RegisterBeneficiary': [CITIZEN],
  'IdentityService/ListMyBeneficiaries': [CITIZEN],
  'IdentityService/GetBeneficiary': [CITIZEN, CONSENT],
  // A partner asks without a token, in its own name; a token that is sent is checked.
  'IdentityService/RequestConsent': [STAFF],
  'IdentityService/VerifySecretCode': [STAFF],
  'IdentityService/CreateCentre': [STAFF],
  'IdentityService/CreateStaff': [STAFF],
  'IdentityService/RegisterPartner': [STAFF],
  'IdentityService/MarkCanary': [STAFF],
  // The audit service suspends without a token, with its own credentials.
  'IdentityService/SuspendPrincipal': [STAFF],
  'IdentityService/ReinstatePrincipal': [STAFF],
  'IdentityService/LockPartner': [STAFF],
  'IdentityService/UnlockPartner': [STAFF],
  'IdentityService/SetApiLock': [STAFF],
  'IdentityService/ClearApiLock': [STAFF],
  'VaccinationRecordService/RecordDose': [STAFF],
  'VaccinationRecordService/CorrectDose': [STAFF],
  'VaccinationRecordService/FindBeneficiaryForVaccination': [STAFF],
  'VaccinationRecordService/GetCertificate': [CITIZEN, CONSENT],
  'VaccinationRecordService/RevokeCertificate': [STAFF],
  'VaccinationRecordService/LiftCertificateHold': [STAFF],
  'AuditService/GetEntries': [STAFF],
  'AuditService/VerifyLog': [STAFF],
  'AuditService/ListAlerts': [STAFF],
  'AuditService/AcknowledgeAlert': [STAFF],
  'AuditService/QueryEntries': [STAFF],
  'AuditService/GetMyAccessHistory': [CITIZEN],
  'AuditService/ExportEntries': [STAFF],
};

/**
 * The RPCs that take no token: the client application's own calls. The authenticator
 * (libs/auth) returns before it looks at x-vaxguard-token for a method with no policy,
 * so a token sent to one of these is ignored.
 */
const PUBLIC_METHODS: readonly string[] = [
  // OTP takes no token on these: it is where tokens come from.
  'OtpService/GenerateOtp',
  'OtpService/ResendOtp',
  'OtpService/ConfirmOtp',
  'OtpService/GetSigningKeys',
  // Revoked by token id, by the client application the token was issued to.
  'OtpService/RevokeToken',
  // Only identity's own client (scope token:issue-consent).
  'OtpService/IssueSecretCodeGrant',
  'IdentityService/StartStaffLogin',
  'VaccinationRecordService/GetIssuerKeys',
  'VaccinationRecordService/GetRevocationList',
  'VaccinationRecordService/VerifyCertificate',
  'AuditService/GetCheckpoint',
  'AuditService/GetInclusionProof',
  'AuditService/GetConsistencyProof',
];

/** The forgeries, each with the reason every verifier must refuse it for. */
const FORGERIES = {
  'alg none': 'TOKEN_ALGORITHM',
  'HS256 keyed with the published public key': 'TOKEN_ALGORITHM',
  'a foreign Ed25519 key under the real kid': 'TOKEN_SIGNATURE',
  'expired, signed with the real key': 'TOKEN_EXPIRED',
  'revoked by its holder': 'TOKEN_REVOKED',
  'a real token with its payload changed': 'TOKEN_SIGNATURE',
} as const;
type Forgery = keyof typeof FORGERIES;

/** A generated method definition, as much of it as a sweep over every method needs. */
interface MethodDefinition {
  readonly path: string;
  readonly responseStream: boolean;
  requestDeserialize(bytes: Buffer): unknown;
}

/** A kit client called by a method name from a loop (its own types want a literal name). */
interface AnyServiceClient {
  call(method: string, request: unknown, options: ServiceCallOptions): Promise<unknown>;
  stream(method: string, request: unknown, options?: ServiceStreamOptions): AsyncIterable<unknown>;
}

interface Rpc {
  /** `IdentityService/GetBeneficiary`. */
  readonly name: string;
  readonly call: (token: string | undefined, request?: unknown) => Promise<Refusal | undefined>;
}

/** Every method of a generated service definition, each called with an empty request by default. */
function rpcsOf(definition: Readonly<Record<string, MethodDefinition>>, client: unknown): Rpc[] {
  const kit = client as AnyServiceClient;
  return Object.entries(definition).map(([key, method]) => ({
    name: method.path.split('.').pop() ?? method.path,
    call: (token, request = method.requestDeserialize(Buffer.alloc(0))) => {
      const options = callAs(token);
      if (!method.responseStream) return outcomeOf(kit.call(key, request, options));
      const metadata = options.metadata ? { metadata: options.metadata } : {};
      return outcomeOf(drain(kit.stream(key, request, metadata)));
    },
  }));
}

async function drain(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const messages: unknown[] = [];
  for await (const message of stream) messages.push(message);
  return messages;
}

/** How a call ended, in one line: `OK`, or the status name and the reason. */
function verdict(outcome: Refusal | undefined): string {
  return outcome ? `${status[outcome.code]} ${outcome.reason ?? '(no reason)'}` : 'OK';
}

/** The whole of a refusal as a caller sees it: status, message, reason. */
function seen(outcome: Refusal | undefined): string {
  return outcome ? JSON.stringify({ ...outcome, code: status[outcome.code] }) : 'answered';
}

/** A day in India Standard Time, `daysAgo` days back, as RecordDose takes it. */
function indianDate(daysAgo: number): string {
  const ist = Date.now() + 5.5 * 3_600_000 - daysAgo * 86_400_000;
  return new Date(ist).toISOString().slice(0, 10);
}

/** A citizen with one beneficiary, and a vaccinator holding that citizen's consent grant. */
async function consentingCitizen(world: World, centreId: string) {
  const mobile = world.freshMobile();
  const citizen = await world.citizen(mobile);
  const ref = await world.register(citizen, mobile);
  const vaccinator = await world.staff(STAFF_ROLE_VACCINATOR, centreId);
  const { txnId } = await world.clients.identity.call(
    'requestConsent',
    { target: { $case: 'beneficiaryRef', value: ref } },
    callAs(vaccinator.session),
  );
  const grant = await world.confirm(txnId);
  return { mobile, citizen, ref, vaccinator, grant };
}

/** The real signing key, unsealed from OTP's database as an insider with the KEK could. */
async function unsealSigningKey(world: World, kid: string): Promise<KeyObject> {
  const db = new pg.Client({ connectionString: world.platform.databases.otp });
  await db.connect();
  try {
    const { rows } = await db.query<{ private_key_sealed: Buffer }>(
      'SELECT private_key_sealed FROM signing_keys WHERE kid = $1',
      [kid],
    );
    const sealed = rows[0]?.private_key_sealed;
    if (!sealed) throw new Error(`OTP's database holds no signing key ${kid}`);
    const sealer = new Sealer(
      Buffer.from(OTP_KEY_ENCRYPTION_KEY, 'base64'),
      SIGNING_KEY_SEAL_CONTEXT,
    );
    return createPrivateKey({ key: sealer.open(sealed, kid), format: 'der', type: 'pkcs8' });
  } finally {
    await db.end();
  }
}

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface SigningMaterial {
  readonly kid: string;
  /** The published public key as PEM: the HMAC secret of the algorithm-confusion attack. */
  readonly publicPem: string;
  readonly realKey: KeyObject;
  readonly foreignKey: KeyObject;
}

/** A real token's claims with a new id and a new life, changed as `changes` says. */
function reissued(token: string, changes: JWTPayload, iat: number, exp: number): JWTPayload {
  return { ...decodeJwt(token), ...changes, jti: randomUUID(), iat, exp };
}

/**
 * The forgeries of one audience. `live` is a real token of it, `escalation` what an
 * attacker would change in it (another subject, a higher role, another beneficiary),
 * `revoked` a real token of it that its holder revoked.
 */
async function forge(
  keys: SigningMaterial,
  live: string,
  escalation: JWTPayload,
  revoked: string,
): Promise<Record<Forgery, string>> {
  const now = Math.floor(Date.now() / 1000);
  const escalated = reissued(live, escalation, now, now + 600);
  const header = { alg: 'EdDSA', kid: keys.kid, typ: 'JWT' };
  const [liveHeader, , liveSignature] = live.split('.');
  return {
    'alg none': new UnsecuredJWT(escalated).encode(),
    'HS256 keyed with the published public key': await new SignJWT(escalated)
      .setProtectedHeader({ alg: 'HS256', kid: keys.kid, typ: 'JWT' })
      .sign(new TextEncoder().encode(keys.publicPem)),
    'a foreign Ed25519 key under the real kid': await new SignJWT(escalated)
      .setProtectedHeader(header)
      .sign(keys.foreignKey),
    // The live token's own claims, with a life that ended five minutes ago.
    'expired, signed with the real key': await new SignJWT(
      reissued(live, {}, now - 20 * 60, now - 5 * 60),
    )
      .setProtectedHeader(header)
      .sign(keys.realKey),
    'revoked by its holder': revoked,
    'a real token with its payload changed': `${liveHeader}.${part({ ...decodeJwt(live), ...escalation })}.${liveSignature}`,
  };
}

describe('leak replay 4 and 5: object-level authorisation and forged tokens', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld({ env: { otp: { OTP_KEY_ENCRYPTION_KEY } } });
  }, 300_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('4. a citizen gets nothing of another citizen’s beneficiary, doses, certificate or access history, refused as if it did not exist', async () => {
    const { identity, records, audit } = world.clients;
    const centreId = await world.centre();
    // B, with two doses recorded by a vaccinator holding B's consent: something to steal.
    const b = await consentingCitizen(world, centreId);
    const doseIds: string[] = [];
    for (const [doseNumber, daysAgo] of [
      [1, 40],
      [2, 10],
    ] as const) {
      const { dose } = await records.call(
        'recordDose',
        {
          beneficiaryRef: b.ref,
          vaccineCode: 'COVAXIN',
          doseNumber,
          batchNumber: 'BB21044',
          administeredOn: indianDate(daysAgo),
          clientRequestId: `e2e-${randomBytes(8).toString('hex')}`,
          consentGrant: b.grant,
        },
        callAs(b.vaccinator.session),
      );
      doseIds.push(dose?.doseId ?? '');
    }
    const asB = callAs(b.citizen);
    const bView = await identity.call('getBeneficiary', { beneficiaryRef: b.ref }, asB);
    expect(bView.beneficiary?.name).toBe('Test Person');
    const bCertificate = await records.call('getCertificate', { beneficiaryRef: b.ref }, asB);
    expect(bCertificate.jws.split('.')).toHaveLength(3);

    // A, a citizen with a beneficiary of their own, which A reads.
    const aMobile = world.freshMobile();
    const a = await world.citizen(aMobile);
    const aRef = await world.register(a, aMobile);
    const asA = callAs(a);
    const aView = await identity.call('getBeneficiary', { beneficiaryRef: aRef }, asA);
    expect(aView.beneficiary?.beneficiaryRef).toBe(aRef);

    // Every RPC that takes a beneficiary reference (or a dose id, or the mobile), with A's
    // token: on B's real ones, and on well-formed ones that name nothing.
    const stream = (request: auditV1.ExportEntriesRequest) =>
      drain(audit.stream('exportEntries', request, asA.metadata ? { metadata: asA.metadata } : {}));
    type Target = { readonly ref: string; readonly doseId: string; readonly mobile: string };
    const byReference: [string, (target: Target) => Promise<unknown>][] = [
      [
        'IdentityService/GetBeneficiary',
        ({ ref }) => identity.call('getBeneficiary', { beneficiaryRef: ref }, asA),
      ],
      [
        'IdentityService/RegisterBeneficiary',
        ({ mobile }) =>
          identity.call(
            'registerBeneficiary',
            {
              mobile,
              name: 'Test Person',
              gender: identityV1.Gender.GENDER_MALE,
              yearOfBirth: 1990,
              photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
              photoIdNumber: world.freshAadhaar(),
            },
            asA,
          ),
      ],
      [
        'VaccinationRecordService/GetCertificate',
        ({ ref }) => records.call('getCertificate', { beneficiaryRef: ref }, asA),
      ],
      [
        'IdentityService/RequestConsent',
        ({ ref }) =>
          identity.call('requestConsent', { target: { $case: 'beneficiaryRef', value: ref } }, asA),
      ],
      [
        'IdentityService/VerifySecretCode',
        ({ ref }) =>
          identity.call('verifySecretCode', { beneficiaryRef: ref, secretCode: '1234' }, asA),
      ],
      [
        'IdentityService/MarkCanary',
        ({ ref }) => identity.call('markCanary', { beneficiaryRef: ref }, asA),
      ],
      [
        'VaccinationRecordService/RecordDose',
        ({ ref }) =>
          records.call(
            'recordDose',
            {
              beneficiaryRef: ref,
              vaccineCode: 'COVAXIN',
              doseNumber: 3,
              batchNumber: 'BB21044',
              administeredOn: indianDate(0),
              clientRequestId: `e2e-${randomBytes(8).toString('hex')}`,
              consentGrant: '',
            },
            asA,
          ),
      ],
      [
        'VaccinationRecordService/CorrectDose',
        ({ doseId }) =>
          records.call(
            'correctDose',
            {
              doseId,
              vaccineCode: '',
              batchNumber: 'BB21045',
              administeredOn: '',
              reason: 'batch misread',
            },
            asA,
          ),
      ],
      [
        'AuditService/QueryEntries',
        ({ ref }) =>
          audit.call(
            'queryEntries',
            { actorId: '', subjectRef: ref, eventType: '', pageSize: 10, pageToken: '' },
            asA,
          ),
      ],
      [
        'AuditService/ExportEntries',
        ({ ref }) => stream({ actorId: '', subjectRef: ref, eventType: '', chunkSize: 10 }),
      ],
    ];
    const ofB: Target = { ref: b.ref, doseId: doseIds[0] ?? '', mobile: b.mobile };
    const nowhere: Target = {
      ref: newBeneficiaryRef(),
      doseId: `dose_${randomBytes(16).toString('base64url')}`,
      mobile: world.freshMobile(),
    };
    const onB: string[] = [];
    const onNowhere: string[] = [];
    for (const [name, call] of byReference) {
      onB.push(`${name}: ${seen(await outcomeOf(call(ofB)))}`);
      onNowhere.push(`${name}: ${seen(await outcomeOf(call(nowhere)))}`);
    }
    // Same status, same message, same reason: B's records cannot be told from none.
    expect(onB).toEqual(onNowhere);
    expect(onB.filter((line) => line.endsWith('answered'))).toEqual([]);
    // The two reads a citizen token may make are refused as the protos document it.
    const verdictOf = async (call: Promise<unknown>) => verdict(await outcomeOf(call));
    expect(await verdictOf(identity.call('getBeneficiary', { beneficiaryRef: b.ref }, asA))).toBe(
      'PERMISSION_DENIED BENEFICIARY_ACCESS_DENIED',
    );
    expect(await verdictOf(records.call('getCertificate', { beneficiaryRef: b.ref }, asA))).toBe(
      'PERMISSION_DENIED BENEFICIARY_ACCESS_DENIED',
    );

    // Access histories: B sees A's refused attempts (from identity and from the record
    // service) once the log holds them; A, then, sees A's own read and nothing of B's.
    const history = (token: string, pageSize = 100, pageToken = '') =>
      audit.call('getMyAccessHistory', { pageSize, pageToken }, callAs(token));
    const bHistory = await eventually(
      async () => {
        const { accesses } = await history(b.citizen);
        const refusedToCitizens = accesses.filter((x) => !x.granted && x.role === 'CITIZEN');
        expect(refusedToCitizens.map((x) => x.purpose)).toContain('CERTIFICATE');
        expect(refusedToCitizens.some((x) => x.purpose !== 'CERTIFICATE')).toBe(true);
        return accesses;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect([...new Set(bHistory.map((x) => x.beneficiaryRef))]).toEqual([b.ref]);
    const aHistory = await eventually(
      async () => {
        const { accesses } = await history(a);
        expect(accesses.some((x) => x.beneficiaryRef === aRef && x.granted)).toBe(true);
        return accesses;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect([...new Set(aHistory.map((x) => x.beneficiaryRef))]).toEqual([aRef]);
    // B's page token does not open B's history to A.
    const bFirstPage = await history(b.citizen, 1);
    expect(bFirstPage.nextPageToken).not.toBe('');
    expect(await verdictOf(history(a, 100, bFirstPage.nextPageToken))).toBe(
      'INVALID_ARGUMENT BAD_PAGE_TOKEN',
    );
  }, 180_000);

  it('5. forged tokens are refused by every RPC that takes one, in every service; the public ones ignore them', async () => {
    const { identity, otp } = world.clients;
    const services = [
      ...rpcsOf(otpV1.OtpServiceService, world.clients.otp),
      ...rpcsOf(identityV1.IdentityServiceService, world.clients.identity),
      ...rpcsOf(vaccinationRecordV1.VaccinationRecordServiceService, world.clients.records),
      ...rpcsOf(auditV1.AuditServiceService, world.clients.audit),
    ];
    // Every method the four services serve is one or the other, and only those are.
    expect(services.map((rpc) => rpc.name).sort()).toEqual(
      [...Object.keys(TOKEN_AUDIENCES), ...PUBLIC_METHODS].sort(),
    );
    const audiencesOf = (rpc: Rpc) => TOKEN_AUDIENCES[rpc.name] ?? [];
    const withToken = services.filter((rpc) => audiencesOf(rpc).length > 0);
    const publicRpcs = services.filter((rpc) => PUBLIC_METHODS.includes(rpc.name));

    // Real tokens of each audience: live ones, and others their holder revokes.
    const centreId = await world.centre();
    const live = await consentingCitizen(world, centreId);
    const doomed = await consentingCitizen(world, centreId);
    const liveTokens: Record<Audience, string> = {
      [CITIZEN]: live.citizen,
      [STAFF]: live.vaccinator.session,
      [CONSENT]: live.grant,
    };
    const doomedTokens: Record<Audience, string> = {
      [CITIZEN]: doomed.citizen,
      [STAFF]: doomed.vaccinator.session,
      [CONSENT]: doomed.grant,
    };
    // Before they are revoked, the doomed tokens work (the staff session asked for the grant).
    const doomedList = await identity.call('listMyBeneficiaries', {}, callAs(doomed.citizen));
    expect(doomedList.beneficiaries.map((x) => x.beneficiaryRef)).toEqual([doomed.ref]);
    const doomedRead = await identity.call(
      'getBeneficiary',
      { beneficiaryRef: doomed.ref },
      callAs(doomed.grant),
    );
    expect(doomedRead.beneficiary?.beneficiaryRef).toBe(doomed.ref);
    for (const token of Object.values(doomedTokens)) {
      await otp.call('revokeToken', { tokenId: String(decodeJwt(token).jti) }, callAs());
    }

    // The signing material: the real kid and published key, the real private key
    // (unsealed), and a foreign key.
    const kid = String(decodeProtectedHeader(live.citizen).kid);
    const { keys } = await otp.call('getSigningKeys', {}, callAs());
    const published = keys.find((key) => key.kid === kid);
    if (!published) throw new Error('the live tokens’ key is not published');
    const material: SigningMaterial = {
      kid,
      publicPem: createPublicKey({
        key: { kty: published.kty, crv: published.crv, x: published.x },
        format: 'jwk',
      })
        .export({ type: 'spki', format: 'pem' })
        .toString(),
      realKey: await unsealSigningKey(world, kid),
      foreignKey: generateKeyPairSync('ed25519').privateKey,
    };
    const victim = decodeJwt(doomed.citizen);
    const forged: Record<Audience, Record<Forgery, string>> = {
      // Another citizen's subject: their beneficiaries.
      [CITIZEN]: await forge(material, live.citizen, { sub: victim.sub }, doomed.citizen),
      // A vaccinator made a platform admin.
      [STAFF]: await forge(
        material,
        live.vaccinator.session,
        { stf: { role: 'PLATFORM_ADMIN', ctr: '' } },
        doomed.vaccinator.session,
      ),
      // A grant opened to another beneficiary.
      [CONSENT]: await forge(
        material,
        live.grant,
        { cst: { ...(decodeJwt(live.grant)['cst'] as object), brefs: [doomed.ref] } },
        doomed.grant,
      ),
    };
    for (const tokens of Object.values(forged)) {
      for (const token of Object.values(tokens)) world.raw.tokens.add(token);
    }

    // The control: the same construction with the real key and a life left gets past
    // authentication everywhere, so the expired token is refused for its `exp` alone.
    const now = Math.floor(Date.now() / 1000);
    const control: string[] = [];
    for (const rpc of withToken) {
      for (const audience of audiencesOf(rpc)) {
        const token = await new SignJWT(reissued(liveTokens[audience], {}, now, now + 600))
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
          .sign(material.realKey);
        world.raw.tokens.add(token);
        const outcome = await rpc.call(token);
        control.push(
          `${rpc.name}, ${audience}: ${outcome?.code === status.UNAUTHENTICATED ? verdict(outcome) : 'authenticated'}`,
        );
      }
    }
    expect(control).toEqual(
      withToken.flatMap((rpc) =>
        audiencesOf(rpc).map((audience) => `${rpc.name}, ${audience}: authenticated`),
      ),
    );

    // The revocations have reached every service that takes a token of their audience.
    for (const [audience, token] of Object.entries(doomedTokens) as [Audience, string][]) {
      for (const service of ['IdentityService', 'VaccinationRecordService', 'AuditService']) {
        const probe = withToken.find(
          (rpc) => rpc.name.startsWith(`${service}/`) && audiencesOf(rpc).includes(audience),
        );
        if (!probe) continue;
        await eventually(async () => expect(verdict(await probe.call(token))).toMatch(/REVOKED/), {
          timeoutMs: 15_000,
          intervalMs: 200,
        });
      }
    }

    // Every RPC that takes a token, with every forgery of each audience it accepts, and
    // with each real token of an audience it does not accept.
    const got: string[] = [];
    const wanted: string[] = [];
    for (const rpc of withToken) {
      for (const audience of audiencesOf(rpc)) {
        for (const [forgery, token] of Object.entries(forged[audience]) as [Forgery, string][]) {
          got.push(`${rpc.name}, ${audience} ${forgery}: ${verdict(await rpc.call(token))}`);
          wanted.push(`${rpc.name}, ${audience} ${forgery}: UNAUTHENTICATED ${FORGERIES[forgery]}`);
        }
      }
      for (const [audience, token] of Object.entries(liveTokens) as [Audience, string][]) {
        if (audiencesOf(rpc).includes(audience)) continue;
        got.push(`${rpc.name}, a real ${audience} token: ${verdict(await rpc.call(token))}`);
        wanted.push(`${rpc.name}, a real ${audience} token: UNAUTHENTICATED TOKEN_AUDIENCE`);
      }
    }
    // Consent grants also travel in request bodies, beside a real staff session; each
    // method gets its own vaccinator, so the refusals count towards nobody's alert.
    const { records } = world.clients;
    const bodyGrants: [string, string, string][] = [
      ...(Object.entries(forged[CONSENT]) as [Forgery, string][]).map(
        ([forgery, token]): [string, string, string] => [forgery, token, FORGERIES[forgery]],
      ),
      ['a real citizen token', live.citizen, 'TOKEN_AUDIENCE'],
      ['a real staff session', live.vaccinator.session, 'TOKEN_AUDIENCE'],
    ];
    const recorder = await world.staff(STAFF_ROLE_VACCINATOR, centreId);
    const finder = await world.staff(STAFF_ROLE_VACCINATOR, centreId);
    for (const [forgery, grant, reason] of bodyGrants) {
      const recorded = await outcomeOf(
        records.call(
          'recordDose',
          {
            beneficiaryRef: live.ref,
            vaccineCode: 'COVAXIN',
            doseNumber: 1,
            batchNumber: 'BB21044',
            administeredOn: indianDate(0),
            clientRequestId: `e2e-${randomBytes(8).toString('hex')}`,
            consentGrant: grant,
          },
          callAs(recorder.session),
        ),
      );
      got.push(`VaccinationRecordService/RecordDose, grant ${forgery}: ${verdict(recorded)}`);
      wanted.push(
        `VaccinationRecordService/RecordDose, grant ${forgery}: UNAUTHENTICATED ${reason}`,
      );
      const found = await outcomeOf(
        records.call(
          'findBeneficiaryForVaccination',
          { consentGrant: grant },
          callAs(finder.session),
        ),
      );
      got.push(
        `VaccinationRecordService/FindBeneficiaryForVaccination, grant ${forgery}: ${verdict(found)}`,
      );
      wanted.push(
        `VaccinationRecordService/FindBeneficiaryForVaccination, grant ${forgery}: UNAUTHENTICATED ${reason}`,
      );
    }
    expect(got).toEqual(wanted);

    // A forged token sent to a public RPC changes nothing, and breaks nothing.
    const withForged: string[] = [];
    const withNone: string[] = [];
    const internal: string[] = [];
    for (const rpc of publicRpcs) {
      for (const [forgery, token] of Object.entries(forged[CITIZEN])) {
        const none = await rpc.call(undefined);
        const outcome = await rpc.call(token);
        withForged.push(`${rpc.name}, ${forgery}: ${seen(outcome)}`);
        withNone.push(`${rpc.name}, ${forgery}: ${seen(none)}`);
        if (outcome?.code === status.INTERNAL) internal.push(`${rpc.name}, ${forgery}`);
      }
    }
    expect(withForged).toEqual(withNone);
    expect(internal).toEqual([]);
  }, 180_000);

  it('leaves no raw mobile, identity number, code or token in any database, Kafka message or log', async () => {
    expect(findRawValues(await everythingReadable(world), world.raw)).toEqual([]);
  }, 180_000);
});
