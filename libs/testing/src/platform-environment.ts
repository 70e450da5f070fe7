// The one place a whole platform's configuration is decided: which clients each service
// accepts with which scopes, and each service's environment. `npm start` and the test
// harness both build their services' environments here, so a test's platform is the
// developer's platform with other ports and secrets.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { PLATFORM_SERVICES, type PlatformServiceName } from '@vaxguard/dev-platform';
import { serviceInstances } from '@vaxguard/grpc-kit';
import { generateSignerKey } from '@vaxguard/tlog';
import { SERVICE_SCOPES } from '@vaxguard/tokens';

/** The scopes a partner-like operator client holds: what a consent grant shows it. */
export const OPERATOR_PARTNER_SCOPES = ['beneficiary:demographics', 'beneficiary:id-masked'];

/** Every secret a platform needs, generated once (npm start keeps them between starts). */
export interface PlatformSecrets {
  otpHashKey: string;
  mobileIndexKey: string;
  /** The OTP service's key-encryption key (its name predates the identity vault's). */
  keyEncryptionKey: string;
  documentIndexKey: string;
  secretCodeKey: string;
  identityKeyEncryptionKey: string;
  /** Seals the SMART Health Card issuer's private keys. */
  issuerKeyEncryptionKey: string;
  /** The audit log's checkpoint signer (a C2SP signed-note private key). */
  auditLogSignerKey: string;
  /** The operator's client (npm start: demo-portal). */
  demoClientSecret: string;
  /** The first platform admin, created by identity from PLATFORM_ADMIN_BOOTSTRAP. */
  adminPassword: string;
  adminMobile: string;
  /** Each service's own client secret, by client id (`svc-<service>`). */
  serviceClientSecrets: Record<string, string>;
  /** The web tier's client secret (WEB_CLIENT_ID at every service). */
  webClientSecret: string;
  /** Signs the web tier's CSRF cookies. */
  webCookieKey: string;
}

const key = () => randomBytes(32).toString('base64');
const clientSecret = () => randomBytes(24).toString('base64url');
const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** A service's own client id at the others. */
export const serviceClientId = (service: PlatformServiceName): string => `svc-${service}`;

/**
 * The secrets `existing` lacks, generated; none it has changes (so a development
 * platform's tokens and data survive a restart and an upgrade of this list).
 */
export function completeSecrets(
  auditLogOrigin: string,
  existing: Partial<PlatformSecrets> = {},
): PlatformSecrets {
  const serviceClientSecrets = { ...existing.serviceClientSecrets };
  for (const service of PLATFORM_SERVICES) {
    serviceClientSecrets[serviceClientId(service)] ??= clientSecret();
  }
  return {
    ...existing,
    otpHashKey: existing.otpHashKey ?? key(),
    mobileIndexKey: existing.mobileIndexKey ?? key(),
    keyEncryptionKey: existing.keyEncryptionKey ?? key(),
    documentIndexKey: existing.documentIndexKey ?? key(),
    secretCodeKey: existing.secretCodeKey ?? key(),
    identityKeyEncryptionKey: existing.identityKeyEncryptionKey ?? key(),
    issuerKeyEncryptionKey: existing.issuerKeyEncryptionKey ?? key(),
    auditLogSignerKey: existing.auditLogSignerKey ?? generateSignerKey(auditLogOrigin).signerKey,
    demoClientSecret: existing.demoClientSecret ?? clientSecret(),
    adminPassword: existing.adminPassword ?? `admin-${clientSecret()}`,
    adminMobile: existing.adminMobile ?? `9${String(randomInt(0, 1e9)).padStart(9, '0')}`,
    serviceClientSecrets,
    webClientSecret: existing.webClientSecret ?? clientSecret(),
    webCookieKey: existing.webCookieKey ?? key(),
  };
}

/**
 * The web tier (services/web) calls the four services as this client, with no scope of
 * its own: what it reads, it reads with the signed-in person's token.
 */
export const WEB_CLIENT_ID = 'web';

