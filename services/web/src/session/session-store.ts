import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  MAX_SESSIONS,
  SESSION_ABSOLUTE_MS,
  SESSION_ID_BYTES,
  SESSION_IDLE_MS,
} from './session-rules';

/** Who a session was opened for: a cookie presented from elsewhere does not open it. */
export interface SessionBinding {
  /** The client's IP address as the server saw it. */
  readonly address: string;
  readonly userAgent: string;
}

/**
 * What one browser holds on the server. Each part of the site keeps its own field:
 * the citizen's page `citizen`, the auditor's console `auditor` (W2's, typed there).
 */
export interface SessionData {
  /** A citizen sign-in waiting for its code. */
  signIn?: { readonly txnId: string; readonly maskedMobile: string };
  citizen?: CitizenState;
  auditor?: unknown;
}

export interface CitizenState {
  /** The citizen token (OTP CITIZEN_LOGIN); never leaves the server. */
  readonly token: string;
  readonly tokenId: string;
  readonly expiresAt: Date;
  /** The beneficiary references last listed, so forms name a position, not a reference. */
  beneficiaryRefs: readonly string[];
  /**
   * The access history's page tokens as the platform gave them: entry n opens page n + 1
   * (the first, ''), so the page's address carries a page number, never a token.
   */
  historyPageTokens: string[];
}

export interface Session {
  readonly id: string;
  readonly binding: SessionBinding;
  readonly createdAt: number;
  lastSeenAt: number;
  readonly data: SessionData;
}

export interface SessionStoreOptions {
  readonly clock?: () => number;
  readonly idleMs?: number;
  readonly absoluteMs?: number;
  readonly maxSessions?: number;
  readonly newId?: () => string;
}

/** Why a presented session id opened nothing (for the log; the browser just sees none). */
export type SessionMiss = 'unknown' | 'expired' | 'wrong-binding';

const newSessionId = () => randomBytes(SESSION_ID_BYTES).toString('base64url');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Server-side sessions in memory: a random 256-bit id is all the browser holds. A session
 * opens only for the address and user agent it was created for, ends after
 * SESSION_IDLE_MS unused or SESSION_ABSOLUTE_MS in all, and a sign-in gets a fresh id
 * (`rotate`) so an id planted before it is worth nothing after.
 */
export class SessionStore {
  // A Map keeps insertion order: re-inserting on use makes the first entry the least recently used.
  private readonly sessions = new Map<string, Session>();
  private readonly clock: () => number;
  private readonly idleMs: number;
  private readonly absoluteMs: number;
  private readonly maxSessions: number;
  private readonly newId: () => string;

  constructor(options: SessionStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.idleMs = options.idleMs ?? SESSION_IDLE_MS;
    this.absoluteMs = options.absoluteMs ?? SESSION_ABSOLUTE_MS;
    this.maxSessions = options.maxSessions ?? MAX_SESSIONS;
    this.newId = options.newId ?? newSessionId;
  }

  get size(): number {
    return this.sessions.size;
  }

  create(binding: SessionBinding, data: SessionData = {}): Session {
    const now = this.clock();
    const session: Session = { id: this.newId(), binding, createdAt: now, lastSeenAt: now, data };
    this.sessions.set(session.id, session);
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return session;
  }

  /** The live session with this id for this client, touched; or why there is none. */
  find(id: string, binding: SessionBinding): Session | SessionMiss {
    const session = this.sessions.get(id);
    if (!session) return 'unknown';
    const now = this.clock();
    if (now - session.lastSeenAt >= this.idleMs || now - session.createdAt >= this.absoluteMs) {
      this.sessions.delete(id);
      return 'expired';
    }
    if (
      !sameText(session.binding.address, binding.address) ||
      !sameText(session.binding.userAgent, binding.userAgent)
    ) {
      // Left alone: whoever presented it elsewhere must not be able to end it either.
      return 'wrong-binding';
    }
    session.lastSeenAt = now;
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  /** The same data under a fresh id (at sign-in); the old id opens nothing after. */
  rotate(session: Session): Session {
    this.sessions.delete(session.id);
    return this.create(session.binding, session.data);
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** Forgets every expired session; run periodically so abandoned ones do not pile up. */
  prune(): number {
    const now = this.clock();
    let removed = 0;
    for (const [id, session] of this.sessions) {
      if (now - session.lastSeenAt >= this.idleMs || now - session.createdAt >= this.absoluteMs) {
        this.sessions.delete(id);
        removed++;
      }
    }
    return removed;
  }
}
