// The auditor's console (issue 20): staff sign-in (password, then the code sent to the
// staff mobile), the transparency log with filters and its entries' proofs checked in the
// browser, the consistency page, alerts and suspensions, the export, and for platform
// admins the kill switch. Every call goes to the platform with the staff member's own
// token; the platform authorises it. No personal data in any path or query: a filter is
// posted and held in the session, pages are numbered, entries are log indexes.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { h } from 'preact';
import { isVaxGuardError, type VaxGuardError } from '@vaxguard/errors';
import { EVENTS } from '@vaxguard/event-catalogue';
import { auditV1, identityStaffV1, type identityV1 } from '@vaxguard/proto';
import type { StaffRole } from '@vaxguard/tokens';
import type { WebDeps } from '../app';
import { asUser } from '../http/platform-clients';
import {
  ensureSession,
  pageContext,
  rotateSession,
  seeOther,
  sendPage,
  type PageContext,
} from '../http/web-context';
import type { MessageKey } from '../i18n/i18n';
import {
  ALERTS_PAGE_SIZE,
  CONSOLE_ROLES,
  EXPORT_CHUNK_SIZE,
  KILL_SWITCH_ROLES,
  type LockProblem,
  type LockRequest,
  type LockScope,
  LOG_PAGE_SIZE,
  type LogFilter,
  NO_FILTER,
  parseEntryIndex,
  parseLockForm,
  parseLogFilter,
  parsePageNumber,
  parseTreeSize,
  RECENT_EVENTS_PAGE_SIZE,
} from './auditor-rules';
import {
  AlertsPage,
  type AlertRow,
  AUDIT_PATHS,
  AuditCodePage,
  AuditSignInPage,
  ConsistencyPage,
  ConsoleNoticePage,
  EntryPage,
  KillSwitchConfirmPage,
  KillSwitchPage,
  LogPage,
  type SuspensionRow,
} from './auditor-pages';
import {
  auditorState,
  forgetAuditor,
  keepPageToken,
  setFilter,
  signedInStaff,
  type StaffSignedIn,
} from './auditor-session';
import { type EntryView, viewEntry } from './entry-view';
import type { AuditorMessageKey } from './messages';
import type { ConsistencyPayload, InclusionPayload, PendingPayload } from './proof-payload';

type Form = Record<string, unknown> | undefined;
const field = (body: unknown, name: string): unknown => (body as Form)?.[name];
const OTP_FORMAT = /^\d{6}$/;
const ALERT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** An export streams for as long as the auditor's download takes, within this bound. */
const EXPORT_DEADLINE_MS = 5 * 60_000;
/** Pages of suspension events read to list the latest ones. */
const SUSPENSION_PAGES = 4;

/** What a page says besides its content: a notice, an error, and the status it is sent with. */
interface PageMessages {
  readonly notice?: AuditorMessageKey;
  readonly error?: string;
  readonly status?: number;
}

/** A staff role from the token's claims (`STAFF_ROLE_AUDITOR` → `AUDITOR`). */
export function staffRoleOf(role: identityStaffV1.StaffRole | undefined): StaffRole | undefined {
  const name = role === undefined ? undefined : identityStaffV1.StaffRole[role];
  const bare = name?.replace(/^STAFF_ROLE_/, '');
  return bare === 'VACCINATOR' ||
    bare === 'CENTRE_ADMIN' ||
    bare === 'AUDITOR' ||
    bare === 'PLATFORM_ADMIN'
    ? bare
    : undefined;
}

/** A console message in the page's language. */
const tr = (page: PageContext, k: AuditorMessageKey, values?: Record<string, string | number>) =>
  page.t(k, values);
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

