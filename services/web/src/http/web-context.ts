// How a route reads and writes the session, renders a page and puts a CSRF token in a
// form. Both sites (citizen, auditor) use these and nothing else.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JSX } from 'preact';
import { renderToString } from 'preact-render-to-string';
import { chooseLanguage, LANGUAGE_COOKIE, translator, type Translator } from '../i18n/i18n';
import type { Session, SessionBinding, SessionData, SessionStore } from '../session/session-store';

declare module 'fastify' {
  interface FastifyRequest {
    /** The live session the request's cookie opened for this client, if any. */
    webSession: Session | undefined;
  }
}

/** Everything a page component needs from the request. */
export interface PageContext extends Translator {
  readonly session: Session | undefined;
  /** A CSRF token for this session: every POST form carries it as `_csrf`. */
  readonly csrfToken: string;
  /** The request's path, for the language switch to come back to. */
  readonly path: string;
}

export interface SessionCookies {
  readonly sessions: SessionStore;
  /** The session cookie's name (`__Host-` prefixed over TLS). */
  readonly cookieName: string;
  readonly secure: boolean;
}

export function bindingOf(request: FastifyRequest): SessionBinding {
  return { address: request.ip, userAgent: request.headers['user-agent'] ?? '' };
}

/**
 * The CSRF token's user info: the session id, so a token works only in its own session
 * (before there is one, a fixed word: @fastify/csrf refuses an empty one).
 */
export function csrfUserInfo(request: FastifyRequest): string {
  return request.webSession?.id ?? 'no-session';
}

export function pageContext(request: FastifyRequest, reply: FastifyReply): PageContext {
  const lang = chooseLanguage(request.cookies[LANGUAGE_COOKIE], request.headers['accept-language']);
  return {
    ...translator(lang),
    session: request.webSession,
    csrfToken: reply.generateCsrf({ userInfo: csrfUserInfo(request) }),
    path: request.url.split('?')[0] ?? '/',
  };
}

/** Sends a server-rendered page: never cached (it may show personal data). */
export function sendPage(reply: FastifyReply, page: JSX.Element, status = 200): FastifyReply {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(`<!doctype html>${renderToString(page)}`);
}

/** A redirect after a POST (303: the browser follows with a GET). */
export function seeOther(reply: FastifyReply, path: string): FastifyReply {
  return reply.header('cache-control', 'no-store').redirect(path, 303);
}

/** The request's session, or a new one for this client (its cookie set on the reply). */
export function ensureSession(
  cookies: SessionCookies,
  request: FastifyRequest,
  reply: FastifyReply,
): Session {
  if (request.webSession) return request.webSession;
  const session = cookies.sessions.create(bindingOf(request));
  setSessionCookie(cookies, reply, session);
  request.webSession = session;
  return session;
}

/**
 * The same session under a fresh id: at every sign-in, so an id someone planted or saw
 * before it opens nothing after.
 */
export function rotateSession(
  cookies: SessionCookies,
  request: FastifyRequest,
  reply: FastifyReply,
): Session {
  const current = ensureSession(cookies, request, reply);
  const rotated = cookies.sessions.rotate(current);
  setSessionCookie(cookies, reply, rotated);
  request.webSession = rotated;
  return rotated;
}

export function endSession(
  cookies: SessionCookies,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  if (request.webSession) cookies.sessions.destroy(request.webSession.id);
  request.webSession = undefined;
  reply.clearCookie(cookies.cookieName, cookieOptions(cookies.secure));
}

/** Forgets one part of the session's data (a signed-out citizen, say). */
export function clearSessionData(session: Session, key: keyof SessionData): void {
  delete session.data[key];
}

export function cookieOptions(secure: boolean) {
  return { path: '/', httpOnly: true, sameSite: 'strict', secure } as const;
}

function setSessionCookie(cookies: SessionCookies, reply: FastifyReply, session: Session): void {
  reply.setCookie(cookies.cookieName, session.id, cookieOptions(cookies.secure));
}
