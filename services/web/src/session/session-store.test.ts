import { describe, expect, it } from 'vitest';
import { AttemptLimiter } from './attempt-limiter';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from './session-rules';
import { SessionStore } from './session-store';

const here = { address: '127.0.0.1', userAgent: 'Mozilla/5.0 test' };

function store() {
  let now = 1_000_000;
  const sessions = new SessionStore({ clock: () => now });
  return { sessions, advance: (ms: number) => (now += ms), now: () => now };
}

describe('SessionStore', () => {
  it('opens a session by its random 256-bit id for the client it was made for, and for no other', () => {
    const { sessions } = store();
    const session = sessions.create(here);
    expect(Buffer.from(session.id, 'base64url')).toHaveLength(32);
    expect(sessions.create(here).id).not.toBe(session.id);
    expect(sessions.find(session.id, here)).toBe(session);
    expect(sessions.find(session.id, { ...here, address: '127.0.0.2' })).toBe('wrong-binding');
    expect(sessions.find(session.id, { ...here, userAgent: 'curl/8' })).toBe('wrong-binding');
    // A try from elsewhere does not end it for its owner.
    expect(sessions.find(session.id, here)).toBe(session);
    expect(sessions.find('no-such-id', here)).toBe('unknown');
  });

  it('forgets a session left idle, and any session at its absolute end however active', () => {
    const { sessions, advance, now } = store();
    const idle = sessions.create(here);
    const active = sessions.create(here);
    const end = now() + SESSION_ABSOLUTE_MS;
    advance(SESSION_IDLE_MS - 1);
    expect(sessions.find(active.id, here)).toBe(active);
    advance(1);
    expect(sessions.find(idle.id, here)).toBe('expired');
    expect(sessions.find(idle.id, here)).toBe('unknown');
    // Used every half idle period, the session lives until its absolute end, not past it.
    while (now() + SESSION_IDLE_MS / 2 < end) {
      advance(SESSION_IDLE_MS / 2);
      expect(sessions.find(active.id, here)).toBe(active);
    }
    advance(end - now());
    expect(sessions.find(active.id, here)).toBe('expired');
  });

  it('rotates a session to a fresh id with the same data: the old id opens nothing', () => {
    const { sessions } = store();
    const before = sessions.create(here, { signIn: { txnId: 't', maskedMobile: 'XXXXXX1234' } });
    const after = sessions.rotate(before);
    expect(after.id).not.toBe(before.id);
    expect(after.data.signIn?.maskedMobile).toBe('XXXXXX1234');
    expect(sessions.find(before.id, here)).toBe('unknown');
    expect(sessions.find(after.id, here)).toBe(after);
    sessions.destroy(after.id);
    expect(sessions.find(after.id, here)).toBe('unknown');
  });

  it('prunes expired sessions and holds at most its maximum, dropping the least recently used', () => {
    let now = 0;
    const sessions = new SessionStore({ clock: () => now, maxSessions: 2 });
    const a = sessions.create(here);
    const b = sessions.create(here);
    sessions.find(a.id, here);
    const c = sessions.create(here);
    expect(sessions.find(b.id, here)).toBe('unknown');
    expect(sessions.find(a.id, here)).toBe(a);
    now += SESSION_IDLE_MS;
    expect(sessions.prune()).toBe(2);
    expect(sessions.size).toBe(0);
    expect(sessions.find(c.id, here)).toBe('unknown');
  });
});

describe('AttemptLimiter', () => {
  it('allows `limit` attempts per window per key, then says how long to wait', () => {
    let now = 0;
    const limiter = new AttemptLimiter({ limit: 2, windowMs: 1_000 }, () => now);
    expect(limiter.take('a')).toBe(0);
    now = 400;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(600);
    expect(limiter.take('b')).toBe(0);
    now = 1_000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(400);
  });
});