export function registerAuditorRoutes(http: FastifyInstance, deps: WebDeps): void {
  const { platform, cookies, logger } = deps;
  const canKill = (staff: StaffSignedIn) => KILL_SWITCH_ROLES.includes(staff.role);

  /** The signed-in console user, or a redirect (pages) / 401 (JSON) and undefined. */
  function staffOf(request: FastifyRequest, reply: FastifyReply, json = false) {
    const staff = signedInStaff(request.webSession, Date.now());
    if (staff) return staff;
    if (json) void reply.code(401).send({ error: 'sign in again' });
    else void seeOther(reply, AUDIT_PATHS.signIn);
    return undefined;
  }

  /**
   * A refusal the platform gave a console call, shown in words: a session the platform no
   * longer takes signs the console out; other refusals name their stable reason only.
   */
  function refused(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
    if (!isVaxGuardError(error)) throw error;
    const page = pageContext(request, reply);
    logger.warn('console call refused', { code: error.code, reason: error.reason ?? '' });
    if (error.code === 'UNAUTHENTICATED' && request.webSession) {
      forgetAuditor(request.webSession);
      return sendPage(
        reply,
        h(AuditSignInPage, { page, error: tr(page, 'audit.error.signInFirst') }),
        401,
      );
    }
    if (error.reason === 'PRINCIPAL_SUSPENDED') {
      return sendPage(
        reply,
        h(AuditSignInPage, { page, error: tr(page, 'audit.error.suspended') }),
        403,
      );
    }
    const staff = signedInStaff(request.webSession, Date.now());
    const unavailable = error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED';
    const text = unavailable
      ? page.t('error.unavailable')
      : tr(page, 'audit.error.refused', { reason: error.reason ?? error.code });
    const status = unavailable ? 503 : error.code === 'PERMISSION_DENIED' ? 403 : 400;
    return sendPage(
      reply,
      h(ConsoleNoticePage, {
        page,
        canKill: staff ? canKill(staff) : false,
        title: page.t('error.title'),
        error: text,
      }),
      status,
    );
  }

  // ---- Sign-in -----------------------------------------------------------------------

  http.get(AUDIT_PATHS.signIn, async (request, reply) =>
    sendPage(reply, h(AuditSignInPage, { page: pageContext(request, reply) })),
  );

  http.post(AUDIT_PATHS.signIn, async (request, reply) => {
    const page = pageContext(request, reply);
    const username = field(request.body, 'username');
    const password = field(request.body, 'password');
    if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
      return sendPage(
        reply,
        h(AuditSignInPage, { page, error: tr(page, 'audit.error.badLogin') }),
        400,
      );
    }
    const waitMs = deps.signInRequests.take(request.ip);
    if (waitMs > 0) return tooMany(page, reply, waitMs);
    try {
      const { txnId } = await platform.identity.call(
        'startStaffLogin',
        { username, password },
        asUser(undefined, false),
      );
      const session = ensureSession(cookies, request, reply);
      auditorState(session).signIn = { txnId };
      return seeOther(reply, AUDIT_PATHS.code);
    } catch (error) {
      if (!isVaxGuardError(error)) throw error;
      return signInRefused(page, reply, error);
    }
  });

  http.get(AUDIT_PATHS.code, async (request, reply) => {
    const state = request.webSession && auditorState(request.webSession);
    if (!state?.signIn) return seeOther(reply, AUDIT_PATHS.signIn);
    return sendPage(reply, h(AuditCodePage, { page: pageContext(request, reply) }));
  });

  http.post(AUDIT_PATHS.code, async (request, reply) => {
    const page = pageContext(request, reply);
    const session = request.webSession;
    const signIn = session && auditorState(session).signIn;
    if (!session || !signIn) return seeOther(reply, AUDIT_PATHS.signIn);
    const otp = field(request.body, 'otp');
    if (typeof otp !== 'string' || !OTP_FORMAT.test(otp)) {
      return sendPage(reply, h(AuditCodePage, { page, error: page.t('error.badCode') }), 400);
    }
    const waitMs = deps.signInConfirmations.take(request.ip);
    if (waitMs > 0) return tooMany(page, reply, waitMs);
    let confirmed;
    try {
      confirmed = await platform.otp.call(
        'confirmOtp',
        { txnId: signIn.txnId, otp },
        asUser(undefined, false),
      );
    } catch (error) {
      if (!isVaxGuardError(error)) throw error;
      return codeRefused(page, reply, error);
    }
    delete auditorState(session).signIn;
    const staff = confirmed.claims?.staff;
    const role = staffRoleOf(staff?.role);
    if (!staff || !role || !CONSOLE_ROLES.includes(role)) {
      // The token is revoked unused: this console is no place for it.
      logger.warn('console sign-in refused: not an auditor', { role: role ?? 'none' });
      await revoke(confirmed.claims?.tokenId ?? '');
      return sendPage(
        reply,
        h(AuditSignInPage, { page, error: tr(page, 'audit.error.notAuditor') }),
        403,
      );
    }
    const rotated = rotateSession(cookies, request, reply);
    const state = auditorState(rotated);
    state.staff = {
      token: confirmed.token,
      tokenId: confirmed.claims?.tokenId ?? '',
      staffId: staff.staffId,
      role,
      expiresAt: confirmed.claims?.expiresAt ?? new Date(Date.now()),
    };
    setFilter(state, NO_FILTER);
    logger.info('auditor signed in to the console', { role });
    return seeOther(reply, AUDIT_PATHS.log);
  });

  /** Revokes a staff token at every service, not merely forgets it here. */
  async function revoke(tokenId: string): Promise<void> {
    if (tokenId === '') return;
    await platform.otp
      .call('revokeToken', { tokenId }, { idempotent: true })
      .catch((error: unknown) => logger.warn('staff token not revoked', { err: error }));
  }

  http.post(AUDIT_PATHS.signOut, async (request, reply) => {
    const staff = signedInStaff(request.webSession, Date.now());
    if (staff) await revoke(staff.tokenId);
    if (request.webSession) forgetAuditor(request.webSession);
    const page = pageContext(request, reply);
    return sendPage(reply, h(AuditSignInPage, { page, info: tr(page, 'audit.signedOut') }));
  });

  function tooMany(page: PageContext, reply: FastifyReply, waitMs: number) {
    const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
    return sendPage(
      reply,
      h(AuditSignInPage, { page, error: page.t('error.tooMany', { minutes }) }),
      429,
    );
  }

  function signInRefused(page: PageContext, reply: FastifyReply, error: VaxGuardError) {
    if (error.reason === 'BAD_LOGIN') {
      return sendPage(
        reply,
        h(AuditSignInPage, { page, error: tr(page, 'audit.error.badLogin') }),
        401,
      );
    }
    if (error.code === 'RESOURCE_EXHAUSTED')
      return tooMany(page, reply, error.retryAfterMs ?? 60_000);
    if (error.reason === 'PRINCIPAL_SUSPENDED') {
      return sendPage(
        reply,
        h(AuditSignInPage, { page, error: tr(page, 'audit.error.suspended') }),
        403,
      );
    }
    logger.warn('console sign-in failed', { code: error.code, reason: error.reason ?? '' });
    return sendPage(reply, h(AuditSignInPage, { page, error: page.t('error.unavailable') }), 503);
  }

  function codeRefused(page: PageContext, reply: FastifyReply, error: VaxGuardError) {
    const message: MessageKey =
      error.reason === 'OTP_WRONG_CODE'
        ? 'error.wrongCode'
        : error.reason === 'OTP_MALFORMED'
          ? 'error.badCode'
          : error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED'
            ? 'error.unavailable'
            : 'error.codeExpired';
    return sendPage(reply, h(AuditCodePage, { page, error: page.t(message) }), 400);
  }

  // ---- The log -----------------------------------------------------------------------

  const queryOf = (filter: LogFilter) => ({
    actorId: filter.actorId,
    subjectRef: filter.subjectRef,
    eventType: filter.eventType,
    from: filter.from,
    to: filter.to,
  });

  const views = (entries: readonly auditV1.LogEntry[]): EntryView[] =>
    entries.map((entry) => viewEntry(Number(entry.index), entry.entry));

  http.get(AUDIT_PATHS.log, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff || !request.webSession) return reply;
    const state = auditorState(request.webSession);
    let pageNumber = parsePageNumber((request.query as Form)?.page);
    // A page whose start this session has not seen yet starts the filter over.
    if (state.pageTokens[pageNumber - 1] === undefined) pageNumber = 1;
    try {
      const response = await platform.audit.call(
        'queryEntries',
        {
          ...queryOf(state.filter),
          pageSize: LOG_PAGE_SIZE,
          pageToken: state.pageTokens[pageNumber - 1] ?? '',
        },
        asUser(staff.token, true),
      );
      keepPageToken(state, pageNumber, response.nextPageToken);
      return sendPage(
        reply,
        h(LogPage, {
          page: pageContext(request, reply),
          canKill: canKill(staff),
          filter: state.filter,
          problems: [],
          entries: views(response.entries),
          pageNumber,
          hasNext: response.nextPageToken !== '',
        }),
      );
    } catch (error) {
      return refused(request, reply, error);
    }
  });

  http.post(AUDIT_PATHS.filter, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff || !request.webSession) return reply;
    const state = auditorState(request.webSession);
    if (field(request.body, 'action') === 'clear') {
      setFilter(state, NO_FILTER);
      return seeOther(reply, AUDIT_PATHS.log);
    }
    const parsed = parseLogFilter(request.body ?? {});
    if (!parsed.ok) {
      // Which fields and why; never the values (one may be a phone number).
      logger.info('log filter refused', { fields: parsed.problems.map((p) => p.field).join(',') });
      return sendPage(
        reply,
        h(LogPage, {
          page: pageContext(request, reply),
          canKill: canKill(staff),
          filter: state.filter,
          problems: parsed.problems,
          entries: [],
          pageNumber: 1,
          hasNext: false,
        }),
        400,
      );
    }
    setFilter(state, parsed.filter);
    return seeOther(reply, AUDIT_PATHS.log);
  });

  http.get<{ Params: { index: string } }>('/audit/entries/:index', async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff) return reply;
    const page = pageContext(request, reply);
    const index = parseEntryIndex(request.params.index);
    const notFound = () =>
      sendPage(
        reply,
        h(ConsoleNoticePage, {
          page,
          canKill: canKill(staff),
          title: page.t('error.title'),
          error: tr(page, 'audit.entry.notFound', { index: request.params.index.slice(0, 20) }),
        }),
        404,
      );
    if (index === undefined) return notFound();
    try {
      const entry = await entryAt(staff, index);
      if (!entry) return notFound();
      return sendPage(
        reply,
        h(EntryPage, {
          page,
          canKill: canKill(staff),
          entry: viewEntry(index, entry.entry),
          raw: new TextDecoder().decode(entry.entry),
        }),
      );
    } catch (error) {
      if (isVaxGuardError(error) && error.code === 'OUT_OF_RANGE') return notFound();
      return refused(request, reply, error);
    }
  });

  async function entryAt(staff: StaffSignedIn, index: number) {
    const { entries } = await platform.audit.call(
      'getEntries',
      { start: String(index), end: String(index + 1), pageSize: 1, pageToken: '' },
      asUser(staff.token, true),
    );
    return entries.find((entry) => Number(entry.index) === index);
  }

  /** The entry, its proof to the latest signed checkpoint and that checkpoint: JSON. */
  http.get<{ Params: { index: string } }>('/audit/entries/:index/proof', async (request, reply) => {
    const staff = staffOf(request, reply, true);
    if (!staff) return reply;
    const index = parseEntryIndex(request.params.index);
    if (index === undefined) return reply.code(404).send({ error: 'no such entry' });
    try {
      const checkpoint = await platform.audit.call('getCheckpoint', {}, asUser(staff.token, true));
      const treeSize = Number(checkpoint.treeSize);
      if (index >= treeSize) return json(reply, { pending: true } satisfies PendingPayload);
      const [entry, proof] = await Promise.all([
        entryAt(staff, index),
        platform.audit.call(
          'getInclusionProof',
          { index: String(index), treeSize: checkpoint.treeSize },
          asUser(staff.token, true),
        ),
      ]);
      if (!entry) return reply.code(404).send({ error: 'no such entry' });
      return json(reply, {
        index,
        entry: b64(entry.entry),
        proof: proof.hashes.map(b64),
        signedCheckpoint: checkpoint.signedCheckpoint,
        verifierKey: checkpoint.verifierKey,
      } satisfies InclusionPayload);
    } catch (error) {
      return jsonRefusal(reply, error);
    }
  });

  function json(reply: FastifyReply, body: unknown): FastifyReply {
    return reply.header('cache-control', 'no-store').type('application/json').send(body);
  }

  function jsonRefusal(reply: FastifyReply, error: unknown): FastifyReply {
    if (!isVaxGuardError(error)) throw error;
    logger.warn('console proof call refused', { code: error.code, reason: error.reason ?? '' });
    const status =
      error.code === 'UNAUTHENTICATED' ? 401 : error.code === 'PERMISSION_DENIED' ? 403 : 502;
    return reply.code(status).send({ error: error.reason ?? error.code });
  }

  // ---- Export ------------------------------------------------------------------------

  http.get(AUDIT_PATHS.export, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff || !request.webSession) return reply;
    const filter = auditorState(request.webSession).filter;
    const stream = platform.audit.stream(
      'exportEntries',
      { ...queryOf(filter), chunkSize: EXPORT_CHUNK_SIZE },
      { ...asUser(staff.token, true), deadlineMs: EXPORT_DEADLINE_MS },
    );
    const chunks = stream[Symbol.asyncIterator]();
    // The first chunk before any header: a refusal is still a page, not a broken file.
    let first: IteratorResult<auditV1.ExportEntriesResponse>;
    try {
      first = await chunks.next();
    } catch (error) {
      return refused(request, reply, error);
    }
    async function* lines(): AsyncGenerator<string> {
      let next = first;
      while (!next.done) {
        for (const entry of next.value.entries) yield `${exportLine(entry)}\n`;
        next = await chunks.next();
      }
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return reply
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="vaxguard-audit-${stamp}.ndjson"`)
      .type('application/x-ndjson; charset=utf-8')
      .send(Readable.from(lines()));
  });

  // ---- Consistency -------------------------------------------------------------------

  http.get(AUDIT_PATHS.consistency, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff) return reply;
    try {
      const checkpoint = await platform.audit.call('getCheckpoint', {}, asUser(staff.token, true));
      return sendPage(
        reply,
        h(ConsistencyPage, {
          page: pageContext(request, reply),
          canKill: canKill(staff),
          origin: checkpoint.origin,
          treeSize: Number(checkpoint.treeSize),
          haltReason: checkpoint.halted ? checkpoint.haltReason : undefined,
        }),
      );
    } catch (error) {
      return refused(request, reply, error);
    }
  });

  /** The current checkpoint and, for `from` below its size, the proof from `from` to it. */
  http.get(AUDIT_PATHS.consistencyProof, async (request, reply) => {
    const staff = staffOf(request, reply, true);
    if (!staff) return reply;
    const from = (request.query as Form)?.from;
    const fromSize = parseTreeSize(typeof from === 'string' ? from : '0');
    if (fromSize === undefined) return reply.code(400).send({ error: 'from is a tree size' });
    try {
      const checkpoint = await platform.audit.call('getCheckpoint', {}, asUser(staff.token, true));
      const treeSize = Number(checkpoint.treeSize);
      // A saved tree as large as the current one or larger needs no proof: the browser
      // compares roots (same size) or names the rollback (larger).
      const proof =
        fromSize > 0 && fromSize < treeSize
          ? await platform.audit.call(
              'getConsistencyProof',
              { oldSize: String(fromSize), newSize: checkpoint.treeSize },
              asUser(staff.token, true),
            )
          : { hashes: [] };
      return json(reply, {
        fromSize,
        proof: proof.hashes.map(b64),
        signedCheckpoint: checkpoint.signedCheckpoint,
        verifierKey: checkpoint.verifierKey,
      } satisfies ConsistencyPayload);
    } catch (error) {
      return jsonRefusal(reply, error);
    }
  });

  // ---- Alerts and suspensions --------------------------------------------------------

  async function latestEvents(
    staff: StaffSignedIn,
    eventTypes: readonly string[],
    pages: number,
  ): Promise<EntryView[]> {
    const found: EntryView[] = [];
    for (const eventType of eventTypes) {
      let pageToken = '';
      for (let i = 0; i < pages; i++) {
        const response = await platform.audit.call(
          'queryEntries',
          { ...queryOf({ ...NO_FILTER, eventType }), pageSize: 100, pageToken },
          asUser(staff.token, true),
        );
        found.push(...views(response.entries));
        pageToken = response.nextPageToken;
        if (pageToken === '') break;
      }
    }
    return found.sort((a, b) => b.index - a.index).slice(0, RECENT_EVENTS_PAGE_SIZE);
  }

  async function alertsPage(
    request: FastifyRequest,
    reply: FastifyReply,
    staff: StaffSignedIn,
    extra: PageMessages = {},
  ) {
    const showAll = (request.query as Form)?.all === '1';
    const [alerts, suspensions] = await Promise.all([
      platform.audit.call(
        'listAlerts',
        { pageSize: ALERTS_PAGE_SIZE, pageToken: '', unacknowledgedOnly: !showAll },
        asUser(staff.token, true),
      ),
      latestEvents(
        staff,
        [EVENTS.principalSuspended.name, EVENTS.principalReinstated.name],
        SUSPENSION_PAGES,
      ),
    ]);
    const page = pageContext(request, reply);
    return sendPage(
      reply,
      h(AlertsPage, {
        page,
        canKill: canKill(staff),
        alerts: alerts.alerts.map(alertRow),
        showAll,
        nextPageToken: alerts.nextPageToken,
        suspensions: suspensions.map(suspensionRow),
        notice: extra.notice,
        error: extra.error,
      }),
      extra.status ?? 200,
    );
  }

  http.get(AUDIT_PATHS.alerts, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff) return reply;
    const done = (request.query as Form)?.done === 'ack';
    try {
      return await alertsPage(
        request,
        reply,
        staff,
        done ? { notice: 'audit.alerts.didAcknowledge' } : {},
      );
    } catch (error) {
      return refused(request, reply, error);
    }
  });

  http.post(AUDIT_PATHS.acknowledge, async (request, reply) => {
    const staff = staffOf(request, reply);
    if (!staff) return reply;
    const alertId = field(request.body, 'alertId');
    const page = pageContext(request, reply);
    try {
      if (typeof alertId !== 'string' || !ALERT_ID.test(alertId)) {
        return await alertsPage(request, reply, staff, {
          error: tr(page, 'audit.alerts.unknown'),
          status: 400,
        });
      }
      await platform.audit.call('acknowledgeAlert', { alertId }, asUser(staff.token, false));
      return seeOther(reply, `${AUDIT_PATHS.alerts}?done=ack`);
    } catch (error) {
      if (isVaxGuardError(error) && error.code === 'NOT_FOUND') {
        return alertsPage(request, reply, staff, {
          error: tr(page, 'audit.alerts.unknown'),
          status: 404,
        });
      }
      return refused(request, reply, error);
    }
  });

  // ---- The kill switch (platform admins) ---------------------------------------------

  function adminOf(request: FastifyRequest, reply: FastifyReply) {
    const staff = staffOf(request, reply);
    if (!staff) return undefined;
    if (!canKill(staff)) {
      const page = pageContext(request, reply);
      void sendPage(
        reply,
        h(ConsoleNoticePage, {
          page,
          canKill: false,
          title: tr(page, 'audit.kill.title'),
          error: tr(page, 'audit.kill.notAdmin'),
        }),
        403,
      );
      return undefined;
    }
    return staff;
  }

  async function killSwitchPage(
    request: FastifyRequest,
    reply: FastifyReply,
    staff: StaffSignedIn,
    extra: PageMessages & { problems?: readonly LockProblem[] } = {},
  ) {
    const recent = await latestEvents(staff, [EVENTS.apiLocked.name, EVENTS.apiUnlocked.name], 1);
    return sendPage(
      reply,
      h(KillSwitchPage, {
        page: pageContext(request, reply),
        canKill: true,
        problems: extra.problems ?? [],
        recent,
        notice: extra.notice,
        error: extra.error,
      }),
      extra.status ?? 200,
    );
  }

  http.get(AUDIT_PATHS.killSwitch, async (request, reply) => {
    const staff = adminOf(request, reply);
    if (!staff) return reply;
    const done = (request.query as Form)?.done === '1';
    try {
      return await killSwitchPage(request, reply, staff, done ? { notice: 'audit.kill.done' } : {});
    } catch (error) {
      return refused(request, reply, error);
    }
  });

  http.post(AUDIT_PATHS.killSwitch, async (request, reply) => {
    const staff = adminOf(request, reply);
    if (!staff || !request.webSession) return reply;
    const parsed = parseLockForm(request.body ?? {});
    try {
      if (!parsed.ok)
        return await killSwitchPage(request, reply, staff, {
          problems: parsed.problems,
          status: 400,
        });
    } catch (error) {
      return refused(request, reply, error);
    }
    // Applied only by the confirming POST, which must name this nonce.
    const nonce = randomBytes(16).toString('base64url');
    auditorState(request.webSession).pendingLock = { ...parsed.request, nonce };
    return sendPage(
      reply,
      h(KillSwitchConfirmPage, {
        page: pageContext(request, reply),
        canKill: true,
        request: parsed.request,
        nonce,
      }),
    );
  });

  http.post(AUDIT_PATHS.killSwitchConfirm, async (request, reply) => {
    const staff = adminOf(request, reply);
    if (!staff || !request.webSession) return reply;
    const state = auditorState(request.webSession);
    const pending = state.pendingLock;
    delete state.pendingLock;
    if (!pending || field(request.body, 'nonce') !== pending.nonce) {
      try {
        return await killSwitchPage(request, reply, staff, {
          error: tr(pageContext(request, reply), 'audit.kill.expired'),
          status: 409,
        });
      } catch (error) {
        return refused(request, reply, error);
      }
    }
    try {
      await applyLock(staff, pending);
      logger.info('kill switch changed from the console', {
        action: pending.action,
        scope: pending.scope.kind,
      });
      return seeOther(reply, `${AUDIT_PATHS.killSwitch}?done=1`);
    } catch (error) {
      if (
        isVaxGuardError(error) &&
        error.code !== 'UNAUTHENTICATED' &&
        error.code !== 'UNAVAILABLE'
      ) {
        try {
          return await killSwitchPage(request, reply, staff, {
            error: tr(pageContext(request, reply), 'audit.error.refused', {
              reason: error.reason ?? error.code,
            }),
            status: error.code === 'PERMISSION_DENIED' ? 403 : 400,
          });
        } catch (inner) {
          return refused(request, reply, inner);
        }
      }
      return refused(request, reply, error);
    }
  });

  async function applyLock(staff: StaffSignedIn, request: LockRequest): Promise<void> {
    const scope = lockScope(request.scope);
    const options = asUser(staff.token, false);
    if (request.action === 'lock') {
      await platform.identity.call('setApiLock', { scope, reason: request.reason }, options);
    } else {
      await platform.identity.call('clearApiLock', { scope, reason: request.reason }, options);
    }
  }
}

/** The console's scope as identity's ApiLockScope. */
export function lockScope(scope: LockScope): identityV1.ApiLockScope {
  switch (scope.kind) {
    case 'everything':
      return { scope: { $case: 'everything', value: true } };
    case 'service':
      return { scope: { $case: 'service', value: scope.value } };
    case 'method':
      return { scope: { $case: 'method', value: scope.value } };
    case 'client':
      return { scope: { $case: 'partnerClientId', value: scope.value } };
  }
}

/** One line of an export: the index, the canonical bytes (base64) and the entry read. */
export function exportLine(entry: auditV1.LogEntry): string {
  const bytes = new Uint8Array(entry.entry);
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // Kept as bytes only.
  }
  return JSON.stringify({ index: Number(entry.index), leafInput: b64(bytes), entry: parsed });
}

function enumName(names: Record<number, string>, value: number, prefix: string): string {
  return (names[value] ?? '').replace(prefix, '');
}

function alertRow(record: auditV1.AlertRecord): AlertRow {
  const alert = record.alert;
  const window = alert?.window;
  return {
    alertId: alert?.alertId ?? '',
    rule: alert?.rule ?? '',
    severity: enumName(auditV1.Severity, alert?.severity ?? 0, 'SEVERITY_'),
    principal: alert?.principalId ?? '',
    window: window
      ? { name: window.name, observed: window.observed, threshold: window.threshold }
      : undefined,
    response: enumName(auditV1.AutomaticResponse, alert?.response ?? 0, 'AUTOMATIC_RESPONSE_'),
    raisedAt: alert?.raisedAt?.toISOString() ?? '',
    acknowledgedBy: record.acknowledgedAt ? record.acknowledgedBy : undefined,
  };
}

function suspensionRow(entry: EntryView): SuspensionRow {
  let reason = '';
  try {
    const { reason: given } = JSON.parse(entry.payload ?? '{}') as { reason?: unknown };
    reason = typeof given === 'string' ? given : '';
  } catch {
    // No reason shown.
  }
  return {
    index: entry.index,
    occurredAt: entry.occurredAt,
    suspended: entry.type === EVENTS.principalSuspended.name,
    principal: `${entry.subjectKind} ${entry.subjectRef}`,
    by: `${entry.actorKind} ${entry.actorId}`,
    reason,
  };
}
