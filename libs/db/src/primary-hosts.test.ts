import { describe, expect, it } from 'vitest';
import {
  HostSelector,
  multiHostTarget,
  parseDatabaseUrl,
  type DatabaseHost,
} from './primary-hosts';

describe('parseDatabaseUrl: one URL naming a primary and its standby', () => {
  const pair =
    'postgres://vaxguard:s3cret@10.0.0.3:5432,10.0.0.4:5433/vaxguard?target_session_attrs=read-write&sslmode=disable';

  it('reads every host in order, each with its port, and the session attribute', () => {
    const target = parseDatabaseUrl(pair);
    expect(target.hosts).toEqual([
      { host: '10.0.0.3', port: 5432 },
      { host: '10.0.0.4', port: 5433 },
    ]);
    expect(target.targetSessionAttrs).toBe('read-write');
  });

  it('gives node-postgres a URL for one host, with the credentials, database and other options kept', () => {
    const target = parseDatabaseUrl(pair);
    const second = target.hosts[1];
    if (!second) throw new Error('two hosts expected');
    const single = new URL(target.urlFor(second));
    expect(single.host).toBe('10.0.0.4:5433');
    expect(single.username).toBe('vaxguard');
    expect(single.password).toBe('s3cret');
    expect(single.pathname).toBe('/vaxguard');
    expect(single.searchParams.get('sslmode')).toBe('disable');
    expect(single.searchParams.has('target_session_attrs')).toBe(false);
  });

  it('takes 5432 for a host without a port, IPv6 in brackets, and any as the default attribute', () => {
    const target = parseDatabaseUrl('postgresql://u@db-a,[fd00::2]:6000/app');
    expect(target.hosts).toEqual([
      { host: 'db-a', port: 5432 },
      { host: 'fd00::2', port: 6000 },
    ]);
    expect(target.targetSessionAttrs).toBe('any');
    expect(target.urlFor({ host: 'fd00::2', port: 6000 })).toBe(
      'postgresql://u@[fd00::2]:6000/app',
    );
  });

  it('refuses at start-up what it would otherwise ignore, without echoing the password', () => {
    expect(() =>
      parseDatabaseUrl('postgres://u:s3cret@a:5432,b:5432/db?target_session_attrs=standby'),
    ).toThrow(/target_session_attrs=standby is not supported/);
    const refusal = (url: string) => {
      try {
        parseDatabaseUrl(url);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`${url} was accepted`);
    };
    expect(refusal('postgres://u:s3cret@a:5432,:5432/db')).toMatch(/host ":5432" is not/);
    expect(refusal('postgres://u:s3cret@a:99999/db')).toMatch(/out of range/);
    expect(refusal('mysql://u:s3cret@a/db')).toMatch(/postgres:\/\//);
    for (const bad of ['postgres://u:s3cret@a:5432,:5432/db', 'mysql://u:s3cret@a/db']) {
      expect(refusal(bad)).not.toContain('s3cret');
    }
  });

  it('leaves a plain single-host URL to node-postgres as before', () => {
    expect(multiHostTarget('postgres://u:p@127.0.0.1:5432/db')).toBeUndefined();
    expect(multiHostTarget(pair)?.hosts).toHaveLength(2);
    expect(multiHostTarget('postgres://u:p@a/db?target_session_attrs=read-write')?.hosts).toEqual([
      { host: 'a', port: 5432 },
    ]);
  });
});

describe('HostSelector: where the next connection goes', () => {
  const target = parseDatabaseUrl('postgres://u:p@a:1,b:2,c:3/db?target_session_attrs=read-write');
  const [a, b, c] = target.hosts as [DatabaseHost, DatabaseHost, DatabaseHost];

  it('starts with the first host and keeps a host that works', () => {
    const selector = new HostSelector(target.hosts);
    expect(selector.current()).toBe(a);
    expect(selector.current()).toBe(a);
  });

  it('tries the hosts in order after failures, round again', () => {
    const selector = new HostSelector(target.hosts);
    const tried: DatabaseHost[] = [];
    for (let i = 0; i < 4; i++) {
      const host = selector.current();
      tried.push(host);
      selector.passOver(host);
    }
    expect(tried).toEqual([a, b, c, a]);
  });

  it('stays on the host found writable until a connection there fails (the primary moved)', () => {
    const selector = new HostSelector(target.hosts);
    selector.passOver(a);
    // b took writes: nothing moves the next connections away from it.
    expect([selector.current(), selector.current()]).toEqual([b, b]);
    selector.passOver(b);
    expect(selector.current()).toBe(c);
  });

  it('ignores a late report about a host it has already left (two connections failing at once)', () => {
    const selector = new HostSelector(target.hosts);
    selector.passOver(a);
    selector.passOver(a);
    expect(selector.current()).toBe(b);
  });
});
