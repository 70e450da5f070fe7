// The demo data `npm start` seeds, end to end over real gRPC through the demo client
// application: the platform admin (bootstrapped from configuration) signs in with a
// password and an OTP and creates two centres, their staff, an auditor and two partner
// clients; citizens sign in with an OTP and register beneficiaries on two mobiles (one
// a canary); a vaccinator signs in, asks a citizen for consent and reads the record;
// the demo client, as a partner, does the same. Everything printed is masked; the
// secrets go to .vaxguard/dev/demo-principals.json (mode 0600).
import { randomBytes, randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Metadata } from '@grpc/grpc-js';
import { readDevSms } from '@vaxguard/dev-sms';
import { isVaxGuardError } from '@vaxguard/errors';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { createOfflineVerifier } from '@vaxguard/health-cards';
import { identityStaffV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { eventually, randomMadeUpAadhaar } from '@vaxguard/testing';
import { TOKEN_HEADER } from '@vaxguard/tokens';

export interface DemoOptions {
  readonly otpAddress: string;
  readonly identityAddress: string;
  readonly vaccinationRecordAddress: string;
  /** The certificate issuer (`iss`) and where its keys are served over HTTP. */
  readonly issuer: string;
  readonly issuerKeysUrl: string;
  /** Where the printable certificate is written. */
  readonly certificateDir: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly smsSink: string;
  readonly admin: { readonly username: string; readonly password: string };
  /** Where the seeded principals' secrets are written. */
  readonly principalsFile: string;
}

/** A made-up mobile, fresh each start, so restarts never meet the per-mobile quotas. */
const demoMobile = () => `9${String(randomInt(0, 1e9)).padStart(9, '0')}`;
const masked = (mobile: string) => `XXXXXX${mobile.slice(-4)}`;
const password = () => `demo-${randomBytes(12).toString('base64url')}`;

/** The demo client application: calls to both services, codes read from the dev SMS inbox. */
function demoClient(options: DemoOptions) {
  const credential = { clientId: options.clientId, secret: options.clientSecret };
  const otp = createServiceClient(otpV1.OtpServiceService, {
    address: options.otpAddress,
    ...credential,
  });
  const identity = createServiceClient(identityV1.IdentityServiceService, {
    address: options.identityAddress,
    ...credential,
  });
  const records = createServiceClient(vaccinationRecordV1.VaccinationRecordServiceService, {
    address: options.vaccinationRecordAddress,
    ...credential,
  });
  const as = (token?: string) => {
    if (!token) return { idempotent: false };
    const metadata = new Metadata();
    metadata.set(TOKEN_HEADER, token);
    return { idempotent: false, metadata };
  };
  const confirm = async (txnId: string) => {
    const code = await eventually(async () => {
      const sms = await readDevSms(options.smsSink, txnId);
      if (!sms) throw new Error('SMS not delivered yet');
      return sms.code;
    });
    return otp.call('confirmOtp', { txnId, otp: code }, as());
  };
  return {
    otp,
    identity,
    records,
    as,
    confirm,
    async citizenSignIn(mobile: string) {
      const { txnId } = await otp.call(
        'generateOtp',
        { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
        as(),
      );
      return confirm(txnId);
    },
    /**
     * Asks the mobile for consent (as the staff member of `session`, or as this client
     * without one), confirms the code the person received and reads one beneficiary
     * with the grant.
     */
    async consentedRead(mobile: string, beneficiaryRef: string, session?: string) {
      const asked = await identity.call(
        'requestConsent',
        { target: { $case: 'mobile', value: mobile } },
        as(session),
      );
      const grant = await confirm(asked.txnId);
      const { beneficiary } = await identity.call(
        'getBeneficiary',
        { beneficiaryRef },
        as(grant.token),
      );
      return { grant, beneficiary };
    },
    async staffSignIn(username: string, secret: string) {
      const { txnId } = await identity.call(
        'startStaffLogin',
        { username, password: secret },
        as(),
      );
      return (await confirm(txnId)).token;
    },
    close() {
      otp.close();
      identity.close();
      records.close();
    },
  };
}
type DemoClient = ReturnType<typeof demoClient>;

interface SeededStaff {
  readonly username: string;
  readonly password: string;
  readonly role: string;
  readonly centre: string;
}

/** The principals: two centres with a vaccinator and a centre admin each, an auditor, two partners. */
async function seedPrincipals(client: DemoClient, adminToken: string) {
  const admin = client.as(adminToken);
  const staff: SeededStaff[] = [];
  const centres = [
    { key: 'andheri', name: 'PHC Andheri West', district: 'Mumbai Suburban', state: 'Maharashtra' },
    { key: 'jayanagar', name: 'UPHC Jayanagar', district: 'Bengaluru Urban', state: 'Karnataka' },
  ];
  const createStaff = async (
    username: string,
    role: identityStaffV1.StaffRole,
    centre: { centreId: string; name: string } | undefined,
  ) => {
    const secret = password();
    await client.identity.call(
      'createStaff',
      {
        username,
        displayName: username,
        role,
        centreId: centre?.centreId ?? '',
        mobile: demoMobile(),
        password: secret,
      },
      admin,
    );
    staff.push({
      username,
      password: secret,
      role: identityStaffV1.staffRoleToJSON(role).replace('STAFF_ROLE_', ''),
      centre: centre?.name ?? '',
    });
  };
  for (const { key, ...input } of centres) {
    const { centre } = await client.identity.call('createCentre', input, admin);
    if (!centre) throw new Error('CreateCentre returned no centre');
    await createStaff(`vaccinator.${key}`, identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR, centre);
    await createStaff(`admin.${key}`, identityStaffV1.StaffRole.STAFF_ROLE_CENTRE_ADMIN, centre);
  }
  await createStaff('auditor.national', identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR, undefined);
  const partners = [];
  for (const partner of [
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
  ]) {
    const registered = await client.identity.call('registerPartner', partner, admin);
    partners.push({ ...partner, clientSecret: registered.clientSecret });
  }
  return { staff, partners };
}

/** Beneficiaries on two mobiles, registered by their citizens; the last one a canary. */
async function seedBeneficiaries(client: DemoClient, adminToken: string) {
  const people = [
    [
      { name: 'Asha Devi', gender: identityV1.Gender.GENDER_FEMALE, yearOfBirth: 1961 },
      { name: 'Ravi Kumar', gender: identityV1.Gender.GENDER_MALE, yearOfBirth: 1958 },
    ],
    [
      { name: 'Meena Iyer', gender: identityV1.Gender.GENDER_FEMALE, yearOfBirth: 1990 },
      { name: 'Arjun Iyer', gender: identityV1.Gender.GENDER_MALE, yearOfBirth: 2012 },
    ],
  ];
  const mobiles = [];
  for (const household of people) {
    const mobile = demoMobile();
    const { token } = await client.citizenSignIn(mobile);
    const registered: (identityV1.Beneficiary | undefined)[] = [];
    for (const person of household) {
      const { beneficiary } = await client.identity.call(
        'registerBeneficiary',
        {
          mobile,
          ...person,
          photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
          // Fresh each start: local infrastructure keeps what earlier starts registered.
          photoIdNumber: randomMadeUpAadhaar(),
        },
        client.as(token),
      );
      registered.push(beneficiary);
    }
    mobiles.push({ mobile, token, beneficiaries: registered });
  }
  const canary = mobiles[1]?.beneficiaries[1]?.beneficiaryRef ?? '';
  await client.identity.call('markCanary', { beneficiaryRef: canary }, client.as(adminToken));
  return { mobiles, canary };
}

/**
 * Two doses recorded by the vaccinator under the citizen's consent, then the citizen
 * fetches their SMART Health Card, writes its printable SVG and verifies it offline
 * with the issuer keys fetched over HTTP, as any SMART Health Card verifier would.
 */
async function vaccinate(
  client: DemoClient,
  options: DemoOptions,
  input: { session: string; grant: string; ref: string; citizenToken: string },
): Promise<string[]> {
  const doses = [
    { doseNumber: 1, administeredOn: '2021-03-01', batchNumber: '4121Z005' },
    { doseNumber: 2, administeredOn: '2021-06-01', batchNumber: '4121Z040' },
  ];
  for (const dose of doses) {
    await client.records.call(
      'recordDose',
      {
        beneficiaryRef: input.ref,
        vaccineCode: 'COVISHIELD',
        ...dose,
        clientRequestId: `demo-${input.ref.slice(4, 20)}-${dose.doseNumber}`,
        consentGrant: input.grant,
      },
      client.as(input.session),
    );
  }
  const certificate = await client.records.call(
    'getCertificate',
    { beneficiaryRef: input.ref },
    client.as(input.citizenToken),
  );
  const file = `${options.certificateDir}/certificate-${input.ref}.svg`;
  writeFileSync(file, certificate.svg);
  // As a verifier would: the key set, then the revocation list of each key announcing one.
  const jwks = (await (await fetch(options.issuerKeysUrl)).json()) as {
    keys: { kid: string; crlVersion?: number }[];
  };
  const revocations: Record<string, unknown> = {};
  for (const { kid, crlVersion } of jwks.keys) {
    if (crlVersion === undefined) continue;
    const crlUrl = options.issuerKeysUrl.replace(/jwks\.json$/, `crl/${kid}.json`);
    revocations[kid] = await (await fetch(crlUrl)).json();
  }
  const verified = createOfflineVerifier({
    issuers: [{ iss: options.issuer, jwks, revocations }],
  }).verify(certificate.qr);
  return [
    `demo: RecordDose x2 (COVISHIELD, 2021-03-01 and 2021-06-01) by the vaccinator with the grant -> ${input.ref}`,
    `demo: GetCertificate(citizen token) -> SMART Health Card ${certificate.certificateId.slice(0, 12)}..., printable SVG at ${file}`,
    `      offline verification of its shc:/ QR with the keys from ${options.issuerKeysUrl} -> ${verified.status}`,
  ];
}

export async function runDemo(options: DemoOptions): Promise<string[]> {
  const client = demoClient(options);
  const lines: string[] = [];
  try {
    const adminToken = await client.staffSignIn(options.admin.username, options.admin.password);
    lines.push(
      `demo: platform admin ${options.admin.username} signed in: StartStaffLogin(password) -> STAFF_LOGIN code -> ConfirmOtp -> staff session`,
    );
    let seeded;
    try {
      seeded = await seedPrincipals(client, adminToken);
    } catch (error) {
      // Local infrastructure keeps its data: the principals of an earlier start are there.
      if (isVaxGuardError(error) && error.code === 'ALREADY_EXISTS') {
        lines.push(`demo: principals already seeded (see ${options.principalsFile})`);
      } else {
        throw error;
      }
    }
    if (seeded) {
      writeFileSync(options.principalsFile, JSON.stringify(seeded, null, 2), { mode: 0o600 });
      lines.push(
        `demo: seeded 2 centres, ${seeded.staff.map((staff) => staff.username).join(', ')}; partners ${seeded.partners.map((partner) => partner.clientId).join(', ')}`,
      );
    }
    const { mobiles, canary } = await seedBeneficiaries(client, adminToken);
    for (const { mobile, beneficiaries } of mobiles) {
      lines.push(
        `demo: citizen ${masked(mobile)} signed in (CITIZEN_LOGIN) and registered ${beneficiaries.map((b) => `${b?.beneficiaryRef ?? ''} ${b?.name ?? ''} ${b?.maskedPhotoId ?? ''}`).join('; ')}`,
      );
    }
    lines.push(`demo: ${canary} is a canary: any read of it raises access.canary`);

    const household = mobiles[0];
    const ref = household?.beneficiaries[0]?.beneficiaryRef ?? '';
    if (seeded) {
      const vaccinator = seeded.staff[0];
      if (vaccinator) {
        const session = await client.staffSignIn(vaccinator.username, vaccinator.password);
        const seen = await client.consentedRead(household?.mobile ?? '', ref, session);
        const { grant } = seen;
        lines.push(
          `demo: ${vaccinator.username} signed in, RequestConsent(${masked(household?.mobile ?? '')}) -> the citizen's CONSENT code -> grant for ${grant.claims?.consent?.beneficiaryRefs.length ?? 0} beneficiaries`,
          `      GetBeneficiary(${ref}) as the vaccinator -> ${seen.beneficiary?.name ?? ''}, born ${seen.beneficiary?.yearOfBirth ?? ''}, ${seen.beneficiary?.maskedPhotoId ?? ''} (never the mobile)`,
        );
        lines.push(
          ...(await vaccinate(client, options, {
            session,
            grant: grant.token,
            ref,
            citizenToken: household?.token ?? '',
          })),
        );
      }
    }
    const seen = await client.consentedRead(household?.mobile ?? '', ref);
    lines.push(
      `demo: RequestConsent by the demo partner ${options.clientId} -> grant -> GetBeneficiary -> ${seen.beneficiary?.name ?? ''} (its scopes decide the fields)`,
      `sign in as staff: IdentityService/StartStaffLogin(username, password), then OtpService/ConfirmOtp(txn, code from the dev SMS inbox);`,
      `      usernames and passwords in ${options.principalsFile}, the admin's in secrets.json; partner secrets there too`,
    );
    return lines;
  } catch (error) {
    return [...lines, `demo: failed: ${error instanceof Error ? error.message : String(error)}`];
  } finally {
    client.close();
  }
}
