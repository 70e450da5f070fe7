import { describe, expect, it } from 'vitest';
import {
  AlertDesk,
  isFinalRefusal,
  MAX_ALERTS_PAGE,
  responseRetryDelayMs,
  type AlertStore,
  type StoredAlert,
} from './alert-desk';
import type { Alert } from './anomaly-model';
import type { AuditorRead, QueryRecorder, StaffReader } from './model';

const at = new Date('2026-03-02T06:00:00Z');
const auditor = { staffId: 'stf_auditor', role: 'AUDITOR' };

function alert(n: number): StoredAlert {
  const raised: Alert = {
    rule: 'CANARY_READ',
    severity: 'CRITICAL',
    principal: { kind: 'STAFF', id: `stf_${n}` },
    window: { name: 'instant', startsAt: at, endsAt: at, observed: 1, threshold: 0 },
    response: 'SUSPEND_STAFF',
    raisedAt: at,
    raisedBy: { kind: 'STAFF', principalId: `stf_${n}`, clientId: 'console' },
    dedupKey: `k${n}`,
  };
  return { alertId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, alert: raised };
}

/**
 * Positions 1..n, newest (highest) first, as the PostgreSQL store pages them; each
 * acknowledgement recorded with it, as the store does in its transaction.
 */
class MemoryAlerts implements AlertStore {
  readonly acknowledgements: { alertId: string; by: string; first: boolean }[] = [];
  constructor(readonly stored: StoredAlert[]) {}
  async page(options: { before: number | undefined; limit: number; unacknowledgedOnly: boolean }) {
    const positioned = this.stored
      .map((stored, i) => ({ stored, position: i + 1 }))
      .filter(({ position }) => options.before === undefined || position < options.before)
      .filter(({ stored }) => !options.unacknowledgedOnly || !stored.acknowledgedAt)
      .reverse()
      .slice(0, options.limit);
    return {
      alerts: positioned.map(({ stored }) => stored),
      last: positioned.at(-1)?.position,
    };
  }
  async acknowledge(alertId: string, by: string, when: Date) {
    const i = this.stored.findIndex((stored) => stored.alertId === alertId);
    const found = this.stored[i];
    if (!found) return undefined;
    const updated = found.acknowledgedAt
      ? found
      : { ...found, acknowledgedAt: when, acknowledgedBy: by };
    this.stored[i] = updated;
    this.acknowledgements.push({ alertId, by, first: !found.acknowledgedAt });
    return updated;
  }
}

class MemoryRecorder implements QueryRecorder {
  readonly reads: { auditor: StaffReader; read: AuditorRead }[] = [];
  async recordQuery(who: StaffReader, read: AuditorRead) {
    this.reads.push({ auditor: who, read });
  }
}

const deskOf = (store: AlertStore, recorder: QueryRecorder = new MemoryRecorder()) =>
  new AlertDesk(store, recorder, () => at);

