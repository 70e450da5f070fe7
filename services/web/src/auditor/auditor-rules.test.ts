import { describe, expect, it } from 'vitest';
import {
  EVENT_TYPE_NAMES,
  formatFilterTime,
  isFiltered,
  NO_FILTER,
  parseEntryIndex,
  parseFilterTime,
  parseLockForm,
  parseLogFilter,
  parsePageNumber,
} from './auditor-rules';

describe('parseLogFilter', () => {
  it('takes an empty form as no filter', () => {
    expect(parseLogFilter({})).toEqual({ ok: true, filter: NO_FILTER });
    expect(isFiltered(NO_FILTER)).toBe(false);
  });

  it('takes a catalogue event type, ids, references and a UTC time range', () => {
    const result = parseLogFilter({
      eventType: 'record.accessed',
      actorId: ' 1b4e28ba-2fa1-4d2b-883f-0016d3cca427 ',
      subjectRef: 'bnf_0123456789abcdefghjkmnpqrs',
      from: '2026-12-01T00:00',
      to: '2026-12-02T06:30',
    });
    expect(result).toEqual({
      ok: true,
      filter: {
        eventType: 'record.accessed',
        actorId: '1b4e28ba-2fa1-4d2b-883f-0016d3cca427',
        subjectRef: 'bnf_0123456789abcdefghjkmnpqrs',
        from: new Date('2026-12-01T00:00:00Z'),
        to: new Date('2026-12-02T06:30:00Z'),
      },
    });
    if (result.ok) expect(isFiltered(result.filter)).toBe(true);
  });

  it('offers exactly the catalogue event types', () => {
    expect(EVENT_TYPE_NAMES).toContain('record.accessed');
    expect(EVENT_TYPE_NAMES).toContain('security.alert');
    expect(parseLogFilter({ eventType: 'record.read' })).toEqual({
      ok: false,
      problems: [{ field: 'eventType', problem: 'filter.error.eventType' }],
    });
  });

  it('refuses a phone or identity number as personal data, by field, without repeating it', () => {
    const result = parseLogFilter({ actorId: '9876543210', subjectRef: '2345 6789 0123' });
    expect(result).toEqual({
      ok: false,
      problems: [
        { field: 'actorId', problem: 'filter.error.personalData' },
        { field: 'subjectRef', problem: 'filter.error.personalData' },
      ],
    });
    expect(JSON.stringify(result)).not.toContain('9876543210');
    expect(JSON.stringify(result)).not.toContain('6789');
  });

  it('refuses ids with spaces, markup or over 128 characters, naming each field', () => {
    expect(parseLogFilter({ actorId: 'a b', subjectRef: `<script>` })).toEqual({
      ok: false,
      problems: [
        { field: 'actorId', problem: 'filter.error.actorId' },
        { field: 'subjectRef', problem: 'filter.error.subjectRef' },
      ],
    });
    expect(parseLogFilter({ actorId: 'a'.repeat(129) })).toMatchObject({ ok: false });
    expect(parseLogFilter({ actorId: 'a'.repeat(128) })).toMatchObject({ ok: true });
  });

  it('refuses times that are not real datetime-local values, and a range that ends before it starts', () => {
    expect(parseLogFilter({ from: '2026-02-30T10:00', to: 'yesterday' })).toEqual({
      ok: false,
      problems: [
        { field: 'from', problem: 'filter.error.time' },
        { field: 'to', problem: 'filter.error.time' },
      ],
    });
    expect(parseLogFilter({ from: '2026-12-02T00:00', to: '2026-12-02T00:00' })).toEqual({
      ok: false,
      problems: [{ field: 'to', problem: 'filter.error.timeOrder' }],
    });
  });

  it('ignores values that are not strings (a repeated field)', () => {
    expect(parseLogFilter({ actorId: ['a', 'b'], eventType: 7 })).toEqual({
      ok: true,
      filter: NO_FILTER,
    });
  });
});

describe('filter times', () => {
  it('reads and writes datetime-local values as UTC', () => {
    const date = parseFilterTime('2026-12-07T23:45');
    expect(date?.toISOString()).toBe('2026-12-07T23:45:00.000Z');
    expect(formatFilterTime(date)).toBe('2026-12-07T23:45');
    expect(formatFilterTime(undefined)).toBe('');
    expect(parseFilterTime('2026-12-07 23:45')).toBeUndefined();
    expect(parseFilterTime('2026-12-07T24:00')).toBeUndefined();
  });
});

describe('indexes and pages in paths', () => {
  it('takes decimal safe integers only', () => {
    expect(parseEntryIndex('0')).toBe(0);
    expect(parseEntryIndex('4096')).toBe(4096);
    for (const bad of ['', '-1', '01', '1e3', '0x10', '1.5', '99999999999999999']) {
      expect(parseEntryIndex(bad)).toBeUndefined();
    }
  });

  it('reads a page number, 1 for anything else', () => {
    expect(parsePageNumber('3')).toBe(3);
    expect(parsePageNumber('0')).toBe(1);
    expect(parsePageNumber(undefined)).toBe(1);
    expect(parsePageNumber(['2'])).toBe(1);
  });
});

describe('parseLockForm', () => {
  it('takes a lock of one client, one method, one service or everything, with a reason', () => {
    expect(
      parseLockForm({
        action: 'lock',
        scope: 'client',
        target: 'login-sprayer',
        reason: 'spraying passwords',
      }),
    ).toEqual({
      ok: true,
      request: {
        action: 'lock',
        scope: { kind: 'client', value: 'login-sprayer' },
        reason: 'spraying passwords',
      },
    });
    expect(
      parseLockForm({
        action: 'unlock',
        scope: 'method',
        target: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
        reason: 'fixed',
      }),
    ).toMatchObject({ ok: true });
    expect(
      parseLockForm({
        action: 'lock',
        scope: 'service',
        target: 'vaxguard.otp.v1.OtpService',
        reason: 'incident 42',
      }),
    ).toMatchObject({ ok: true });
    expect(parseLockForm({ action: 'lock', scope: 'everything', reason: 'breach' })).toMatchObject({
      ok: true,
      request: { scope: { kind: 'everything' } },
    });
  });

  it('names every problem at once', () => {
    expect(
      parseLockForm({ action: 'drop', scope: 'method', target: 'GetBeneficiary', reason: 'x' }),
    ).toEqual({
      ok: false,
      problems: ['kill.error.action', 'kill.error.method', 'kill.error.reason'],
    });
    expect(parseLockForm({})).toEqual({
      ok: false,
      problems: ['kill.error.action', 'kill.error.scope', 'kill.error.reason'],
    });
    expect(
      parseLockForm({ action: 'lock', scope: 'client', target: 'A B', reason: 'r'.repeat(201) }),
    ).toEqual({
      ok: false,
      problems: ['kill.error.client', 'kill.error.reason'],
    });
  });

  it('refuses a reason holding personal data: it goes into the log for good', () => {
    expect(
      parseLockForm({ action: 'lock', scope: 'everything', reason: 'complaint from 9876543210' }),
    ).toEqual({ ok: false, problems: ['filter.error.personalData'] });
  });
});
