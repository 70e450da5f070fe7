import { ConfigError, env, loadConfig, type ConfigOf, type Environment } from '@vaxguard/config';
import { parseServiceAddress } from '@vaxguard/grpc-kit';
import type { LogLevel } from '@vaxguard/logging';
import { SESSION_IDLE_MS, SIGN_IN_REQUESTS } from './session/session-rules';

export const DEFAULT_HTTP_PORT = 8080;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Where a VaxGuard service is: `host:port`, each of its instances (`ip:port,ip:port`) or
 * `dns:///name:port`, checked as every service checks its peers' (grpc-kit's address.ts).
 */
const address = parseServiceAddress;

/**
 * The loopback addresses the site listens on, comma-separated. Only loopback: the web
 * tier sits behind a TLS-terminating proxy in production and is never exposed itself.
 */
function loopbackHosts(raw: string): string[] {
  const hosts = raw
    .split(',')
    .map((host) => host.trim())
    .filter(Boolean);
  if (hosts.length === 0) throw new Error('must name at least one address');
  for (const host of hosts) {
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) && host !== '::1')
      throw new Error(`${host} is not a loopback address (127.0.0.0/8 or ::1)`);
  }
  return hosts;
}

function webConfigSchema() {
  return {
    httpHosts: env.custom('WEB_HTTP_HOSTS', loopbackHosts, { default: ['127.0.0.1'] }),
    httpPort: env.port('WEB_HTTP_PORT', { default: DEFAULT_HTTP_PORT }),
    /** PEM files: when both are set the site is served over TLS and its cookies are Secure. */
    tlsCertFile: env.optional(env.string('WEB_TLS_CERT_FILE')),
    tlsKeyFile: env.optional(env.string('WEB_TLS_KEY_FILE')),
    logLevel: env.oneOf<LogLevel>('LOG_LEVEL', LOG_LEVELS, { default: 'info' }),
    shutdownGraceMs: env.duration('SHUTDOWN_GRACE', { default: 10_000 }),
    sessionIdleMs: env.duration('WEB_SESSION_IDLE', { default: SESSION_IDLE_MS }),
    /**
     * Sign-in codes one client address may ask for per 15 minutes (twice as many may be
     * submitted). Behind a proxy every citizen shares its address: raise it there.
     */
    signInLimit: env.integer('WEB_SIGN_IN_LIMIT', {
      default: SIGN_IN_REQUESTS.limit,
      min: 1,
      max: 100_000,
    }),
    /** Signs the CSRF cookie. */
    cookieKey: env.secretKey('WEB_COOKIE_KEY', { minBytes: 32 }),
    otpAddress: env.custom('OTP_GRPC_ADDRESS', address),
    identityAddress: env.custom('IDENTITY_GRPC_ADDRESS', address),
    recordsAddress: env.custom('VACCINATION_RECORD_GRPC_ADDRESS', address),
    auditAddress: env.custom('AUDIT_GRPC_ADDRESS', address),
    /** The web tier's own client credentials at the four services. */
    clientId: env.string('SERVICE_CLIENT_ID'),
    clientSecret: env.custom('SERVICE_CLIENT_SECRET', (raw) => {
      if (raw.length < 16) throw new Error('must be at least 16 characters');
      return raw;
    }),
    /** A development platform's SMS inbox, named on the sign-in page; unset in production. */
    devSmsInbox: env.optional(env.string('WEB_DEV_SMS_INBOX')),
  };
}

/** The web service's configuration, read once; every problem reported together. */
export function readConfig(environment: Environment = process.env) {
  const config = loadConfig(environment, webConfigSchema());
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError(['WEB_TLS_CERT_FILE, WEB_TLS_KEY_FILE: set both or neither']);
  }
  return config;
}

export type Config = ConfigOf<ReturnType<typeof webConfigSchema>>;
