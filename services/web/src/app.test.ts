// The web app in process (fastify's inject), the platform faked: the CSRF wiring, the
// security headers, the session cookie and the rule that no URL carries personal data.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notFound, unauthenticated } from '@vaxguard/errors';
import { MemoryLogSink } from '@vaxguard/logging';
import type { WebApp } from './app';
import { CITIZEN_PATHS } from './citizen/routes';
import type { PlatformClients } from './http/platform-clients';
import {
  cookieHeader,
  csrfOf,
  fakePlatformClients,
  injectedBrowser,
  startInjectedApp,
  UA,
  type FakeMethods,
} from './test-support/injected-app';

const MOBILE = '9876501234';
/** The page tokens the fake audit service was asked for. */
const historyTokens: string[] = [];
const REF = 'bnf_abcdefghijklmnopqrstuvwxyz';

const GRANT_ID = '00000000-0000-4000-8000-00000000c0de';
/** A vaccinator's grant naming the citizen's beneficiary, and the grants withdrawn so far. */
const consentGrants = [
  {
    grantId: GRANT_ID,
    consent: { beneficiaryRefs: [REF], grantee: { kind: 1, id: 'stf-1' } },
    clientId: 'vaccinator-app',
    purpose: 2,
    issuedAt: new Date('2026-12-01T10:00:00Z'),
    expiresAt: new Date('2026-12-01T10:05:00Z'),
  },
];
const withdrawnGrants: string[] = [];

/** The platform as the web tier sees it: a citizen with one beneficiary. */
function fakePlatform(): PlatformClients {
  const methods: FakeMethods = {
    generateOtp: () => ({ txnId: '00000000-0000-4000-8000-000000000001' }),
    confirmOtp: (request: { otp: string }) => {
      if (request.otp !== '123456')
        throw unauthenticated('wrong code', { reason: 'OTP_WRONG_CODE' });
      return {
        token: 'citizen-token',
        claims: { tokenId: 'tid', expiresAt: new Date(Date.now() + 600_000) },
      };
    },
    listMyBeneficiaries: () => ({
      beneficiaries: [
        {
          beneficiaryRef: REF,
          name: 'Asha Verma',
          gender: 1,
          yearOfBirth: 1980,
          photoIdKind: 1,
          maskedPhotoId: 'XXXX XXXX 1234',
          maskedMobile: 'XXXXXX1234',
        },
      ],
    }),
    getMyAccessHistory: (request: { pageToken: string }) => {
      historyTokens.push(request.pageToken);
      const access = {
        beneficiaryRef: REF,
        occurredAt: new Date('2026-12-01T10:00:00Z'),
        granted: request.pageToken === '',
        role: 'VACCINATOR',
        centreOrPartner: 'centre-1',
        purpose: 'VACCINATION',
        refusal: request.pageToken === '' ? '' : 'NO_CONSENT',
        centreName: 'Andheri PHC',
        partnerName: '',
      };
      return {
        accesses: [access],
        nextPageToken: request.pageToken === '' ? 'opaque-token-2' : '',
      };
    },
    revokeToken: () => ({}),
    listMyConsents: () => ({
      grants: consentGrants.filter((grant) => !withdrawnGrants.includes(grant.grantId)),
    }),
    withdrawConsent: (request: { grantId: string }) => {
      if (!consentGrants.some((grant) => grant.grantId === request.grantId))
        throw notFound('no such consent grant', { reason: 'CONSENT_NOT_FOUND' });
      withdrawnGrants.push(request.grantId);
      return {};
    },
  };
  return fakePlatformClients({
    methods,
    unexpected: (method) => new Error(`unexpected call ${method}`),
  });
}

let app: WebApp;
const logs = new MemoryLogSink();

function startApp(signInLimit: number) {
  return startInjectedApp({ platform: fakePlatform(), logSink: logs, signInLimit });
}

beforeAll(async () => {
  // These tests sign in many times from one address; the limit has its own test.
  app = await startApp(1_000);
});

afterAll(async () => {
  await app?.stop();
});

const { get: getForm, post } = injectedBrowser(() => app);

/** Signs in with the fake platform's code: the jar of a signed-in browser. */
async function signedIn() {
  const start = await getForm('/');
  const sent = await post('/sign-in', { mobile: MOBILE, _csrf: start.csrf }, start.jar);
  const code = await getForm(CITIZEN_PATHS.code, sent.jar);
  const confirmed = await post(CITIZEN_PATHS.code, { otp: '123456', _csrf: code.csrf }, code.jar);
  expect(confirmed.response.headers.location).toBe('/me');
  return { jar: confirmed.jar, before: code.jar };
}

