import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { h } from 'preact';
import { createLogger, type Logger, type LogSink } from '@vaxguard/logging';
import { registerAuditorRoutes } from './auditor/routes';
import { registerCitizenRoutes } from './citizen/routes';
import type { Config } from './config';
import { createPlatformClients, type PlatformClients } from './http/platform-clients';
import { registerLanguageRoute } from './http/language-route';
import {
  bindingOf,
  csrfUserInfo,
  pageContext,
  sendPage,
  type SessionCookies,
} from './http/web-context';
import { ErrorPage } from './pages/error-page';
import { AttemptLimiter } from './session/attempt-limiter';
import { cookieNames, SIGN_IN_CONFIRMATIONS, SIGN_IN_REQUESTS } from './session/session-rules';
import { SessionStore } from './session/session-store';

/** What every route module gets: the platform, the sessions, the limits, the log. */
export interface WebDeps {
  readonly platform: PlatformClients;
  readonly cookies: SessionCookies;
  readonly logger: Logger;
  /** Sign-in codes asked for and submitted, per client address. */
  readonly signInRequests: AttemptLimiter;
  readonly signInConfirmations: AttemptLimiter;
  /** A development platform's SMS inbox, named on the sign-in page. */
  readonly devSmsInbox: string | undefined;
}

export interface WebApp {
  readonly http: FastifyInstance;
  readonly deps: WebDeps;
  /** Listens on every configured address; resolves with the port. */
  start(): Promise<number>;
  stop(): Promise<void>;
  stopOnSignals(): void;
}

/** What tests may replace: the platform clients, the clock of sessions, the log sink. */
export interface WebAppOverrides {
  readonly platform?: PlatformClients;
  readonly clock?: () => number;
  readonly logSink?: LogSink;
  /** Where the stylesheet and bundled scripts are (default: `public/` beside the bundle). */
  readonly staticDir?: string;
}

/**
 * Whether a POST came from a page of another origin, as the browser says: Sec-Fetch-Site
 * when it sends one (anything but same-origin, or none for a typed URL), else an Origin
 * that is not this host's. A request with neither (an old browser, curl) is left to the
 * CSRF token alone.
 */
export function isCrossSite(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  protocol: string,
): boolean {
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = headers['origin'];
  if (typeof origin !== 'string') return false;
  try {
    return new URL(origin).origin !== new URL(`${protocol}://${String(headers['host'])}`).origin;
  } catch {
    return true; // "null" (a sandboxed or privacy-sensitive context) or malformed
  }
}

/** A key for one use, derived from the configured one (HMAC-SHA-256 of the use's name). */
function derivedKey(key: Buffer, use: string): string {
  return createHmac('sha256', key).update(`vaxguard/web/${use}`).digest('base64');
}

/** How often expired sessions and aged-out attempts are dropped. */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * The strict Content-Security-Policy: scripts, styles, images and forms from this origin
 * only; no inline script or style, no plugins, no framing, no <base>.
 */
const CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'"],
    connectSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    objectSrc: ["'none'"],
  },
};

/**
 * The web service's composition root: the platform clients (its own credentials), the
 * in-memory sessions, fastify with cookies, forms, CSRF, helmet's headers and the static
 * files, then the citizen's and the auditor's routes.
 */
