// The console's routes in process (fastify's inject), the platform faked: who may sign
// in, what the log filter takes and how it refuses (by field, never repeating what was
// typed, nothing of it in a URL or the log), and the kill switch's confirmation step.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { permissionDenied, unauthenticated } from '@vaxguard/errors';
import { MemoryLogSink } from '@vaxguard/logging';
import { identityStaffV1 } from '@vaxguard/proto';
import type { WebApp } from '../app';
import type { PlatformClients } from '../http/platform-clients';
import {
  csrfOf,
  fakePlatformClients,
  injectedBrowser,
  startInjectedApp,
  type FakeMethods,
} from '../test-support/injected-app';
import { AUDIT_PATHS } from './auditor-pages';

const STAFF_ID = '1b4e28ba-2fa1-4d2b-883f-0016d3cca427';
const MOBILE = '9876501234';
const entryBytes = (index: number) =>
  Buffer.from(
    JSON.stringify({
      actor: { clientId: 'web', kind: 'ACTOR_KIND_STAFF', principalId: STAFF_ID },
      eventId: `event-${index}`,
      occurredAt: '2026-12-07T10:00:00.000Z',
      subject: { kind: 'SUBJECT_KIND_BENEFICIARY', ref: 'bnf_0123456789abcdefghjkmnpqrs' },
      type: 'access.denied',
    }),
  );

/** What the fake platform was asked, by method. */
const asked: Record<string, unknown[]> = {};
let role = identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR;

function fakePlatform(): PlatformClients {
  const methods: FakeMethods = {
    startStaffLogin: (request: { password: string }) => {
      if (request.password !== 'right passphrase') {
        throw unauthenticated('wrong username or password', { reason: 'BAD_LOGIN' });
      }
      return { txnId: '00000000-0000-4000-8000-000000000001' };
    },
    confirmOtp: () => ({
      token: 'staff-token',
      claims: {
        tokenId: 'tid',
        expiresAt: new Date(Date.now() + 600_000),
        staff: { staffId: STAFF_ID, role, centreId: '' },
      },
    }),
    queryEntries: () => ({
      entries: [{ index: '7', entry: entryBytes(7), eventId: 'event-7' }],
      nextPageToken: 'page-2',
    }),
    getEntries: (request: { start: string }) => ({
      entries: [{ index: request.start, entry: entryBytes(Number(request.start)), eventId: 'e' }],
      nextPageToken: '',
    }),
    getCheckpoint: () => ({
      signedCheckpoint: 'log\n9\nAAAA\n',
      verifierKey: 'log+00000000+AQ==',
      origin: 'log',
      treeSize: '9',
      halted: false,
      haltReason: '',
    }),
    getInclusionProof: () => ({ hashes: [Buffer.alloc(32, 1)] }),
    listAlerts: () => ({ alerts: [], nextPageToken: '' }),
    setApiLock: () => ({}),
    revokeToken: () => ({}),
  };
  return fakePlatformClients({
    methods,
    unexpected: (method) => permissionDenied(`unexpected call ${method}`),
    onCall: (method, request) => (asked[method] ??= []).push(request),
    // ExportEntries: two chunks, or a refusal before the first for an actor named 'refused'.
    stream: (_method, request: { actorId: string }) =>
      (async function* () {
        if (request.actorId === 'refused') throw permissionDenied('not an auditor');
        yield { entries: [{ index: '1', entry: entryBytes(1), eventId: 'e1' }] };
        yield { entries: [{ index: '2', entry: entryBytes(2), eventId: 'e2' }] };
      })(),
  });
}

let app: WebApp;
const logs = new MemoryLogSink();

beforeAll(async () => {
  // Each test signs in afresh, from the one address inject uses.
  app = await startInjectedApp({ platform: fakePlatform(), logSink: logs, signInLimit: 1_000 });
});

afterAll(async () => {
  await app?.stop();
});