/** What a service's client may do at another service, beyond calling it. */
export function serviceScopesAt(
  callee: PlatformServiceName,
  caller: PlatformServiceName,
): string[] {
  // Identity asks the OTP service for consent and staff sign-in codes on behalf of the
  // client that will confirm them, and has grants from secret codes signed.
  if (callee === 'otp' && caller === 'identity') {
    return [SERVICE_SCOPES.onBehalf, SERVICE_SCOPES.issueConsent];
  }
  // The audit service suspends principals its rules catch.
  if (callee === 'identity' && caller === 'audit') return [SERVICE_SCOPES.suspendPrincipals];
  // Vaccination-record reads beneficiaries from identity with the user's own token.
  if (callee === 'identity' && caller === 'vaccination-record') {
    return [SERVICE_SCOPES.relayTokens];
  }
  return [];
}

/** Where everything a service talks to is, and the values only one start knows. */
export interface PlatformLayout {
  /** Each service's gRPC address: every instance's, comma-separated, when it runs as several. */
  readonly addresses: Readonly<Record<PlatformServiceName, string>>;
  readonly databases: Readonly<Record<PlatformServiceName, string>>;
  readonly brokers: string;
  readonly secrets: PlatformSecrets;
  /** The operator client's id (npm start: demo-portal). */
  readonly operatorClientId: string;
  readonly smsSink: string;
  /** Where the audit log keeps its last signed checkpoint, outside its database. */
  readonly auditStateDir: string;
  /** The audit log's witnesses, AUDIT_WITNESSES' form (`name|url|vkey`, comma-separated); unset is `none`. */
  readonly auditWitnesses?: string;
  readonly admin: { readonly username: string; readonly passwordHash: string };
  readonly issuer: { readonly url: string; readonly httpPort: number };
  readonly logLevel: string;
  /** The services that run (default all four): only their own clients are accepted. */
  readonly running?: readonly PlatformServiceName[];
  /** CLIENT_CREDENTIALS entries a service accepts besides the operator and the services. */
  readonly extraClients?: Partial<Record<PlatformServiceName, readonly string[]>>;
  /** Where every service exports its spans (OTEL_EXPORTER_OTLP_ENDPOINT); unset: tracing off. */
  readonly otlpEndpoint?: string;
  /**
   * Where each service's first instance serves Prometheus metrics (METRICS_PORT;
   * instance k at `instancePort(port, k)`; 0: any free port, each instance its own); a
   * service not named serves none.
   */
  readonly metricsPorts?: Partial<Record<PlatformServiceName, number>>;
}

/**
 * The clients a service accepts, `id:sha256-hex-of-secret[:scope+scope]` comma-separated:
 * the operator client (with a partner's scopes), every service's own, and any extra.
 */
export function clientCredentials(callee: PlatformServiceName, layout: PlatformLayout): string {
  const { secrets } = layout;
  return [
    ...(layout.extraClients?.[callee] ?? []),
    `${layout.operatorClientId}:${sha256(secrets.demoClientSecret)}:${OPERATOR_PARTNER_SCOPES.join('+')}`,
    `${WEB_CLIENT_ID}:${sha256(secrets.webClientSecret)}`,
    ...(layout.running ?? PLATFORM_SERVICES).map((caller) => {
      const id = serviceClientId(caller);
      const scopes = serviceScopesAt(callee, caller);
      const hash = sha256(secrets.serviceClientSecrets[id] as string);
      return scopes.length > 0 ? `${id}:${hash}:${scopes.join('+')}` : `${id}:${hash}`;
    }),
  ].join(',');
}

/**
 * Where instance `instance` (0 the first) of a service listens when it runs as several
 * (issue 19): `npm start -- --instances N` puts instance k of every service at its first
 * instance's port + k × INSTANCE_PORT_STRIDE (gRPC, and any per-instance HTTP port).
 */
export const INSTANCE_PORT_STRIDE = 10;
export const instancePort = (firstPort: number, instance: number): number =>
  firstPort + INSTANCE_PORT_STRIDE * instance;

/** METRICS_PORT of a service's instance, when the layout gives the service one (0: any, each). */
function metricsPortOf(
  layout: PlatformLayout,
  service: PlatformServiceName,
  instance: number,
): { METRICS_PORT?: string } {
  const first = layout.metricsPorts?.[service];
  if (first === undefined) return {};
  return { METRICS_PORT: String(first === 0 ? 0 : instancePort(first, instance)) };
}

/**
 * A service's whole environment: the variables every service reads and only its own
 * secrets. `layout.addresses` names every instance of each service (`ip:port,ip:port`):
 * the peers' addresses are those lists (clients balance over them, round_robin), and
 * GRPC_HOST and GRPC_PORT are those of instance `instance` (default the first).
 */
