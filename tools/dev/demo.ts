// The demo data `npm start` seeds, end to end over real gRPC through the demo client
// application: the platform admin (bootstrapped from configuration) signs in with a
// password and an OTP and creates two centres, their staff, an auditor and two partner
// clients; citizens sign in with an OTP and register beneficiaries on two mobiles (one
// a canary); a vaccinator signs in, asks a citizen for consent and reads the record;
// the demo client, as a partner, does the same. Everything printed is masked; the
// secrets go to .vaxguard/dev/demo-principals.json (mode 0600). The seeding itself is
// libs/dev-operator's, which `npx vaxguard seed` runs too.
import { writeFileSync } from 'node:fs';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import {
  callAs,
  fetchIssuerTrust,
  maskedMobile,
  OperatorClient,
  seedBeneficiaries,
  seedPrincipals,
} from '@vaxguard/dev-operator';
import { isVaxGuardError } from '@vaxguard/errors';
import { createOfflineVerifier } from '@vaxguard/health-cards';

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
  /** Where the first demo citizen's (made-up) mobile is written, for the guided tour. */
  readonly citizenMobileFile: string;
}

/** What the demo did, and what the guided tour can point at. */
export interface DemoResult {
  readonly lines: string[];
  /** The vaccinated beneficiary and its printable certificate, when the demo got that far. */
  readonly vaccinated?: { readonly ref: string; readonly svg: string };
  /** The trace of the first dose recorded, when npm start traces its demo (Jaeger runs). */
  readonly doseTraceId?: string;
}

/**
 * Two doses recorded by the vaccinator under the citizen's consent, then the citizen
 * fetches their SMART Health Card, writes its printable SVG and verifies it offline
 * with the issuer keys fetched over HTTP, as any SMART Health Card verifier would.
 */