beforeEach(() => {
  for (const method of Object.keys(asked)) delete asked[method];
  role = identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR;
});

const { get, post } = injectedBrowser(() => app);

/** Signs in on the console with the fake platform: the jar of a signed-in browser. */
async function signedIn(password = 'right passphrase') {
  const start = await get(AUDIT_PATHS.signIn);
  const sent = await post(
    AUDIT_PATHS.signIn,
    { username: 'auditor.one', password, _csrf: start.csrf },
    start.jar,
  );
  const code = await get(AUDIT_PATHS.code, sent.jar);
  return post(AUDIT_PATHS.code, { otp: '123456', _csrf: code.csrf }, code.jar);
}

describe('signing in to the console', () => {
  it('takes an auditor to the log, with the staff token sent to the platform and never to the browser', async () => {
    const { response, jar } = await signedIn();
    expect(response.headers.location).toBe(AUDIT_PATHS.log);
    const log = await get(AUDIT_PATHS.log, jar);
    expect(log.response.statusCode).toBe(200);
    expect(log.response.body).toContain('access.denied');
    expect(log.response.body).not.toContain('staff-token');
    expect(JSON.stringify(jar)).not.toContain('staff-token');
  });

  it('refuses a wrong password without saying which part was wrong or repeating it', async () => {
    const start = await get(AUDIT_PATHS.signIn);
    const { response } = await post(
      AUDIT_PATHS.signIn,
      { username: 'auditor.one', password: 'wrong passphrase', _csrf: start.csrf },
      start.jar,
    );
    expect(response.statusCode).toBe(401);
    expect(response.body).toContain('The username or password is not right.');
    expect(response.body).not.toContain('wrong passphrase');
  });

  it('refuses staff who are not auditors or platform admins, and keeps no session for them', async () => {
    role = identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR;
    const { response, jar } = await signedIn();
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain(
      'This console is for auditors and platform administrators only',
    );
    const log = await get(AUDIT_PATHS.log, jar);
    expect(log.response.headers.location).toBe(AUDIT_PATHS.signIn);
    expect(asked.queryEntries).toBeUndefined();
    expect(asked.revokeToken).toEqual([{ tokenId: 'tid' }]);
  });

  it('sends anyone not signed in to the sign-in page, and refuses the JSON endpoints', async () => {
    for (const path of [
      AUDIT_PATHS.log,
      AUDIT_PATHS.alerts,
      AUDIT_PATHS.consistency,
      AUDIT_PATHS.killSwitch,
      AUDIT_PATHS.entry(3),
    ]) {
      expect((await get(path)).response.headers.location).toBe(AUDIT_PATHS.signIn);
    }
    expect((await get(AUDIT_PATHS.proof(3))).response.statusCode).toBe(401);
    expect((await get(`${AUDIT_PATHS.consistencyProof}?from=3`)).response.statusCode).toBe(401);
  });
});

describe('signing out', () => {
  it('revokes the staff token and forgets the console', async () => {
    const { jar } = await signedIn();
    const page = await get(AUDIT_PATHS.log, jar);
    const out = await post(AUDIT_PATHS.signOut, { _csrf: page.csrf }, jar);
    expect(out.response.body).toContain('You have signed out of the auditor console.');
    expect(asked.revokeToken).toEqual([{ tokenId: 'tid' }]);
    expect((await get(AUDIT_PATHS.log, jar)).response.headers.location).toBe(AUDIT_PATHS.signIn);
  });
});

