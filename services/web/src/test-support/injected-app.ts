// The web app in process for the route tests (fastify's inject), the platform faked: the
// app with a test configuration, a fake platform client answering from a table of
// methods, and a browser's GET and form POST carrying a cookie jar.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { LogSink } from '@vaxguard/logging';
import { createWebApp, type WebApp } from '../app';
import { readConfig } from '../config';
import type { PlatformClients } from '../http/platform-clients';

/** What a fake method answers a request with (or throws, as the real service would). */
export type FakeMethods = Record<string, (request: never) => unknown>;

/**
 * One fake client serving every service's methods from `methods`. `unexpected` is what
 * a call to a method not in the table throws; `stream` serves server-streaming methods.
 */
export function fakePlatformClients(options: {
  readonly methods: FakeMethods;
  readonly unexpected: (method: string) => Error;
  readonly stream?: (method: string, request: never) => AsyncIterable<unknown>;
  readonly onCall?: (method: string, request: unknown) => void;
}): PlatformClients {
  const client = {
    call: async (method: string, request: never) => {
      options.onCall?.(method, request);
      const answer = options.methods[method];
      if (!answer) throw options.unexpected(method);
      return answer(request);
    },
    stream: (method: string, request: never) => {
      options.onCall?.(method, request);
      if (!options.stream) throw new Error('no streams');
      return options.stream(method, request);
    },
    close: () => undefined,
  };
  return { otp: client, identity: client, records: client, audit: client, close() {} } as never;
}

/**
 * The app over `platform`, ready for inject (not listening until its start()); an address
 * may ask for `signInLimit` sign-in codes.
 */
export async function startInjectedApp(options: {
  readonly platform: PlatformClients;
  readonly logSink: LogSink;
  readonly signInLimit: number;
  /** More configuration (WEB_TLS_CERT_FILE, ...). */
  readonly env?: Readonly<Record<string, string>>;
}): Promise<WebApp> {
  const config = readConfig({
    WEB_COOKIE_KEY: randomBytes(32).toString('base64'),
    OTP_GRPC_ADDRESS: '127.0.0.1:1',
    IDENTITY_GRPC_ADDRESS: '127.0.0.1:2',
    VACCINATION_RECORD_GRPC_ADDRESS: '127.0.0.1:3',
    AUDIT_GRPC_ADDRESS: '127.0.0.1:4',
    SERVICE_CLIENT_ID: 'web',
    SERVICE_CLIENT_SECRET: 'a-long-enough-secret',
    LOG_LEVEL: 'debug',
    WEB_SIGN_IN_LIMIT: String(options.signInLimit),
    ...options.env,
  });
  const app = await createWebApp(config, {
    platform: options.platform,
    logSink: options.logSink,
    staticDir: fileURLToPath(new URL('../../public/', import.meta.url)),
  });
  await app.http.ready();
  return app;
}

/** A browser's cookies by name. */
export type CookieJar = Record<string, string>;

/** The user agent every request of these tests names (a session is bound to it). */
export const UA = { 'user-agent': 'unit-test' };

/** The jar with the cookies a response set merged over it. */
function withCookies(jar: CookieJar, response: { cookies: { name: string; value: string }[] }) {
  return {
    ...jar,
    ...Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie.value])),
  };
}

/** The jar as a Cookie header's value. */
export function cookieHeader(jar: CookieJar): string {
  return Object.entries(jar)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
}

/** The CSRF token of the first form on a page ('' when it has none). */
export const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** A browser on `app()` (read at each request, so a test may swap the app). */
export function injectedBrowser(app: () => WebApp) {
  return {
    /** GETs a page with the jar: the response, its form's CSRF token, the jar after it. */
    get: async (url: string, jar: CookieJar = {}) => {
      const response = await app().http.inject({
        method: 'GET',
        url,
        headers: { ...UA, cookie: cookieHeader(jar) },
      });
      return { response, csrf: csrfOf(response.body), jar: withCookies(jar, response) };
    },
    /** POSTs a form with the jar: the response and the jar after it. */
    post: async (url: string, form: Record<string, string>, jar: CookieJar, headers = {}) => {
      const response = await app().http.inject({
        method: 'POST',
        url,
        headers: {
          ...UA,
          cookie: cookieHeader(jar),
          'content-type': 'application/x-www-form-urlencoded',
          ...headers,
        },
        payload: new URLSearchParams(form).toString(),
      });
      return { response, jar: withCookies(jar, response) };
    },
  };
}
