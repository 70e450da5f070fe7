// The demo data `npm start` seeds: a citizen signs in with an OTP through the demo
// partner client, end to end over real gRPC, and the result is printed (masked).
import { randomInt } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { readDevSms } from '@vaxguard/dev-sms';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { eventually } from '@vaxguard/testing';
import { otpV1 } from '@vaxguard/proto';

export async function runDemo(options: {
  otpAddress: string;
  clientId: string;
  clientSecret: string;
  smsSink: string;
}): Promise<string[]> {
  const client = new otpV1.OtpServiceClient(options.otpAddress, credentials.createInsecure());
  const metadata = () => clientMetadata(options.clientId, options.clientSecret);
  try {
    // A fresh made-up number each start, so restarts never meet the per-mobile quota.
    const mobile = `9${String(randomInt(0, 1e9)).padStart(9, '0')}`;
    const generated = await unaryCall<otpV1.GenerateOtpResponse>((done) =>
      client.generateOtp(
        // For itself: only platform services start a transaction on another's behalf.
        { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
        metadata(),
        done,
      ),
    );
    const code = await eventually(async () => {
      const sms = await readDevSms(options.smsSink, generated.txnId);
      if (!sms) throw new Error('SMS not delivered yet');
      return sms.code;
    });
    const confirmed = await unaryCall<otpV1.ConfirmOtpResponse>((done) =>
      client.confirmOtp({ txnId: generated.txnId, otp: code }, metadata(), done),
    );
    const claims = confirmed.claims;
    return [
      `demo: GenerateOtp(XXXXXX${mobile.slice(-4)}, CITIZEN_LOGIN) -> txn ${generated.txnId}`,
      `demo: code read from the dev SMS inbox, ConfirmOtp -> token ${claims?.tokenId ?? '?'}`,
      `      audience ${claims?.audience ?? '?'}, key ${claims?.keyId ?? '?'}, expires ${claims?.expiresAt?.toISOString() ?? '?'}`,
      `      subject (mobile blind index) ${claims?.subject.slice(0, 16) ?? '?'}...`,
    ];
  } catch (error) {
    return [
      `demo: the OTP sign-in demo failed: ${error instanceof Error ? error.message : String(error)}`,
    ];
  } finally {
    client.close();
  }
}
