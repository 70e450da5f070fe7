// The shared fixture of the browser tests (citizen's and auditor's, one file): one
// platform (all four services, libs/testing's world), the built web service as its own
// process listening on 127.0.0.1 and 127.0.0.2, and one headless Chromium (Debian's).
// Each test opens its own browser context and makes its own data.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright';
import { readAllDevSms } from '@vaxguard/dev-sms';
import { eventually, freePort, startWorld, webEnvironment, type World } from '@vaxguard/testing';
import { startAddressProxy, type AddressProxy } from './address-proxy';

const WORKSPACE = fileURLToPath(new URL('../../../../', import.meta.url));
/** Debian's chromium (tools/dev/ensure-prereqs.sh chromium): Playwright downloads none here. */
export const CHROMIUM = '/usr/bin/chromium';

export interface WebProcess {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface BrowserFixture {
  readonly world: World;
  readonly browser: Browser;
  /** The site on 127.0.0.1: `http://127.0.0.1:<port>`. */
  readonly webUrl: string;
  /** The same site on 127.0.0.2, which a browser reaches from another loopback address. */
  readonly webUrlOnOtherAddress: string;
  readonly web: WebProcess;
  /**
   * A fresh browser context (its own cookies); closed with the fixture if the test does
   * not. `fromAddress` (a loopback address such as 127.0.0.9): its requests reach the
   * site from there, through a proxy, as another client's would.
   */
  newContext(options?: {
    readonly locale?: string;
    readonly fromAddress?: string;
  }): Promise<BrowserContext>;
  /**
   * The code of the newest SMS to a mobile sent after `since` messages were in the inbox
   * (`smsCount()` before the action that sends it): the citizen reads their phone.
   */
  smsCodeFor(mobile: string, since: number): Promise<string>;
  /** How many messages the dev SMS inbox holds now. */
  smsCount(): Promise<number>;
  stop(): Promise<void>;
}

/** @axe-core/playwright's own Page type: it resolves a newer playwright-core than playwright's. */
type AxePage = ConstructorParameters<typeof AxeBuilder>[0]['page'];

/**
 * The page's serious and critical accessibility violations (axe), each as
 * `rule (selector; selector)`; the page must come from `browser.newContext()`.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  // The same object at run time; only the two playwright-core versions' types differ.
  // Violations only: axe skips gathering what passed, most of a scan's time on a small page.
  const { violations } = await new AxeBuilder({ page: page as unknown as AxePage })
    .options({ resultTypes: ['violations'] })
    .analyze();
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.id} (${violation.nodes.map((node) => node.target.join(' ')).join('; ')})`,
    );
}

async function startWeb(env: Record<string, string>, url: string): Promise<WebProcess> {
  let output = '';
  const child = spawn(process.execPath, ['--enable-source-maps', 'services/web/dist/main.js'], {
    cwd: WORKSPACE,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`web exited with ${child.exitCode}:\n${output}`);
        const response = await fetch(`${url}/healthz`);
        if (!response.ok) throw new Error(`web answered ${response.status}`);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, output: () => output, stop };
}

export async function startBrowserFixture(): Promise<BrowserFixture> {
  const releases: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const release of releases.splice(0).reverse()) await release().catch(() => undefined);
  };
  try {
    const [world, browser] = await Promise.all([
      startWorld().then((started) => (releases.push(() => started.stop()), started)),
      chromium
        .launch({
          executablePath: CHROMIUM,
          // Chromium's sandbox refuses to run as root, which these machines are.
          args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
        })
        .then((launched) => (releases.push(() => launched.close()), launched)),
    ]);
    const port = await freePort();
    const webUrl = `http://127.0.0.1:${port}`;
    const web = await startWeb(
      {
        ...webEnvironment({
          addresses: world.platform.description.services,
          secrets: world.platform.secrets,
          hosts: '127.0.0.1,127.0.0.2',
          port,
          logLevel: 'info',
          smsInbox: world.platform.smsInbox,
        }),
        // Every test signs in from 127.0.0.1: the per-address limit is not what they test.
        WEB_SIGN_IN_LIMIT: '1000',
      },
      webUrl,
    );
    releases.push(() => web.stop());
    const contexts: BrowserContext[] = [];
    releases.push(async () => {
      for (const context of contexts) await context.close().catch(() => undefined);
    });
    return {
      world,
      browser,
      webUrl,
      webUrlOnOtherAddress: `http://127.0.0.2:${port}`,
      web,
      async newContext(options = {}) {
        let proxy: AddressProxy | undefined;
        if (options.fromAddress) {
          proxy = await startAddressProxy(await freePort(), options.fromAddress);
          const started = proxy;
          releases.push(() => started.stop());
        }
        const context = await browser.newContext({
          locale: options.locale ?? 'en-IN',
          ...(proxy ? { proxy: { server: proxy.url } } : {}),
        });
        contexts.push(context);
        return context;
      },
      smsCount: async () => (await readAllDevSms(world.platform.smsInbox)).length,
      async smsCodeFor(mobile, since) {
        const to = `XXXXXX${mobile.slice(-4)}`;
        const sms = await eventually(async () => {
          const found = (await readAllDevSms(world.platform.smsInbox))
            .slice(since)
            .findLast((message) => message.to === to);
          if (!found) throw new Error(`no SMS to ${to} yet`);
          return found;
        });
        world.raw.codes.add(sms.code);
        return sms.code;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
