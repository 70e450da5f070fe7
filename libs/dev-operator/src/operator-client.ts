// The platform's operator as a client application: one client credential for the four
// services, sign-ins confirmed with the codes the development SMS inbox holds. npm
// start's demo and the vaxguard command line both act through it.
import { Metadata } from '@grpc/grpc-js';
import type { PlatformServiceName } from '@vaxguard/dev-platform';
import { DevSmsInbox } from '@vaxguard/dev-sms';
import {
  createServiceClient,
  type ServiceCallOptions,
  type ServiceClient,
} from '@vaxguard/grpc-kit';
import { auditV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { TOKEN_HEADER } from '@vaxguard/tokens';

export interface OperatorClientOptions {
  /** The services' gRPC addresses; a client of a service left out throws when used. */
  readonly services: Readonly<Partial<Record<PlatformServiceName, string>>>;
  readonly client: { readonly id: string; readonly secret: string };
  /** The development SMS inbox the OTP service writes codes to. */
  readonly smsInbox: string;
  /** Each call's deadline, all attempts included (default 10 s). */
  readonly deadlineMs?: number;
  /** How long a code may take to reach the inbox (default 30 s). */
  readonly smsTimeoutMs?: number;
}

const SERVICE_DEFINITIONS = {
  otp: otpV1.OtpServiceService,
  identity: identityV1.IdentityServiceService,
  'vaccination-record': vaccinationRecordV1.VaccinationRecordServiceService,
  audit: auditV1.AuditServiceService,
} as const;
type Definitions = typeof SERVICE_DEFINITIONS;

/** A call's options: never retried unless said, with the user's token when there is one. */
export function callAs(token?: string, idempotent = false): ServiceCallOptions {
  if (!token) return { idempotent };
  const metadata = new Metadata();
  metadata.set(TOKEN_HEADER, token);
  return { idempotent, metadata };
}

/**
 * Clients of the four services as the operator's client application, opened on first
 * use (a channel connects only when a call is made), and the sign-ins that need a code
 * from the development SMS inbox.
 */
export class OperatorClient {
  private readonly opened = new Map<PlatformServiceName, { close(): void }>();
  private readonly inbox: DevSmsInbox;

  constructor(private readonly options: OperatorClientOptions) {
    this.inbox = new DevSmsInbox(options.smsInbox);
  }

  get otp(): ServiceClient<Definitions['otp']> {
    return this.client('otp');
  }

  get identity(): ServiceClient<Definitions['identity']> {
    return this.client('identity');
  }

  get records(): ServiceClient<Definitions['vaccination-record']> {
    return this.client('vaccination-record');
  }

  get audit(): ServiceClient<Definitions['audit']> {
    return this.client('audit');
  }

  /** The code the OTP service sent for a transaction, once the inbox has it. */
  async smsCode(
    txnId: string,
    { timeoutMs = this.options.smsTimeoutMs ?? 30_000 }: { timeoutMs?: number } = {},
  ): Promise<string> {
    return (await this.inbox.waitFor(txnId, { timeoutMs })).code;
  }

  /** Confirms a transaction with the code given, or else the one the inbox received. */
  async confirm(txnId: string, code?: string): Promise<otpV1.ConfirmOtpResponse> {
    const otp = code ?? (await this.smsCode(txnId));
    return this.otp.call('confirmOtp', { txnId, otp }, callAs());
  }

  /**
   * Sends a CITIZEN_LOGIN code to a mobile. `deadlineMs` bounds the call with its waits:
   * a client over its quota is told when to ask again, and waits if that fits.
   */
  requestCitizenOtp(
    mobile: string,
    { deadlineMs }: { deadlineMs?: number } = {},
  ): Promise<otpV1.GenerateOtpResponse> {
    return this.otp.call(
      'generateOtp',
      { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
      { ...callAs(), ...(deadlineMs ? { deadlineMs } : {}) },
    );
  }

  /** A citizen signs in: a CITIZEN_LOGIN code to their mobile, confirmed. */
  async citizenSignIn(
    mobile: string,
    options: { deadlineMs?: number } = {},
  ): Promise<otpV1.ConfirmOtpResponse> {
    const { txnId } = await this.requestCitizenOtp(mobile, options);
    return this.confirm(txnId);
  }

  /** A staff sign-in: the password, then the STAFF_LOGIN code sent to the staff mobile. */
  async staffSignIn(username: string, password: string): Promise<otpV1.ConfirmOtpResponse> {
    const { txnId } = await this.identity.call('startStaffLogin', { username, password }, callAs());
    return this.confirm(txnId);
  }

  /**
   * Asks the mobile for consent (as the staff member of `session`, or as this client
   * without one), confirms the code the person received and reads one beneficiary
   * with the grant.
   */
  async consentedRead(mobile: string, beneficiaryRef: string, session?: string) {
    const asked = await this.identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: mobile } },
      callAs(session),
    );
    const grant = await this.confirm(asked.txnId);
    const { beneficiary } = await this.identity.call(
      'getBeneficiary',
      { beneficiaryRef },
      callAs(grant.token),
    );
    return { grant, beneficiary };
  }

  close(): void {
    for (const client of this.opened.values()) client.close();
    this.opened.clear();
  }

  private client<S extends PlatformServiceName>(service: S): ServiceClient<Definitions[S]> {
    const existing = this.opened.get(service);
    if (existing) return existing as unknown as ServiceClient<Definitions[S]>;
    const address = this.options.services[service];
    if (!address) throw new Error(`no address for the ${service} service`);
    const client = createServiceClient(SERVICE_DEFINITIONS[service], {
      address,
      clientId: this.options.client.id,
      secret: this.options.client.secret,
      deadlineMs: this.options.deadlineMs ?? 10_000,
    });
    this.opened.set(service, client);
    return client;
  }
}