describe('the log filter', () => {
  it('is posted and held by the session: the platform gets it, no URL carries it', async () => {
    const { jar } = await signedIn();
    const page = await get(AUDIT_PATHS.log, jar);
    const applied = await post(
      AUDIT_PATHS.filter,
      {
        _csrf: page.csrf,
        action: 'apply',
        eventType: 'access.denied',
        actorId: STAFF_ID,
        subjectRef: 'bnf_0123456789abcdefghjkmnpqrs',
        from: '2026-12-07T00:00',
        to: '2026-12-08T00:00',
      },
      jar,
    );
    expect(applied.response.headers.location).toBe(AUDIT_PATHS.log);
    const log = await get(AUDIT_PATHS.log, jar);
    expect(asked.queryEntries?.at(-1)).toMatchObject({
      eventType: 'access.denied',
      actorId: STAFF_ID,
      subjectRef: 'bnf_0123456789abcdefghjkmnpqrs',
      from: new Date('2026-12-07T00:00:00Z'),
      to: new Date('2026-12-08T00:00:00Z'),
      pageToken: '',
    });
    // Links carry page numbers and indexes only.
    const links = [...log.response.body.matchAll(/href="([^"]+)"/g)].map((match) => match[1] ?? '');
    expect(links.filter((href) => href.startsWith('/audit'))).toEqual(
      expect.arrayContaining(['/audit/entries/7', '/audit?page=2']),
    );
    expect(links.join(' ')).not.toContain('bnf_');
    expect(links.join(' ')).not.toContain(STAFF_ID);
    // The next page goes on with the token the platform gave.
    await get('/audit?page=2', jar);
    expect(asked.queryEntries?.at(-1)).toMatchObject({ pageToken: 'page-2' });
  });

  it('refuses a phone number by field, shows the field empty, never echoes or logs it, and asks the platform nothing', async () => {
    const { jar } = await signedIn();
    const page = await get(AUDIT_PATHS.log, jar);
    const before = asked.queryEntries?.length ?? 0;
    const refused = await post(
      AUDIT_PATHS.filter,
      {
        _csrf: page.csrf,
        action: 'apply',
        actorId: MOBILE,
        subjectRef: 'a b',
        from: '2026-13-01T00:00',
      },
      jar,
    );
    expect(refused.response.statusCode).toBe(400);
    const body = refused.response.body;
    expect(body).toContain('This looks like personal data');
    expect(body).toContain('A subject reference is 1–128 letters');
    expect(body).toContain('Enter a date and time as YYYY-MM-DDTHH:MM.');
    expect(body).toContain('aria-invalid="true"');
    expect(body).not.toContain(MOBILE);
    expect(logs.text()).not.toContain(MOBILE);
    expect(asked.queryEntries?.length ?? 0).toBe(before);
  });
});

describe('an entry’s proof', () => {
  it('sends the entry, its proof to the latest checkpoint and the key as base64 JSON; a newer entry is pending', async () => {
    const { jar } = await signedIn();
    const proof = await get(AUDIT_PATHS.proof(4), jar);
    expect(proof.response.statusCode).toBe(200);
    expect(JSON.parse(proof.response.body)).toEqual({
      index: 4,
      entry: entryBytes(4).toString('base64'),
      proof: [Buffer.alloc(32, 1).toString('base64')],
      signedCheckpoint: 'log\n9\nAAAA\n',
      verifierKey: 'log+00000000+AQ==',
    });
    expect(asked.getInclusionProof).toEqual([{ index: '4', treeSize: '9' }]);
    const pending = await get(AUDIT_PATHS.proof(9), jar);
    expect(JSON.parse(pending.response.body)).toEqual({ pending: true });
    expect((await get('/audit/entries/01/proof', jar)).response.statusCode).toBe(404);
  });

  it('renders the entry page with the proof box and its script, no inline script', async () => {
    const { jar } = await signedIn();
    const page = await get(AUDIT_PATHS.entry(4), jar);
    expect(page.response.body).toContain('data-proof-check="inclusion"');
    expect(page.response.body).toContain('src="/static/proof-check.js"');
    expect(page.response.body).not.toMatch(/<script(?![^>]*\ssrc=)/);
  });
});