describe('AlertDesk', () => {
  it('pages alerts newest first with opaque tokens, to auditors only', async () => {
    const desk = deskOf(new MemoryAlerts([1, 2, 3, 4, 5].map(alert)));
    const first = await desk.list(auditor, {
      pageSize: 2,
      pageToken: '',
      unacknowledgedOnly: false,
    });
    expect(first.alerts.map((a) => a.alert.principal.id)).toEqual(['stf_5', 'stf_4']);
    const second = await desk.list(auditor, {
      pageSize: 2,
      pageToken: first.nextPageToken,
      unacknowledgedOnly: false,
    });
    expect(second.alerts.map((a) => a.alert.principal.id)).toEqual(['stf_3', 'stf_2']);
    const last = await desk.list(auditor, {
      pageSize: 2,
      pageToken: second.nextPageToken,
      unacknowledgedOnly: false,
    });
    expect(last.alerts.map((a) => a.alert.principal.id)).toEqual(['stf_1']);
    expect(last.nextPageToken).toBe('');
    await expect(
      desk.list(
        { staffId: 'stf_v', role: 'VACCINATOR' },
        { pageSize: 0, pageToken: '', unacknowledgedOnly: false },
      ),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'NOT_AUDITOR' });
    await expect(
      desk.list(auditor, { pageSize: 0, pageToken: 'not-ours', unacknowledgedOnly: false }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'BAD_PAGE_TOKEN' });
  });

  it('acknowledges once, keeping the first auditor, and hides acknowledged alerts when asked', async () => {
    const store = new MemoryAlerts([1, 2].map(alert));
    const desk = deskOf(store);
    const id = alert(2).alertId;
    const acknowledged = await desk.acknowledge(auditor, id);
    expect(acknowledged).toMatchObject({ acknowledgedAt: at, acknowledgedBy: 'stf_auditor' });
    const again = await desk.acknowledge({ staffId: 'stf_other', role: 'PLATFORM_ADMIN' }, id);
    expect(again.acknowledgedBy).toBe('stf_auditor');
    const open = await desk.list(auditor, { pageSize: 0, pageToken: '', unacknowledgedOnly: true });
    expect(open.alerts.map((a) => a.alertId)).toEqual([alert(1).alertId]);
    await expect(desk.acknowledge(auditor, 'nope')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      reason: 'ALERT_NOT_FOUND',
    });
    await expect(desk.acknowledge({ staffId: 'v', role: 'VACCINATOR' }, id)).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    // Each acknowledgement of an alert is recorded, the first and the later one.
    expect(store.acknowledgements).toEqual([
      { alertId: id, by: 'stf_auditor', first: true },
      { alertId: id, by: 'stf_other', first: false },
    ]);
  });

  it('records every list an auditor makes before answering it, and no refused one', async () => {
    const recorder = new MemoryRecorder();
    const desk = deskOf(new MemoryAlerts([1, 2, 3].map(alert)), recorder);
    await desk.list(auditor, { pageSize: 2, pageToken: '', unacknowledgedOnly: true });
    await expect(
      desk.list(
        { staffId: 'stf_v', role: 'VACCINATOR' },
        {
          pageSize: 0,
          pageToken: '',
          unacknowledgedOnly: false,
        },
      ),
    ).rejects.toMatchObject({ reason: 'NOT_AUDITOR' });
    expect(recorder.reads).toEqual([
      { auditor, read: { kind: 'ListAlerts', unacknowledgedOnly: true, returned: 2 } },
    ]);
    // A list that cannot be recorded is not answered.
    const failing: QueryRecorder = {
      recordQuery: async () => {
        throw new Error('outbox unavailable');
      },
    };
    await expect(
      deskOf(new MemoryAlerts([alert(1)]), failing).list(auditor, {
        pageSize: 0,
        pageToken: '',
        unacknowledgedOnly: false,
      }),
    ).rejects.toThrow('outbox unavailable');
  });

  it('caps the page size', async () => {
    const many = Array.from({ length: MAX_ALERTS_PAGE + 5 }, (_, i) => alert(i + 1));
    const desk = deskOf(new MemoryAlerts(many));
    const page = await desk.list(auditor, {
      pageSize: 10 * MAX_ALERTS_PAGE,
      pageToken: '',
      unacknowledgedOnly: false,
    });
    expect(page.alerts).toHaveLength(MAX_ALERTS_PAGE);
    expect(page.nextPageToken).not.toBe('');
  });
});

describe('automatic response rules', () => {
  it('retries after 1 s, doubling, never more than a minute apart', () => {
    expect([1, 2, 3, 4].map(responseRetryDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(responseRetryDelayMs(30)).toBe(60_000);
  });

  it('gives up only on refusals another attempt cannot change', () => {
    expect(isFinalRefusal('NOT_FOUND')).toBe(true);
    expect(isFinalRefusal('UNAVAILABLE')).toBe(false);
    expect(isFinalRefusal('PERMISSION_DENIED')).toBe(false);
    expect(isFinalRefusal('DEADLINE_EXCEEDED')).toBe(false);
  });
});
