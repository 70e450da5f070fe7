// The demo data `npm start` seeds, end to end over real gRPC through the demo client
// application: a citizen signs in with an OTP, registers a beneficiary on their mobile
// with identity, and lists it; then the same client, as a partner, asks that mobile for
// consent, confirms the code and reads the beneficiary with the grant. Everything
// printed is masked.
import { randomInt } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { readDevSms } from '@vaxguard/dev-sms';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { verhoeffCheckDigit } from '@vaxguard/pii';
import { identityV1, otpV1 } from '@vaxguard/proto';
import { eventually } from '@vaxguard/testing';
import { TOKEN_HEADER } from '@vaxguard/tokens';

export interface DemoOptions {
  readonly otpAddress: string;
  readonly identityAddress: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly smsSink: string;
}

/** A made-up Aadhaar number that passes the Verhoeff check, fresh each start. */
function demoAadhaar(): string {
  const body = `${randomInt(2, 10)}${String(randomInt(0, 1e10)).padStart(10, '0')}`;
  return body + verhoeffCheckDigit(body);
}

export async function runDemo(options: DemoOptions): Promise<string[]> {
  const credential = { clientId: options.clientId, secret: options.clientSecret };
  const otp = createServiceClient(otpV1.OtpServiceService, {
    address: options.otpAddress,
    ...credential,
  });
  const identity = createServiceClient(identityV1.IdentityServiceService, {
    address: options.identityAddress,
    ...credential,
  });
  const withToken = (token: string) => {
    const metadata = new Metadata();
    metadata.set(TOKEN_HEADER, token);
    return metadata;
  };
  const confirm = async (txnId: string) => {
    const code = await eventually(async () => {
      const sms = await readDevSms(options.smsSink, txnId);
      if (!sms) throw new Error('SMS not delivered yet');
      return sms.code;
    });
    return otp.call('confirmOtp', { txnId, otp: code }, { idempotent: false });
  };
  const lines: string[] = [];
  try {
    // A fresh made-up number each start, so restarts never meet the per-mobile quota.
    const mobile = `9${String(randomInt(0, 1e9)).padStart(9, '0')}`;
    const masked = `XXXXXX${mobile.slice(-4)}`;
    const generated = await otp.call(
      'generateOtp',
      {
        mobile,
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
        consent: undefined,
        onBehalfOfClientId: '',
      },
      { idempotent: false },
    );
    const signedIn = await confirm(generated.txnId);
    const claims = signedIn.claims;
    lines.push(
      `demo: GenerateOtp(${masked}, CITIZEN_LOGIN) -> txn ${generated.txnId}`,
      `demo: code read from the dev SMS inbox, ConfirmOtp -> token ${claims?.tokenId ?? '?'}`,
      `      audience ${claims?.audience ?? '?'}, key ${claims?.keyId ?? '?'}, expires ${claims?.expiresAt?.toISOString() ?? '?'}`,
      `      subject (mobile blind index) ${claims?.subject.slice(0, 16) ?? '?'}...`,
    );

    const registered = await identity.call(
      'registerBeneficiary',
      {
        mobile,
        name: 'Asha Devi',
        gender: identityV1.Gender.GENDER_FEMALE,
        yearOfBirth: 1961,
        photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
        photoIdNumber: demoAadhaar(),
      },
      { idempotent: false, metadata: withToken(signedIn.token) },
    );
    const beneficiary = registered.beneficiary;
    const ref = beneficiary?.beneficiaryRef ?? '';
    const mine = await identity.call(
      'listMyBeneficiaries',
      {},
      { idempotent: true, metadata: withToken(signedIn.token) },
    );
    lines.push(
      `demo: RegisterBeneficiary(citizen token) -> ${ref} ${beneficiary?.name ?? ''}, ${beneficiary?.maskedPhotoId ?? ''}, ${beneficiary?.maskedMobile ?? ''}`,
      `      a 4-digit secret code was shown to the citizen once (stored only as a keyed hash)`,
      `demo: ListMyBeneficiaries(citizen token) -> ${mine.beneficiaries.length} beneficiary`,
    );

    const asked = await identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: mobile } },
      { idempotent: false },
    );
    const grant = await confirm(asked.txnId);
    const seen = await identity.call(
      'getBeneficiary',
      { beneficiaryRef: ref },
      { idempotent: true, metadata: withToken(grant.token) },
    );
    lines.push(
      `demo: RequestConsent(${masked}) by the partner -> CONSENT code to that mobile, ConfirmOtp -> grant for ${grant.claims?.consent?.beneficiaryRefs.length ?? 0} beneficiary, 5 minutes`,
      `demo: GetBeneficiary(${ref}, consent grant) -> ${seen.beneficiary?.name ?? ''} (the partner's scopes decide the fields)`,
    );
    return lines;
  } catch (error) {
    return [...lines, `demo: failed: ${error instanceof Error ? error.message : String(error)}`];
  } finally {
    otp.close();
    identity.close();
  }
}