export function serviceEnvironment(
  service: PlatformServiceName,
  layout: PlatformLayout,
  instance = 0,
): Record<string, string> {
  const { secrets } = layout;
  const own = serviceInstances(layout.addresses[service])[instance];
  if (!own) throw new Error(`${service} has no instance ${instance} in the layout`);
  const [host, port] = own.split(':') as [string, string];
  const common = {
    GRPC_HOST: host,
    GRPC_PORT: port,
    DATABASE_URL: layout.databases[service],
    KAFKA_BROKERS: layout.brokers,
    LOG_LEVEL: layout.logLevel,
    CLIENT_CREDENTIALS: clientCredentials(service, layout),
    OTP_GRPC_ADDRESS: layout.addresses.otp,
    SERVICE_CLIENT_ID: serviceClientId(service),
    SERVICE_CLIENT_SECRET: secrets.serviceClientSecrets[serviceClientId(service)] as string,
    ...(layout.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: layout.otlpEndpoint } : {}),
    ...metricsPortOf(layout, service, instance),
  };
  switch (service) {
    case 'otp':
      return {
        ...common,
        OTP_HASH_KEY: secrets.otpHashKey,
        MOBILE_INDEX_KEY: secrets.mobileIndexKey,
        OTP_KEY_ENCRYPTION_KEY: secrets.keyEncryptionKey,
        OTP_SMS_DELIVERY: 'dev-sink',
        OTP_DEV_SMS_SINK: layout.smsSink,
      };
    case 'identity':
      return {
        ...common,
        MOBILE_INDEX_KEY: secrets.mobileIndexKey,
        DOCUMENT_INDEX_KEY: secrets.documentIndexKey,
        SECRET_CODE_KEY: secrets.secretCodeKey,
        IDENTITY_KEY_ENCRYPTION_KEYS: `dev-1:${secrets.identityKeyEncryptionKey}`,
        PLATFORM_ADMIN_BOOTSTRAP: `${layout.admin.username}:${secrets.adminMobile}:${layout.admin.passwordHash}`,
      };
    case 'vaccination-record':
      return {
        ...common,
        IDENTITY_GRPC_ADDRESS: layout.addresses.identity,
        ISSUER_URL: layout.issuer.url,
        // One issuer URL, served by the first instance: a loopback issuer's URL must name
        // the port its keys are served on.
        ...(instance === 0 ? { ISSUER_HTTP_PORT: String(layout.issuer.httpPort) } : {}),
        ISSUER_KEY_ENCRYPTION_KEY: secrets.issuerKeyEncryptionKey,
      };
    case 'audit':
      return {
        ...common,
        IDENTITY_GRPC_ADDRESS: layout.addresses.identity,
        AUDIT_LOG_SIGNER_KEY: secrets.auditLogSignerKey,
        AUDIT_STATE_DIR: layout.auditStateDir,
        AUDIT_WITNESSES: layout.auditWitnesses ?? 'none',
      };
  }
}

/** Where the web tier serves and what it calls: the addresses of the four services. */
export interface WebLayout {
  readonly addresses: Readonly<Record<PlatformServiceName, string>>;
  readonly secrets: PlatformSecrets;
  /** The loopback addresses it listens on, comma-separated (WEB_HTTP_HOSTS). */
  readonly hosts: string;
  readonly port: number;
  readonly logLevel: string;
  /** The development SMS inbox, named on the sign-in page (development platforms only). */
  readonly smsInbox?: string;
}

/** The web service's whole environment (services/web/src/config.ts reads it). */
export function webEnvironment(layout: WebLayout): Record<string, string> {
  return {
    WEB_HTTP_HOSTS: layout.hosts,
    WEB_HTTP_PORT: String(layout.port),
    LOG_LEVEL: layout.logLevel,
    OTP_GRPC_ADDRESS: layout.addresses.otp,
    IDENTITY_GRPC_ADDRESS: layout.addresses.identity,
    VACCINATION_RECORD_GRPC_ADDRESS: layout.addresses['vaccination-record'],
    AUDIT_GRPC_ADDRESS: layout.addresses.audit,
    SERVICE_CLIENT_ID: WEB_CLIENT_ID,
    SERVICE_CLIENT_SECRET: layout.secrets.webClientSecret,
    WEB_COOKIE_KEY: layout.secrets.webCookieKey,
    ...(layout.smsInbox ? { WEB_DEV_SMS_INBOX: layout.smsInbox } : {}),
  };
}
