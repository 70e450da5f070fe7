// The web tier in a real browser (issue 20): headless Chromium (Debian's) against the
// built web service and a whole platform. The citizen's tests are here; the auditor's
// console's run in the same file (auditor/auditor.browser.ts) to share the platform.
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchIssuerTrust } from '@vaxguard/dev-operator';
import { createOfflineVerifier } from '@vaxguard/health-cards';
import { identityStaffV1 } from '@vaxguard/proto';
import { callAs, eventually, freePort, randomLetters, type World } from '@vaxguard/testing';
import { auditorConsoleTests } from './auditor/auditor.browser';
import {
  seriousAccessibilityViolations,
  startBrowserFixture,
  type BrowserFixture,
} from './test-support/browser-fixture';

let fixture: BrowserFixture;
const getFixture = () => fixture;

beforeAll(async () => {
  fixture = await startBrowserFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

function indianDate(): string {
  return new Date(Date.now() + 5.5 * 3_600_000).toISOString().slice(0, 10);
}

/** A citizen with one beneficiary (a fresh mobile), registered through the API. */
async function citizenWithBeneficiary(world: World, name = `Asha ${randomLetters(6)}`) {
  const mobile = world.freshMobile();
  const token = await world.citizen(mobile);
  const ref = await world.register(token, mobile, name);
  return { mobile, token, ref, name };
}

/** A vaccinator at a new centre holding the beneficiary's consent grant (by OTP, the code from the SMS inbox). */
async function consentedVaccinator(
  world: World,
  beneficiaryRef: string,
  centreName = `Centre ${randomLetters(8)}`,
) {
  const centreId = await world.centre(centreName);
  const vaccinator = await world.staff(identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR, centreId);
  const { txnId } = await world.clients.identity.call(
    'requestConsent',
    { target: { $case: 'beneficiaryRef', value: beneficiaryRef } },
    callAs(vaccinator.session),
  );
  return { vaccinator, grant: await world.confirm(txnId) };
}

/** Signs in on the site as the citizen would: the mobile, then the code their phone got. */
async function signIn(context: BrowserContext, baseUrl: string, mobile: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${baseUrl}/`);
  await page.fill('#mobile', mobile);
  const since = await fixture.smsCount();
  await page.click('form[action="/sign-in"] button[type="submit"]');
  await page.waitForURL(`${baseUrl}/sign-in/code`);
  await page.fill('#otp', await fixture.smsCodeFor(mobile, since));
  await page.click('form[action="/sign-in/code"] button[type="submit"]');
  await page.waitForURL(`${baseUrl}/me`);
  return page;
}

describe('the citizen’s page in a browser', () => {
  it('signs in with the SMS code, shows the beneficiaries masked, a certificate the offline verifier accepts, and who read or tried to read the record; no personal data in any URL', async () => {
    const { world } = fixture;
    const citizen = await citizenWithBeneficiary(world);
    // A vaccinator at a named centre reads the record with the citizen's consent and
    // records a dose; then tries a read without consent, which is refused.
    const centreName = `Centre ${randomLetters(8)}`;
    const { vaccinator, grant } = await consentedVaccinator(world, citizen.ref, centreName);
    await world.clients.records.call(
      'findBeneficiaryForVaccination',
      { consentGrant: grant },
      callAs(vaccinator.session),
    );
    await world.clients.records.call(
      'recordDose',
      {
        beneficiaryRef: citizen.ref,
        vaccineCode: 'COVISHIELD',
        doseNumber: 1,
        batchNumber: 'BW21001',
        administeredOn: indianDate(),
        clientRequestId: `web-${randomBytes(8).toString('hex')}`,
        consentGrant: grant,
      },
      callAs(vaccinator.session),
    );
    // A dose recorded without the consent grant: refused (NO_CONSENT), and logged.
    await expect(
      world.clients.records.call(
        'recordDose',
        {
          beneficiaryRef: citizen.ref,
          vaccineCode: 'COVISHIELD',
          doseNumber: 2,
          batchNumber: 'BW21002',
          administeredOn: indianDate(),
          clientRequestId: `web-${randomBytes(8).toString('hex')}`,
          consentGrant: '',
        },
        callAs(vaccinator.session),
      ),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'NO_CONSENT' });
    // The log takes them in asynchronously: wait until the citizen's history holds both.
    await eventually(async () => {
      const { accesses } = await world.clients.audit.call(
        'getMyAccessHistory',
        { pageSize: 50, pageToken: '' },
        callAs(citizen.token),
      );
      const byVaccinator = accesses.filter((a) => a.role === 'VACCINATOR');
      if (!byVaccinator.some((a) => a.granted) || !byVaccinator.some((a) => !a.granted))
        throw new Error('the vaccinator’s read and refusal are not in the history yet');
    });

    const context = await fixture.newContext();
    const urls: string[] = [];
    context.on('request', (request) => urls.push(request.url()));
    const page = await signIn(context, fixture.webUrl, citizen.mobile);

    // The beneficiary, masked as the citizen view gives it.
    expect(await page.getByRole('heading', { name: citizen.name }).count()).toBe(1);
    const listed = await page.locator('main').innerText();
    expect(listed).toContain(citizen.name);
    expect(listed).toMatch(/XXXX XXXX \d{4}/);
    expect(listed).toContain(`******${citizen.mobile.slice(-4)}`);
    for (const aadhaar of world.raw.identityNumbers) expect(listed).not.toContain(aadhaar);
    expect(listed).not.toContain(citizen.mobile);

    // The SMART Health Card file: the offline verifier, trusting the issuer's published
    // keys, finds it valid and names the dose.
    const [card] = await Promise.all([
      page.waitForEvent('download'),
      page.click('button[name="format"][value="card"]'),
    ]);
    expect(card.suggestedFilename()).toBe('vaxguard.smart-health-card');
    const file = JSON.parse(await readDownload(card)) as { verifiableCredential: string[] };
    // What a verifier app downloads: the issuer's published keys and revocation lists.
    const { issuer } = world.platform.description;
    const trust = await fetchIssuerTrust(issuer.keysUrl);
    const verifier = createOfflineVerifier({ issuers: [{ iss: issuer.url, ...trust }] });
    const verdict = verifier.verify(file.verifiableCredential[0]);
    expect(verdict).toMatchObject({ status: 'valid' });
    // The printable certificate and the QR are SVG images.
    for (const format of ['svg', 'qr']) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click(`button[name="format"][value="${format}"]`),
      ]);
      expect(await readDownload(download)).toMatch(/^(<\?xml[^>]*>\s*)?<svg/);
    }

    // The history: the vaccinator's read (role and centre, no staff details) and the refusal.
    await page.click('a[href="/me/history"]');
    await page.waitForURL(`${fixture.webUrl}/me/history`);
    const rows = await page.locator('tbody tr').allInnerTexts();
    const vaccinatorRows = rows.filter((row) => row.includes(`Vaccinator, ${centreName}`));
    expect(vaccinatorRows.some((row) => row.includes('Allowed'))).toBe(true);
    expect(vaccinatorRows.some((row) => /Refused/.test(row))).toBe(true);
    const history = await page.locator('main').innerText();
    expect(history).not.toContain(vaccinator.username);
    expect(history).not.toContain(vaccinator.id);

    // Signing out ends the session: the beneficiaries' page sends back to the sign-in.
    await page.click('form[action="/sign-out"] button');
    await page.waitForURL(`${fixture.webUrl}/`);
    await page.goto(`${fixture.webUrl}/me`);
    expect(new URL(page.url()).pathname).toBe('/');

    // No URL the browser asked for held a mobile, a reference, an identity number or a code.
    const secrets = [citizen.mobile, citizen.ref, ...world.raw.identityNumbers, ...world.raw.codes];
    const leaked = urls.filter((url) => secrets.some((secret) => url.includes(secret)));
    expect(leaked).toEqual([]);
    expect(urls.length).toBeGreaterThan(5);
    // Nor did the web service's log (at info) hold any of them.
    const log = fixture.web.output();
    expect(log).toContain('service started');
    expect(secrets.filter((secret) => log.includes(secret))).toEqual([]);
  });

  it('shows the consent given to a vaccinator and withdraws it: the vaccinator’s next use of the grant is refused', async () => {
    const { world } = fixture;
    const citizen = await citizenWithBeneficiary(world);
    const { vaccinator, grant } = await consentedVaccinator(world, citizen.ref);
    const findWithGrant = () =>
      world.clients.records.call(
        'findBeneficiaryForVaccination',
        { consentGrant: grant },
        callAs(vaccinator.session),
      );
    await findWithGrant();

    const page = await signIn(await fixture.newContext(), fixture.webUrl, citizen.mobile);
    await page.goto(`${fixture.webUrl}/me/consent`);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    const row = await rows.innerText();
    expect(row).toContain('A vaccinator at the centre');
    expect(row).toContain(citizen.name);
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await Promise.all([
      page.waitForURL(`${fixture.webUrl}/me/consent/withdraw`),
      page.click('form[action="/me/consent/withdraw"] button[type="submit"]'),
    ]);
    const after = await page.locator('main').innerText();
    expect(after).toContain('The consent is withdrawn');
    expect(after).toContain('No consent you gave is in force now.');
    // Refused as soon as the revocation reaches vaccination-record (Kafka, urgent).
    await eventually(() =>
      expect(findWithGrant()).rejects.toMatchObject({ reason: 'TOKEN_REVOKED' }),
    );
  });

  it('a session cookie taken into another browser on another address opens nothing', async () => {
    const citizen = await citizenWithBeneficiary(fixture.world);
    const victim = await fixture.newContext();
    await signIn(victim, fixture.webUrl, citizen.mobile);
    const [cookie] = (await victim.cookies()).filter((c) => c.name === 'vaxguard-session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');
    if (!cookie) throw new Error('no session cookie');

    const showsBeneficiary = async (context: BrowserContext, baseUrl: string) => {
      const page = await context.newPage();
      await page.goto(`${baseUrl}/me`);
      return (await page.locator('main').innerText()).includes(citizen.name);
    };
    // Another browser on another address (127.0.0.9, reaching the site's 127.0.0.2):
    // the same id opens nothing there, and the thief sees the sign-in page.
    const thief = await fixture.newContext({ fromAddress: '127.0.0.9' });
    await thief.addCookies([{ ...cookie, domain: '127.0.0.2' }]);
    expect(await showsBeneficiary(thief, fixture.webUrlOnOtherAddress)).toBe(false);
    expect(fixture.web.output()).toContain('session cookie presented by another client');
    // The cookie itself is good: a copy on the victim's own address and browser opens it,
    // and the thief's try did not end the victim's session.
    const sameAddress = await fixture.newContext();
    await sameAddress.addCookies([cookie]);
    expect(await showsBeneficiary(sameAddress, fixture.webUrl)).toBe(true);
    expect(await showsBeneficiary(victim, fixture.webUrl)).toBe(true);
  });

  it('a form posted from another origin is refused, and the session it aimed at goes on', async () => {
    const citizen = await citizenWithBeneficiary(fixture.world);
    const context = await fixture.newContext();
    const page = await signIn(context, fixture.webUrl, citizen.mobile);
    // An attacker's page with a sign-out form aimed at the site: once on another site
    // (localhost: cookies held back by SameSite=Strict) and once on another origin of the
    // same site (127.0.0.1 on another port: cookies sent, so only the CSRF checks stand).
    const port = await freePort();
    const attacker = await serve(
      port,
      `<!doctype html><html lang="en"><title>win a prize</title><form method="post" action="${fixture.webUrl}/sign-out"><input type="hidden" name="_csrf" value="forged"><button>claim</button></form></html>`,
    );
    try {
      for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`]) {
        await page.goto(`${origin}/`);
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.url() === `${fixture.webUrl}/sign-out`),
          page.click('button'),
        ]);
        expect(response.status()).toBe(403);
        await page.goto(`${fixture.webUrl}/me`);
        expect(await page.locator('main').innerText()).toContain(citizen.name);
      }
    } finally {
      await new Promise((resolve) => attacker.close(resolve));
    }
  });

  it('every citizen page, in English and in Hindi, has no serious or critical accessibility violation', async () => {
    // The two languages side by side: each its own citizen, browser context and sign-in.
    const scanned = await Promise.all(
      ['en-IN', 'hi-IN'].map(async (locale) => {
        const found: string[] = [];
        const citizen = await citizenWithBeneficiary(fixture.world);
        const context = await fixture.newContext({ locale });
        const page = await context.newPage();
        const scan = async (what: string) => {
          expect(await page.getAttribute('html', 'lang')).toBe(locale.slice(0, 2));
          for (const violation of await seriousAccessibilityViolations(page))
            found.push(`${locale} ${what}: ${violation}`);
        };
        await page.goto(`${fixture.webUrl}/no-such-page`);
        await scan('not found');
        await page.goto(`${fixture.webUrl}/`);
        await scan('sign-in');
        await page.fill('#mobile', citizen.mobile);
        const since = await fixture.smsCount();
        await page.click('form[action="/sign-in"] button[type="submit"]');
        await page.waitForURL(`${fixture.webUrl}/sign-in/code`);
        await scan('code');
        await page.fill('#otp', await fixture.smsCodeFor(citizen.mobile, since));
        await page.click('form[action="/sign-in/code"] button[type="submit"]');
        await page.waitForURL(`${fixture.webUrl}/me`);
        for (const path of ['/me', '/me/history', '/me/consent']) {
          await page.goto(`${fixture.webUrl}${path}`);
          await scan(path);
        }
        return found;
      }),
    );
    expect(scanned.flat()).toEqual([]);
  });
});

// The auditor's console's tests (W2), on the same platform, web process and browser.
auditorConsoleTests(getFixture);

async function readDownload(download: {
  createReadStream(): Promise<NodeJS.ReadableStream>;
}): Promise<string> {
  const stream = await download.createReadStream();
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function serve(port: number, html: string): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(html);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