export async function createWebApp(
  config: Config,
  overrides: WebAppOverrides = {},
): Promise<WebApp> {
  const logger = createLogger({
    service: 'web',
    level: config.logLevel,
    ...(overrides.logSink ? { sink: overrides.logSink } : {}),
  });
  const secure = config.tlsCertFile !== undefined;
  const clock = overrides.clock ?? Date.now;
  const sessions = new SessionStore({ clock, idleMs: config.sessionIdleMs });
  const names = cookieNames(secure);
  const platform =
    overrides.platform ??
    createPlatformClients({
      addresses: {
        otp: config.otpAddress,
        identity: config.identityAddress,
        records: config.recordsAddress,
        audit: config.auditAddress,
      },
      clientId: config.clientId,
      secret: config.clientSecret,
    });
  const deps: WebDeps = {
    platform,
    cookies: { sessions, cookieName: names.session, secure },
    logger,
    signInRequests: new AttemptLimiter({ ...SIGN_IN_REQUESTS, limit: config.signInLimit }, clock),
    signInConfirmations: new AttemptLimiter(
      {
        ...SIGN_IN_CONFIRMATIONS,
        limit: SIGN_IN_CONFIRMATIONS.limit * (config.signInLimit / SIGN_IN_REQUESTS.limit),
      },
      clock,
    ),
    devSmsInbox: config.devSmsInbox,
  };

  // One server per listening address, all serving the same app.
  const servers: Server[] = [];
  const tls =
    config.tlsCertFile && config.tlsKeyFile
      ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) }
      : undefined;
  const http = Fastify({
    logger: false,
    trustProxy: false,
    bodyLimit: 16 * 1024,
    serverFactory: (handler) => {
      for (let i = 0; i < config.httpHosts.length; i++) {
        servers.push(tls ? createHttpsServer(tls, handler) : createHttpServer(handler));
      }
      return servers[0] as Server;
    },
  });
  http.decorateRequest('webSession', undefined);

  // Signs the CSRF cookie (the session cookie is a random id and needs no signature);
  // the CSRF tokens' HMAC has a key of its own, both derived from WEB_COOKIE_KEY.
  await http.register(fastifyCookie, { secret: derivedKey(config.cookieKey, 'cookie-signature') });
  await http.register(fastifyFormbody);
  await http.register(fastifyHelmet, {
    contentSecurityPolicy: CONTENT_SECURITY_POLICY,
    strictTransportSecurity: secure,
    // Not helmet's no-referrer: under it a browser sends `Origin: null` with its own
    // forms, and the origin check above could not tell them from a sandboxed page's.
    referrerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
  });
  await http.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: names.csrf,
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict', secure, signed: true },
    csrfOpts: { hmacKey: derivedKey(config.cookieKey, 'csrf-token') },
    getUserInfo: csrfUserInfo,
  });
  http.addHook('onRequest', async (request) => {
    request.webSession = undefined;
    const id = request.cookies[names.session];
    if (!id) return;
    const found = sessions.find(id, bindingOf(request));
    if (typeof found === 'string') {
      // A cookie from another address or browser is someone else's: it opens nothing.
      if (found === 'wrong-binding') logger.warn('session cookie presented by another client');
      return;
    }
    request.webSession = found;
  });
  // Cross-site POSTs are refused before any form is read: a browser's own Origin or
  // Sec-Fetch-Site says where a form came from, and the CSRF token checks it again.
  http.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'POST') return;
    if (isCrossSite(request.headers, request.protocol)) {
      logger.warn('cross-site form post refused', {
        route: request.routeOptions.url ?? 'unmatched',
      });
      const page = pageContext(request, reply);
      return sendPage(reply, h(ErrorPage, { page, message: 'error.csrf' }), 403);
    }
  });
  http.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'POST') http.csrfProtection(request, reply, done);
    else done();
  });
  http.addHook('onResponse', async (request, reply) => {
    // The route's pattern, never the URL as sent.
    logger.debug('request', {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    });
  });

  await http.register(fastifyStatic, {
    root: overrides.staticDir ?? fileURLToPath(new URL('./public/', import.meta.url)),
    prefix: '/static/',
    // The files change only with a new build; an hour spares a cheap phone refetching them.
    maxAge: '1h',
  });

  http.setErrorHandler((error, request, reply) => {
    const page = pageContext(request, reply);
    const code = (error as { code?: string }).code;
    if (code === 'FST_CSRF_INVALID_TOKEN' || code === 'FST_CSRF_MISSING_SECRET') {
      logger.warn('form refused: bad CSRF token', { route: request.routeOptions.url });
      return sendPage(reply, h(ErrorPage, { page, message: 'error.csrf' }), 403);
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return sendPage(reply, h(ErrorPage, { page, message: 'error.generic' }), status);
    }
    logger.error('request failed', { route: request.routeOptions.url, err: error });
    return sendPage(reply, h(ErrorPage, { page, message: 'error.generic' }), 500);
  });
  http.setNotFoundHandler((request, reply) =>
    sendPage(
      reply,
      h(ErrorPage, { page: pageContext(request, reply), message: 'error.notFound' }),
      404,
    ),
  );

  http.get('/healthz', async (_request, reply) => reply.type('text/plain').send('ok'));
  registerLanguageRoute(http);
  registerCitizenRoutes(http, deps);
  registerAuditorRoutes(http, deps);

  const pruner = setInterval(() => {
    sessions.prune();
    deps.signInRequests.prune();
    deps.signInConfirmations.prune();
  }, PRUNE_INTERVAL_MS).unref();

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    clearInterval(pruner);
    const closing = servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    );
    const grace = setTimeout(
      () => servers.forEach((s) => s.closeAllConnections()),
      config.shutdownGraceMs,
    );
    await Promise.all(closing);
    clearTimeout(grace);
    await http.close();
    platform.close();
    logger.info('service stopped');
  };

  const app: WebApp = {
    http,
    deps,
    async start() {
      await http.ready();
      let port = config.httpPort;
      for (const [i, host] of config.httpHosts.entries()) {
        const server = servers[i] as Server;
        port = await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => {
            const address = server.address();
            resolve(typeof address === 'object' && address ? address.port : port);
          });
        });
      }
      logger.info('service started', { hosts: config.httpHosts.join(','), port, tls: secure });
      return port;
    },
    stop() {
      stopping ??= stop();
      return stopping;
    },
    stopOnSignals() {
      const handle = (signal: NodeJS.Signals): void => {
        logger.info('shutting down', { signal });
        app.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error('unclean shutdown', { err: error });
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', handle);
      process.once('SIGTERM', handle);
    },
  };
  return app;
}
