import { Metadata } from '@grpc/grpc-js';
import {
  createServiceClient,
  type ServiceCallOptions,
  type ServiceClient,
} from '@vaxguard/grpc-kit';
import { auditV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { TOKEN_HEADER } from '@vaxguard/tokens';

/** The four public gRPC APIs, called with the web tier's own client credentials. */
export interface PlatformClients {
  readonly otp: ServiceClient<typeof otpV1.OtpServiceService>;
  readonly identity: ServiceClient<typeof identityV1.IdentityServiceService>;
  readonly records: ServiceClient<typeof vaccinationRecordV1.VaccinationRecordServiceService>;
  readonly audit: ServiceClient<typeof auditV1.AuditServiceService>;
  close(): void;
}

/** A call's deadline, all retries included: a page waits for the platform no longer. */
export const PLATFORM_CALL_DEADLINE_MS = 10_000;

export function createPlatformClients(options: {
  readonly addresses: {
    readonly otp: string;
    readonly identity: string;
    readonly records: string;
    readonly audit: string;
  };
  readonly clientId: string;
  readonly secret: string;
}): PlatformClients {
  const kit = {
    clientId: options.clientId,
    secret: options.secret,
    deadlineMs: PLATFORM_CALL_DEADLINE_MS,
  };
  const clients = {
    otp: createServiceClient(otpV1.OtpServiceService, { ...kit, address: options.addresses.otp }),
    identity: createServiceClient(identityV1.IdentityServiceService, {
      ...kit,
      address: options.addresses.identity,
    }),
    records: createServiceClient(vaccinationRecordV1.VaccinationRecordServiceService, {
      ...kit,
      address: options.addresses.records,
    }),
    audit: createServiceClient(auditV1.AuditServiceService, {
      ...kit,
      address: options.addresses.audit,
    }),
  };
  return {
    ...clients,
    close() {
      for (const client of Object.values(clients)) client.close();
    },
  };
}

/**
 * A call made with a person's VaxGuard token (citizen or staff session). `idempotent`:
 * reads only; a send or a confirmation is never retried on UNAVAILABLE.
 */
export function asUser(token: string | undefined, idempotent: boolean): ServiceCallOptions {
  if (!token) return { idempotent };
  const metadata = new Metadata();
  metadata.set(TOKEN_HEADER, token);
  return { idempotent, metadata };
}