describe('every page', () => {
  it('carries a strict CSP with no inline script or style, and the other protective headers', async () => {
    const { response } = await getForm('/');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(response.body).not.toMatch(/\sstyle="/);
  });
});

describe('forms', () => {
  it('are refused without the CSRF token, with another session’s token, or from another origin', async () => {
    const start = await getForm('/');
    expect(start.csrf).not.toBe('');
    const none = await post('/sign-in', { mobile: MOBILE }, start.jar);
    expect(none.response.statusCode).toBe(403);
    const forged = await post('/sign-in', { mobile: MOBILE, _csrf: 'forged' }, start.jar);
    expect(forged.response.statusCode).toBe(403);
    const crossOrigin = await post('/sign-in', { mobile: MOBILE, _csrf: start.csrf }, start.jar, {
      origin: 'http://evil.example',
    });
    expect(crossOrigin.response.statusCode).toBe(403);
    const crossSite = await post('/sign-in', { mobile: MOBILE, _csrf: start.csrf }, start.jar, {
      'sec-fetch-site': 'cross-site',
    });
    expect(crossSite.response.statusCode).toBe(403);
    const good = await post('/sign-in', { mobile: MOBILE, _csrf: start.csrf }, start.jar, {
      origin: 'http://localhost:80',
      host: 'localhost:80',
      'sec-fetch-site': 'same-origin',
    });
    expect(good.response.statusCode).toBe(303);
  });

  it('take a token only in the session it was made for: a token of before the sign-in fails after it', async () => {
    const { jar, before } = await signedIn();
    const stale = await getForm(CITIZEN_PATHS.code, before);
    // The session rotated at sign-in: the old id opens nothing, and its tokens are worth nothing now.
    const signOut = await post(CITIZEN_PATHS.signOut, { _csrf: stale.csrf }, jar);
    expect(signOut.response.statusCode).toBe(403);
    const page = await getForm('/me', jar);
    expect(page.response.body).toContain('Asha Verma');
  });
});

describe('the session cookie', () => {
  it('is HttpOnly and SameSite=Strict, renewed at sign-in, bound to the client, and gone at sign-out', async () => {
    const start = await getForm('/');
    const sent = await post('/sign-in', { mobile: MOBILE, _csrf: start.csrf }, start.jar);
    const set = sent.response.cookies.find((c) => c.name === 'vaxguard-session');
    expect(set).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    const { jar } = await signedIn();
    const elsewhere = await app.http.inject({
      method: 'GET',
      url: '/me',
      headers: { ...UA, cookie: cookieHeader(jar) },
      remoteAddress: '127.0.0.9',
    });
    expect(elsewhere.statusCode).toBe(303);
    expect(logs.text()).toContain('session cookie presented by another client');
    const me = await getForm('/me', jar);
    expect(me.response.statusCode).toBe(200);
    const out = await post(CITIZEN_PATHS.signOut, { _csrf: me.csrf }, jar);
    expect(out.response.headers.location).toBe('/');
    const after = await getForm('/me', jar);
    expect(after.response.statusCode).toBe(303);
  });
});

/** A self-signed certificate for 127.0.0.1 (openssl), in a folder of its own. */
function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  return { cert, key };
}

/** One HTTPS request to 127.0.0.1 trusting only `ca`: its status, headers and body. */
function overTls(
  port: number,
  ca: Buffer,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        ca,
        method: options.method,
        path: options.path,
        headers: options.headers,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

describe('over TLS', () => {
  it('serves HTTPS only, with HSTS, and its cookies are __Host- names, Secure, HttpOnly and SameSite=Strict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vaxguard-web-tls-'));
    const { cert, key } = selfSignedCertificate(dir);
    const tlsApp = await startInjectedApp({
      platform: fakePlatform(),
      logSink: logs,
      signInLimit: 1_000,
      env: { WEB_TLS_CERT_FILE: cert, WEB_TLS_KEY_FILE: key, WEB_HTTP_PORT: '0' },
    });
    try {
      const port = await tlsApp.start();
      const ca = readFileSync(cert);
      const page = await overTls(port, ca, { method: 'GET', path: '/', headers: UA });
      expect(page.status).toBe(200);
      expect(String(page.headers['strict-transport-security'])).toMatch(/max-age=\d+/);
      const setCookies = (headers: Record<string, string | string[] | undefined>) =>
        [headers['set-cookie'] ?? []].flat();
      const csrfCookie = setCookies(page.headers).find((c) =>
        c.startsWith('__Host-vaxguard-csrf='),
      );
      expect(csrfCookie).toMatch(/; Secure/);
      expect(csrfCookie).toMatch(/; HttpOnly/);
      const jar = Object.fromEntries(
        setCookies(page.headers).map(
          (c) => (c.split(';')[0] ?? '').split('=', 2) as [string, string],
        ),
      );
      const sent = await overTls(port, ca, {
        method: 'POST',
        path: '/sign-in',
        headers: {
          ...UA,
          cookie: cookieHeader(jar),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ mobile: MOBILE, _csrf: csrfOf(page.body) }).toString(),
      });
      expect(sent.status).toBe(303);
      const session = setCookies(sent.headers).find((c) =>
        c.startsWith('__Host-vaxguard-session='),
      );
      expect(session).toBeDefined();
      for (const attribute of ['; Path=/', '; HttpOnly', '; Secure', '; SameSite=Strict']) {
        expect(session).toContain(attribute);
      }
      expect(session).not.toMatch(/; Domain=/i);
      // Plain HTTP on the same port is not served.
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    } finally {
      await tlsApp.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sign-in codes', () => {
  it('are limited per client address: past the limit the page says how long to wait', async () => {
    const limited = await startApp(2);
    try {
      const browser = injectedBrowser(() => limited);
      const ask = async () => {
        const page = await browser.get('/');
        return (await browser.post('/sign-in', { mobile: MOBILE, _csrf: page.csrf }, page.jar))
          .response;
      };
      expect((await ask()).statusCode).toBe(303);
      expect((await ask()).statusCode).toBe(303);
      const third = await ask();
      expect(third.statusCode).toBe(429);
      expect(third.body).toContain('Please try again in 15 minutes');
    } finally {
      await limited.stop();
    }
  });
});

