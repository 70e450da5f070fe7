// The auditor's console in a real browser (issue 20), run from ../browser.int.test.ts so
// that it shares that file's platform, web process and Chromium. Each test makes its own
// staff and data through the platform's APIs, and drives the console as a person would.
import { readFile } from 'node:fs/promises';
import AxeBuilder from '@axe-core/playwright';
import type { BrowserContext, Page } from 'playwright';
import { beforeAll, describe, expect, it } from 'vitest';
import { newBeneficiaryRef } from '@vaxguard/pii';
import { identityStaffV1 } from '@vaxguard/proto';
import { callAs, eventually, randomLetters } from '@vaxguard/testing';
import type { BrowserFixture } from '../test-support/browser-fixture';
import type { ConsistencyPayload, InclusionPayload } from './proof-payload';

/** A token's subject (a citizen's: the mobile's blind index), which the log names. */
function subjectOf(token: string): string {
  const [, payload = ''] = token.split('.');
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string }).sub;
}

interface ConsoleUser {
  readonly username: string;
  readonly password: string;
  readonly mobile: string;
}

/** How long the browser's proof check may take to show its outcome (a checkpoint a second). */
const PROOF_OUTCOME_MS = 15_000;

export function auditorConsoleTests(getFixture: () => BrowserFixture): void {
  describe('the auditor’s console in a browser', () => {
    let auditor: ConsoleUser;

    /** A staff member of a role made by the platform admin, with a mobile the test knows. */
    async function staffMember(
      role: identityStaffV1.StaffRole,
      centreId = '',
    ): Promise<ConsoleUser> {
      const { world } = getFixture();
      const mobile = world.freshMobile();
      const username = `console.${randomLetters(10)}`;
      const password = `a long console passphrase ${randomLetters(8)}`;
      await world.clients.identity.call(
        'createStaff',
        { username, displayName: username, role, centreId, mobile, password },
        callAs(world.adminSession),
      );
      return { username, password, mobile };
    }

    /** Signs in on the console: the password, then the code sent to the staff mobile. */
    async function signIn(context: BrowserContext, user: ConsoleUser): Promise<Page> {
      const fixture = getFixture();
      const page = await context.newPage();
      await page.goto(`${fixture.webUrl}/audit/sign-in`);
      await page.fill('#username', user.username);
      await page.fill('#password', user.password);
      const since = await fixture.smsCount();
      await page.click('form[action="/audit/sign-in"] button[type="submit"]');
      await page.waitForLoadState();
      if (new URL(page.url()).pathname !== '/audit/sign-in/code') {
        throw new Error(
          `the password was refused: ${await page.locator('main').innerText()}\n${fixture.web.output().slice(-2_000)}`,
        );
      }
      await page.fill('#otp', await fixture.smsCodeFor(user.mobile, since));
      await page.click('form[action="/audit/sign-in/code"] button[type="submit"]');
      return page;
    }

    async function filterLog(
      page: Page,
      filter: { eventType?: string; subjectRef?: string; actorId?: string },
    ) {
      if (filter.eventType) await page.selectOption('#eventType', filter.eventType);
      await page.fill('#subjectRef', filter.subjectRef ?? '');
      await page.fill('#actorId', filter.actorId ?? '');
      await page.click('form[action="/audit/filter"] button[value="apply"]');
      await page.waitForURL(`${getFixture().webUrl}/audit`);
    }

    /** The entry page's proof box once the browser's check has an outcome (pending reloads). */
    async function proofOutcome(page: Page): Promise<{ outcome: string; text: string }> {
      const box = page.locator('[data-proof-check="inclusion"]');
      return eventually(
        async () => {
          await box.locator('[data-proof-status]').waitFor();
          await page.waitForFunction(
            () => {
              const outcome = document
                .querySelector('[data-proof-check]')
                ?.getAttribute('data-outcome');
              return outcome !== null && outcome !== undefined && outcome !== 'checking';
            },
            undefined,
            { timeout: 5_000 },
          );
          const outcome = (await box.getAttribute('data-outcome')) ?? '';
          if (outcome === 'pending') {
            await page.reload();
            throw new Error('the entry is not in a signed checkpoint yet');
          }
          return { outcome, text: await box.innerText() };
        },
        { timeoutMs: PROOF_OUTCOME_MS, intervalMs: 500 },
      );
    }

    async function seriousViolations(page: Page): Promise<string[]> {
      // @axe-core/playwright types its page with its own copy of playwright-core's types.
      const { violations } = await new AxeBuilder({ page: page as never }).analyze();
      return violations
        .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
        .map((violation) => `${page.url()}: ${violation.id} (${violation.nodes.length})`);
    }

    beforeAll(async () => {
      auditor = await staffMember(identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR);
    });

    it('an auditor finds a citizen sign-in’s refused read in the log and its inclusion proof verifies in the browser; a tampered proof does not', async () => {
      const { world, webUrl } = getFixture();
      // The refused attempt: someone signed in as a citizen reads a record that is not theirs.
      const reader = await world.citizen(world.freshMobile());
      const ref = newBeneficiaryRef();
      await expect(
        world.clients.identity.call('getBeneficiary', { beneficiaryRef: ref }, callAs(reader)),
      ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });

      const context = await getFixture().newContext();
      const page = await signIn(context, auditor);
      await page.waitForURL(`${webUrl}/audit`);
      const row = page.locator('tr[data-event-type="access.denied"]');
      await eventually(
        async () => {
          await filterLog(page, { eventType: 'access.denied', subjectRef: ref });
          if ((await row.count()) === 0) throw new Error('the refusal is not in the log yet');
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      expect(await row.count()).toBe(1);
      expect(await row.innerText()).toContain(subjectOf(reader));
      // Nothing of the filter is in any URL: it was posted and is held by the session.
      expect(page.url()).toBe(`${webUrl}/audit`);
      // The export of this filter: one NDJSON line, whose bytes are the entry's canonical JSON.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('a[href="/audit/export"]'),
      ]);
      expect(download.suggestedFilename()).toMatch(/^vaxguard-audit-[\dT-]+Z\.ndjson$/);
      const exported = (await readFile(await download.path(), 'utf8'))
        .trim()
        .split('\n')
        .map(
          (line) => JSON.parse(line) as { leafInput: string; entry: { subject: { ref: string } } },
        );
      expect(exported).toHaveLength(1);
      expect(exported[0]?.entry.subject.ref).toBe(ref);
      expect(Buffer.from(exported[0]?.leafInput ?? '', 'base64').toString()).toBe(
        JSON.stringify(exported[0]?.entry),
      );

      await row.locator('a').click();
      await page.waitForURL(/\/audit\/entries\/\d+$/);
      expect(await page.locator('pre.raw').innerText()).toContain(ref);
      const verified = await proofOutcome(page);
      expect(verified.outcome).toBe('verified');
      expect(verified.text).toContain('Verified');

      // The same page with one proof hash altered on its way to the browser.
      await page.route('**/audit/entries/*/proof', async (route) => {
        const response = await route.fetch();
        const payload = (await response.json()) as InclusionPayload;
        const first = Buffer.from(payload.proof[0] ?? '', 'base64');
        first[0] = (first[0] ?? 0) ^ 1;
        const tampered = {
          ...payload,
          proof: [first.toString('base64'), ...payload.proof.slice(1)],
        };
        await route.fulfill({ response, json: tampered });
      });
      await page.reload();
      const refused = await proofOutcome(page);
      expect(refused.outcome).toBe('failed');
      expect(refused.text).toContain('NOT verified');
      expect(refused.text).toContain('the proof does not lead to the checkpoint’s root');
      await context.close();
    });

    it('acknowledges the alert a bot raised by trying beneficiary references in bulk through a citizen sign-in', async () => {
      const { world } = getFixture();
      // The bot: one citizen sign-in trying references it does not own, more than the
      // denied-reads rule allows in 10 minutes (20).
      const bot = await world.citizen(world.freshMobile());
      const attempts = Array.from({ length: 21 }, () =>
        world.clients.identity
          .call('getBeneficiary', { beneficiaryRef: newBeneficiaryRef() }, callAs(bot))
          .then(
            () => 'allowed',
            (error: { code?: string }) => error.code,
          ),
      );
      expect(new Set(await Promise.all(attempts))).toEqual(new Set(['PERMISSION_DENIED']));
      // The alert names the bot's sign-in by its subject: the mobile's blind index.
      const sub = subjectOf(bot);

      const context = await getFixture().newContext();
      const page = await signIn(context, auditor);
      await page.waitForURL(/\/audit$/);
      const alert = page.locator(`tr[data-rule="DENIED_READS_SPIKE"][data-principal="${sub}"]`);
      await eventually(
        async () => {
          await page.goto(`${getFixture().webUrl}/audit/alerts`);
          if ((await alert.count()) === 0) throw new Error('no alert yet');
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      expect(await alert.innerText()).toContain('HIGH');
      await alert.locator('button[type="submit"]').click();
      await page.waitForURL(/\/audit\/alerts\?done=ack$/);
      expect(await page.locator('[role="status"]').first().innerText()).toContain(
        'Alert acknowledged',
      );
      // Gone from the open alerts; shown acknowledged among all of them.
      expect(await alert.count()).toBe(0);
      await page.click('a[href="/audit/alerts?all=1"]');
      expect(await alert.innerText()).toContain('Acknowledged by');
      await context.close();
    });

    it('the consistency page verifies a checkpoint saved earlier against the current one, and names a rollback', async () => {
      const { webUrl } = getFixture();
      const context = await getFixture().newContext();
      const page = await signIn(context, auditor);
      await page.waitForURL(/\/audit$/);
      await page.goto(`${webUrl}/audit/consistency`);
      const box = page.locator('[data-proof-check="consistency"]');
      await page.click('button[data-action="save"]');
      await expect.poll(() => box.getAttribute('data-outcome')).toBe('saved');
      const saved = await page.inputValue('#saved-checkpoint');
      const savedSize = Number(saved.split('\n')[1]);

      // The log grows (each query of it is itself an entry) until a larger checkpoint.
      await eventually(
        async () => {
          await page.goto(`${webUrl}/audit`);
          const payload = (await (
            await page.request.get(`${webUrl}/audit/consistency/proof?from=0`)
          ).json()) as ConsistencyPayload;
          if (Number(payload.signedCheckpoint.split('\n')[1]) <= savedSize)
            throw new Error('no larger checkpoint yet');
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      // The browser kept the saved checkpoint: the page fills it back in.
      await page.goto(`${webUrl}/audit/consistency`);
      expect(await page.inputValue('#saved-checkpoint')).toBe(saved);
      await page.click('button[data-action="check"]');
      await expect.poll(() => box.getAttribute('data-outcome')).toBe('verified');

      // A site that serves the older checkpoint as current, after the auditor saw a newer one.
      const current = (await (
        await page.request.get(`${webUrl}/audit/consistency/proof?from=0`)
      ).json()) as ConsistencyPayload;
      await page.fill('#saved-checkpoint', current.signedCheckpoint);
      await page.route('**/audit/consistency/proof?*', (route) =>
        route.fulfill({ json: { ...current, fromSize: 0, proof: [], signedCheckpoint: saved } }),
      );
      await page.click('button[data-action="check"]');
      await expect.poll(() => box.getAttribute('data-outcome')).toBe('failed');
      expect(await box.innerText()).toContain('rollback');
      await context.close();
    });

    it('refuses the console to a vaccinator, and every console page to a browser not signed in', async () => {
      const { world, webUrl } = getFixture();
      const centreId = await world.centre(`Console ${randomLetters(6)}`);
      const vaccinator = await staffMember(
        identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
        centreId,
      );
      const context = await getFixture().newContext();
      const page = await signIn(context, vaccinator);
      await page.waitForURL(`${webUrl}/audit/sign-in/code`);
      expect(await page.locator('[role="alert"]').innerText()).toContain(
        'This console is for auditors and platform administrators only',
      );
      for (const path of ['/audit', '/audit/alerts', '/audit/consistency', '/audit/kill-switch']) {
        await page.goto(`${webUrl}${path}`);
        expect(new URL(page.url()).pathname).toBe('/audit/sign-in');
      }
      const proof = await page.request.get(`${webUrl}/audit/entries/0/proof`);
      expect(proof.status()).toBe(401);
      await context.close();
    });

    it('has no serious or critical accessibility violation on any console page (a platform admin, who sees them all)', async () => {
      const { world, webUrl } = getFixture();
      const admin = world.platform.admin;
      const context = await getFixture().newContext();
      const page = await context.newPage();
      const problems: string[] = [];
      await page.goto(`${webUrl}/audit/sign-in`);
      problems.push(...(await seriousViolations(page)));
      await page.fill('#username', admin.username);
      await page.fill('#password', admin.password);
      const since = await getFixture().smsCount();
      await page.click('form[action="/audit/sign-in"] button[type="submit"]');
      await page.waitForURL(`${webUrl}/audit/sign-in/code`);
      problems.push(...(await seriousViolations(page)));
      await page.fill('#otp', await getFixture().smsCodeFor(admin.mobile, since));
      await page.click('form[action="/audit/sign-in/code"] button[type="submit"]');
      await page.waitForURL(`${webUrl}/audit`);
      problems.push(...(await seriousViolations(page)));
      // The signed-in pages, each in its own tab, scanned side by side.
      const scans = ['/audit/entries/0', '/audit/consistency', '/audit/alerts?all=1'].map(
        async (path) => {
          const tab = await context.newPage();
          await tab.goto(`${webUrl}${path}`);
          if (path.startsWith('/audit/entries/')) await proofOutcome(tab);
          const found = await seriousViolations(tab);
          await tab.close();
          return found;
        },
      );
      for (const found of await Promise.all(scans)) problems.push(...found);
      await page.goto(`${webUrl}/audit/kill-switch`);
      problems.push(...(await seriousViolations(page)));
      // The kill switch's confirmation step.
      await page.check('#scope-client');
      await page.fill('#target', `nobody-${randomLetters(6)}`);
      await page.fill('#reason', 'accessibility review only');
      await page.click('form[action="/audit/kill-switch"] button[type="submit"]');
      expect(await page.locator('form[action="/audit/kill-switch/confirm"]').count()).toBe(1);
      problems.push(...(await seriousViolations(page)));
      expect(problems).toEqual([]);
      // Confirmed, identity applies it (a client nobody uses): the page says it is in force.
      await page.click('form[action="/audit/kill-switch/confirm"] button[type="submit"]');
      await page.waitForURL(`${webUrl}/audit/kill-switch?done=1`);
      expect(await page.locator('main [role="status"]').innerText()).toContain(
        'the change is in force',
      );
      await context.close();
    });
  });
}