describe('the export', () => {
  it('streams the filtered entries as an NDJSON download, each line with its canonical bytes', async () => {
    const { jar } = await signedIn();
    const exported = await get(AUDIT_PATHS.export, jar);
    expect(exported.response.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(exported.response.headers['content-disposition']).toMatch(
      /^attachment; filename="vaxguard-audit-[\dT-]+Z\.ndjson"$/,
    );
    const lines = exported.response.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(lines).toEqual([
      {
        index: 1,
        leafInput: entryBytes(1).toString('base64'),
        entry: JSON.parse(entryBytes(1).toString()) as unknown,
      },
      {
        index: 2,
        leafInput: entryBytes(2).toString('base64'),
        entry: JSON.parse(entryBytes(2).toString()) as unknown,
      },
    ]);
    expect(asked.exportEntries).toEqual([
      expect.objectContaining({ chunkSize: 500, eventType: '' }),
    ]);
  });

  it('shows a refusal before the first entry as a page, not a broken file', async () => {
    const { jar } = await signedIn();
    const page = await get(AUDIT_PATHS.log, jar);
    await post(AUDIT_PATHS.filter, { _csrf: page.csrf, action: 'apply', actorId: 'refused' }, jar);
    const refused = await get(AUDIT_PATHS.export, jar);
    expect(refused.response.statusCode).toBe(403);
    expect(refused.response.headers['content-type']).toContain('text/html');
    expect(refused.response.body).toContain('PERMISSION_DENIED');
  });
});

describe('the kill switch', () => {
  it('is refused to auditors', async () => {
    const { jar } = await signedIn();
    const page = await get(AUDIT_PATHS.killSwitch, jar);
    expect(page.response.statusCode).toBe(403);
    expect(page.response.body).toContain('Only platform administrators can use the kill switch.');
  });

  it('applies a platform admin’s change only after its confirmation, once', async () => {
    role = identityStaffV1.StaffRole.STAFF_ROLE_PLATFORM_ADMIN;
    const { jar } = await signedIn();
    const form = await get(AUDIT_PATHS.killSwitch, jar);
    const reviewed = await post(
      AUDIT_PATHS.killSwitch,
      {
        _csrf: form.csrf,
        action: 'lock',
        scope: 'client',
        target: 'login-sprayer',
        reason: 'spraying passwords',
      },
      jar,
    );
    expect(reviewed.response.statusCode).toBe(200);
    expect(asked.setApiLock).toBeUndefined();
    const nonce = /name="nonce" value="([^"]+)"/.exec(reviewed.response.body)?.[1] ?? '';
    const confirmPage = csrfOf(reviewed.response.body);
    const wrong = await post(
      AUDIT_PATHS.killSwitchConfirm,
      { _csrf: confirmPage, nonce: 'forged' },
      jar,
    );
    expect(wrong.response.statusCode).toBe(409);
    expect(asked.setApiLock).toBeUndefined();
    // The forged nonce used the confirmation up: review again, then confirm.
    const again = await post(
      AUDIT_PATHS.killSwitch,
      {
        _csrf: form.csrf,
        action: 'lock',
        scope: 'client',
        target: 'login-sprayer',
        reason: 'spraying passwords',
      },
      jar,
    );
    const nonce2 = /name="nonce" value="([^"]+)"/.exec(again.response.body)?.[1] ?? '';
    expect(nonce2).not.toBe(nonce);
    const done = await post(
      AUDIT_PATHS.killSwitchConfirm,
      { _csrf: form.csrf, nonce: nonce2 },
      jar,
    );
    expect(done.response.headers.location).toBe(`${AUDIT_PATHS.killSwitch}?done=1`);
    expect(asked.setApiLock).toEqual([
      {
        scope: { scope: { $case: 'partnerClientId', value: 'login-sprayer' } },
        reason: 'spraying passwords',
      },
    ]);
    const replay = await post(
      AUDIT_PATHS.killSwitchConfirm,
      { _csrf: form.csrf, nonce: nonce2 },
      jar,
    );
    expect(replay.response.statusCode).toBe(409);
    expect(asked.setApiLock).toHaveLength(1);
  });
});