describe('the access history', () => {
  it('names who read by role and centre, and pages by number while the session holds the tokens', async () => {
    const { jar } = await signedIn();
    historyTokens.length = 0;
    const first = await getForm('/me/history', jar);
    expect(first.response.body).toContain('Vaccinator, Andheri PHC');
    expect(first.response.body).toContain('Asha Verma');
    expect(first.response.body).not.toContain(REF);
    expect(first.response.body).toContain('href="/me/history?page=2"');
    expect(first.response.body).not.toContain('opaque-token-2');
    const second = await getForm('/me/history?page=2', jar);
    expect(second.response.body).toContain('Refused: no consent');
    expect(second.response.body).not.toContain('page=3');
    // A page the session has not reached, or no number at all, is the first.
    await getForm('/me/history?page=9', jar);
    await getForm('/me/history?page=x', jar);
    expect(historyTokens).toEqual(['', 'opaque-token-2', '', '']);
  });
});

describe('consent', () => {
  it('lists the consents in force by who and for whom, and withdraws one with the CSRF token', async () => {
    const { jar } = await signedIn();
    const listed = await getForm(CITIZEN_PATHS.consent, jar);
    expect(listed.response.body).toContain('A vaccinator at the centre');
    expect(listed.response.body).toContain('Asha Verma');
    expect(listed.response.body).not.toContain(REF);
    expect(listed.response.body).not.toContain('stf-1');
    expect(listed.response.body).toContain(`name="grant" value="${GRANT_ID}"`);

    const unknown = await post(
      CITIZEN_PATHS.consentWithdraw,
      { grant: '00000000-0000-4000-8000-000000000bad', _csrf: listed.csrf },
      listed.jar,
    );
    expect(unknown.response.statusCode).toBe(404);
    expect(unknown.response.body).toContain('That consent had already ended.');
    const forged = await post(CITIZEN_PATHS.consentWithdraw, { grant: GRANT_ID }, listed.jar);
    expect(forged.response.statusCode).toBe(403);
    expect(withdrawnGrants).toEqual([]);

    const withdrawn = await post(
      CITIZEN_PATHS.consentWithdraw,
      { grant: GRANT_ID, _csrf: listed.csrf },
      listed.jar,
    );
    expect(withdrawn.response.statusCode).toBe(200);
    expect(withdrawn.response.body).toContain('The consent is withdrawn');
    expect(withdrawn.response.body).toContain('No consent you gave is in force now.');
    expect(withdrawnGrants).toEqual([GRANT_ID]);
  });
});

describe('URLs', () => {
  it('hold no personal data: fixed paths, redirects to fixed paths, forms that post the mobile in the body', async () => {
    const paths = app.http
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .map((line) => line.replace(/^[\s│├└─]+/, '').replace(/ \(.*\)$/, ''))
      .filter(Boolean);
    // The citizen's pages take no parameter at all; the language switch takes a language code.
    const citizenPaths: readonly string[] = Object.values(CITIZEN_PATHS);
    expect(citizenPaths.filter((path) => path.includes(':'))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['language/:lang']));
    const start = await getForm('/');
    expect(start.response.body).toMatch(/<form method="post" action="\/sign-in"/);
    expect(start.response.body).not.toMatch(/method="get"/i);
    const sent = await post('/sign-in', { mobile: MOBILE, _csrf: start.csrf }, start.jar);
    expect(sent.response.headers.location).toBe(CITIZEN_PATHS.code);
    const { jar } = await signedIn();
    const me = await getForm('/me', jar);
    // A beneficiary is named by its place in the list, never by its reference.
    expect(me.response.body).not.toContain(REF);
    expect(me.response.body).toContain('name="beneficiary" value="0"');
    expect(me.response.body).not.toContain(MOBILE);
    // The language switch comes back to a local path only.
    const back = await app.http.inject({ method: 'GET', url: '/language/hi?back=//evil.example' });
    expect(back.headers.location).toBe('/');
    const local = await app.http.inject({ method: 'GET', url: '/language/hi?back=/me/history' });
    expect(local.headers.location).toBe('/me/history');
    expect(logs.text()).not.toContain(MOBILE);
  });
});