async function vaccinate(
  client: OperatorClient,
  options: DemoOptions,
  input: { session: string; grant: string; ref: string; citizenToken: string },
): Promise<{ lines: string[]; svg: string; traceId: string | undefined }> {
  let traceId: string | undefined;
  const doses = [
    { doseNumber: 1, administeredOn: '2021-03-01', batchNumber: '4121Z005' },
    { doseNumber: 2, administeredOn: '2021-06-01', batchNumber: '4121Z040' },
  ];
  for (const dose of doses) {
    // Each dose a trace of its own, when this process traces (tracing off: no span, no
    // id); the first one's is what the guided tour names.
    const recorded = await trace
      .getTracer('vaxguard-demo')
      .startActiveSpan(`demo: record dose ${dose.doseNumber}`, async (span) => {
        try {
          await client.records.call(
            'recordDose',
            {
              beneficiaryRef: input.ref,
              vaccineCode: 'COVISHIELD',
              ...dose,
              clientRequestId: `demo-${input.ref.slice(4, 20)}-${dose.doseNumber}`,
              consentGrant: input.grant,
            },
            callAs(input.session),
          );
          return span.spanContext();
        } finally {
          span.end();
        }
      });
    if (isSpanContextValid(recorded)) traceId ??= recorded.traceId;
  }
  const certificate = await client.records.call(
    'getCertificate',
    { beneficiaryRef: input.ref },
    callAs(input.citizenToken),
  );
  const file = `${options.certificateDir}/certificate-${input.ref}.svg`;
  writeFileSync(file, certificate.svg);
  // As a verifier would: the key set, then the revocation list of each key announcing one.
  const trust = await fetchIssuerTrust(options.issuerKeysUrl);
  const verified = createOfflineVerifier({
    issuers: [{ iss: options.issuer, ...trust }],
  }).verify(certificate.qr);
  return {
    svg: file,
    traceId,
    lines: [
      `demo: RecordDose x2 (COVISHIELD, 2021-03-01 and 2021-06-01) by the vaccinator with the grant -> ${input.ref}`,
      `demo: GetCertificate(citizen token) -> SMART Health Card ${certificate.certificateId.slice(0, 12)}..., printable SVG at ${file}`,
      `      offline verification of its shc:/ QR with the keys from ${options.issuerKeysUrl} -> ${verified.status}`,
    ],
  };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const client = new OperatorClient({
    services: {
      otp: options.otpAddress,
      identity: options.identityAddress,
      'vaccination-record': options.vaccinationRecordAddress,
    },
    client: { id: options.clientId, secret: options.clientSecret },
    smsInbox: options.smsSink,
  });
  const lines: string[] = [];
  try {
    const { token: adminToken } = await client.staffSignIn(
      options.admin.username,
      options.admin.password,
    );
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
      const { staff, partners } = seeded;
      writeFileSync(options.principalsFile, JSON.stringify({ staff, partners }, null, 2), {
        mode: 0o600,
      });
      lines.push(
        `demo: seeded 2 centres, ${staff.map((member) => member.username).join(', ')}; partners ${partners.map((partner) => partner.clientId).join(', ')}`,
      );
    }
    const { households, canary } = await seedBeneficiaries(client, adminToken, {
      count: 4,
      perCitizen: 2,
      canary: true,
    });
    for (const { mobile, beneficiaries } of households) {
      lines.push(
        `demo: citizen ${maskedMobile(mobile)} signed in (CITIZEN_LOGIN) and registered ${beneficiaries.map((b) => `${b.beneficiaryRef} ${b.name} ${b.maskedPhotoId}`).join('; ')}`,
      );
    }
    lines.push(`demo: ${canary ?? ''} is a canary: any read of it raises access.canary`);

    const household = households[0];
    const ref = household?.beneficiaries[0]?.beneficiaryRef ?? '';
    // Made-up, but a mobile all the same: kept in a file (0600), never printed.
    writeFileSync(options.citizenMobileFile, `${household?.mobile ?? ''}\n`, { mode: 0o600 });
    let vaccinated: DemoResult['vaccinated'];
    let doseTraceId: string | undefined;
    if (seeded) {
      const vaccinator = seeded.staff[0];
      if (vaccinator) {
        const { token: session } = await client.staffSignIn(
          vaccinator.username,
          vaccinator.password,
        );
        const seen = await client.consentedRead(household?.mobile ?? '', ref, session);
        const { grant } = seen;
        lines.push(
          `demo: ${vaccinator.username} signed in, RequestConsent(${maskedMobile(household?.mobile ?? '')}) -> the citizen's CONSENT code -> grant for ${grant.claims?.consent?.beneficiaryRefs.length ?? 0} beneficiaries`,
          `      GetBeneficiary(${ref}) as the vaccinator -> ${seen.beneficiary?.name ?? ''}, born ${seen.beneficiary?.yearOfBirth ?? ''}, ${seen.beneficiary?.maskedPhotoId ?? ''} (never the mobile)`,
        );
        const done = await vaccinate(client, options, {
          session,
          grant: grant.token,
          ref,
          citizenToken: household?.token ?? '',
        });
        lines.push(...done.lines);
        vaccinated = { ref, svg: done.svg };
        doseTraceId = done.traceId;
      }
    }
    const seen = await client.consentedRead(household?.mobile ?? '', ref);
    lines.push(
      `demo: RequestConsent by the demo partner ${options.clientId} -> grant -> GetBeneficiary -> ${seen.beneficiary?.name ?? ''} (its scopes decide the fields)`,
      `sign in as staff: IdentityService/StartStaffLogin(username, password), then OtpService/ConfirmOtp(txn, code from the dev SMS inbox);`,
      `      usernames and passwords in ${options.principalsFile}, the admin's in secrets.json; partner secrets there too`,
    );
    return {
      lines,
      ...(vaccinated ? { vaccinated } : {}),
      ...(doseTraceId ? { doseTraceId } : {}),
    };
  } catch (error) {
    return {
      lines: [...lines, `demo: failed: ${error instanceof Error ? error.message : String(error)}`],
    };
  } finally {
    client.close();
  }
}
