import { ConfigError } from '@vaxguard/config';
import { describe, expect, it } from 'vitest';
import {
  MemoryWindowStore,
  type Alert,
  type ActorKind,
  type Observation,
  type ObservedActor,
  type ReadBasis,
} from './anomaly-model';
import {
  compileAnomalyConfig,
  evaluate,
  isStale,
  isWithinWorkingHours,
  responseFor,
  type AnomalyConfigInput,
} from './anomaly-rules';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** 10:00 IST on a Monday: inside working hours. */
const MORNING = new Date('2024-03-04T04:30:00.000Z');
const at = (ms: number, from = MORNING) => new Date(from.getTime() + ms);

let serial = 0;
const unique = (prefix: string) => `${prefix}-${++serial}`;

function actor(kind: ActorKind): ObservedActor {
  const id = unique(kind.toLowerCase());
  return { kind, principalId: id, clientId: kind === 'STAFF' ? 'vaccinator-app' : id };
}

const consent = (): ReadBasis => ({ kind: 'CONSENT', grantId: unique('grant') });

function read(who: ObservedActor, when: Date, ref = unique('ben'), basis = consent()): Observation {
  return {
    kind: 'READ_GRANTED',
    actor: who,
    subject: { kind: 'BENEFICIARY', beneficiaryRef: ref },
    basis,
    occurredAt: when,
  };
}

/** A rule harness: its own store, the given thresholds, every alert raised so far. */
function harness(input: AnomalyConfigInput = {}) {
  const store = new MemoryWindowStore();
  const config = compileAnomalyConfig(input);
  const raised: Alert[] = [];
  return {
    raised,
    async observe(observation: Observation): Promise<Alert[]> {
      const alerts = await evaluate(observation, store, config);
      raised.push(...alerts);
      return alerts;
    },
    rules: () => raised.map((alert) => alert.rule),
  };
}

describe('staff reading many distinct beneficiaries', () => {
  const thresholds = { staffReadsPerHour: 5, staffReadsPerDay: 20 };

  it('stays quiet at the hourly threshold and raises HIGH just over it, suspending the reader', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    for (let i = 0; i < 5; i++) await h.observe(read(staff, at(i * MINUTE)));
    expect(h.raised).toEqual([]);
    const [alert, ...others] = await h.observe(read(staff, at(5 * MINUTE)));
    expect(others).toEqual([]);
    expect(alert).toMatchObject({
      rule: 'STAFF_READS_PER_HOUR',
      severity: 'HIGH',
      principal: { kind: 'STAFF', id: staff.principalId },
      window: { name: '1h', observed: 6, threshold: 5 },
      response: 'SUSPEND_STAFF',
    });
  });

  it('does not count the same beneficiary twice', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    const refs = Array.from({ length: 5 }, () => unique('ben'));
    for (const ref of [...refs, ...refs]) await h.observe(read(staff, at(MINUTE), ref));
    expect(h.raised).toEqual([]);
  });

  it('counts each staff member on their own', async () => {
    const h = harness(thresholds);
    for (let i = 0; i < 12; i++) await h.observe(read(actor('STAFF'), at(i * MINUTE)));
    expect(h.raised).toEqual([]);
  });

  it('catches a slow drip under the hourly threshold with the daily one', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    // 5 an hour, one every 12 minutes, never more than 5 in any hour.
    for (let i = 0; i < 20; i++) await h.observe(read(staff, at(i * 12 * MINUTE)));
    expect(h.raised).toEqual([]);
    const alerts = await h.observe(read(staff, at(20 * 12 * MINUTE)));
    expect(alerts).toMatchObject([
      { rule: 'STAFF_READS_PER_DAY', window: { name: '24h', observed: 21, threshold: 20 } },
    ]);
    expect(h.rules()).not.toContain('STAFF_READS_PER_HOUR');
  });

  it('raises one alert per rule and reader while the window lasts, then again if still over', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    for (let i = 0; i < 15; i++) await h.observe(read(staff, at(i * MINUTE)));
    expect(h.rules()).toEqual(['STAFF_READS_PER_HOUR']);
    // Just under an hour after the alert (raised at minute 5): still held.
    for (let i = 0; i < 3; i++) await h.observe(read(staff, at(64 * MINUTE + i * 100)));
    expect(h.rules()).toEqual(['STAFF_READS_PER_HOUR']);
    // An hour after it, reading on past the threshold raises it again.
    await h.observe(read(staff, at(65 * MINUTE)));
    expect(h.rules()).toEqual(['STAFF_READS_PER_HOUR', 'STAFF_READS_PER_HOUR']);
  });
});

describe('consent requests for many people', () => {
  const consentRequest = (
    who: ObservedActor,
    when: Date,
    mobileIndex = unique('mob'),
    toNobodyRegistered = false,
  ) =>
    ({
      kind: 'CONSENT_REQUESTED',
      actor: who,
      subject: { kind: 'MOBILE', mobileIndex },
      occurredAt: when,
      toNobodyRegistered,
    }) as const;

  it('raises HIGH when one staff member asks more distinct mobiles than the threshold', async () => {
    const h = harness({ consentRequestsPerHour: 3 });
    const staff = actor('STAFF');
    const mobile = unique('mob');
    for (let i = 0; i < 3; i++) await h.observe(consentRequest(staff, at(i * MINUTE)));
    await h.observe(consentRequest(staff, at(4 * MINUTE), mobile));
    await h.observe(consentRequest(staff, at(5 * MINUTE), mobile));
    expect(h.raised).toMatchObject([
      {
        rule: 'CONSENT_REQUESTS_PER_HOUR',
        severity: 'HIGH',
        window: { observed: 4, threshold: 3 },
        response: 'SUSPEND_STAFF',
      },
    ]);
  });

  it('leaves partner apps, which ask for each of their users, to the partner rate rule', async () => {
    const h = harness({ consentRequestsPerHour: 3 });
    const partner = actor('PARTNER_CLIENT');
    for (let i = 0; i < 10; i++) await h.observe(consentRequest(partner, at(i * MINUTE)));
    expect(h.raised).toEqual([]);
  });

  it('raises MEDIUM naming a partner that asks consent of more than 5 people with nothing registered in 10 minutes, without locking it', async () => {
    const h = harness();
    const partner = actor('PARTNER_CLIENT');
    const unregistered = (when: Date, mobile = unique('mob')) =>
      consentRequest(partner, when, mobile, true);
    // Registered people, however many, and the same unregistered mobile asked again.
    for (let i = 0; i < 30; i++) await h.observe(consentRequest(partner, at(i * 1_000)));
    const typo = unique('mob');
    for (let i = 0; i < 4; i++) await h.observe(unregistered(at(i * MINUTE), typo));
    for (let i = 0; i < 4; i++) await h.observe(unregistered(at(5 * MINUTE + i * 1_000)));
    expect(h.raised).toEqual([]);
    expect(await h.observe(unregistered(at(9 * MINUTE)))).toMatchObject([
      {
        rule: 'PARTNER_CONSENT_TO_UNREGISTERED',
        severity: 'MEDIUM',
        principal: { kind: 'PARTNER_CLIENT', id: partner.principalId },
        window: { name: '10m', observed: 6, threshold: 5 },
        response: 'NONE',
      },
    ]);
  });

  it('forgets unregistered mobiles after 10 minutes, and leaves staff to their own rule', async () => {
    const h = harness({ consentRequestsPerHour: 100 });
    const partner = actor('PARTNER_CLIENT');
    for (let i = 0; i < 5; i++) {
      await h.observe(consentRequest(partner, at(i * MINUTE), unique('mob'), true));
    }
    await h.observe(consentRequest(partner, at(15 * MINUTE), unique('mob'), true));
    const staff = actor('STAFF');
    for (let i = 0; i < 20; i++) {
      await h.observe(consentRequest(staff, at(i * 1_000), unique('mob'), true));
    }
    expect(h.raised).toEqual([]);
  });
});

describe('a read without a matching consent', () => {
  it.each([
    ['staff with no basis', 'STAFF', { kind: 'NONE' }, 'SUSPEND_STAFF'],
    ['staff as owner', 'STAFF', { kind: 'OWNER' }, 'SUSPEND_STAFF'],
    [
      'a partner with a grant but no grant id',
      'PARTNER_CLIENT',
      { kind: 'CONSENT', grantId: '' },
      'LOCK_PARTNER',
    ],
    ['a citizen with a consent grant', 'CITIZEN', { kind: 'CONSENT', grantId: 'g' }, 'NONE'],
    ['a service', 'SERVICE', { kind: 'NONE' }, 'NONE'],
  ] as const)('is raised HIGH for %s', async (_, kind, basis, response) => {
    const h = harness();
    const who = actor(kind);
    expect(await h.observe(read(who, MORNING, unique('ben'), basis))).toMatchObject([
      {
        rule: 'READ_WITHOUT_CONSENT',
        severity: 'HIGH',
        principal: { kind, id: who.principalId },
        response,
      },
    ]);
  });

  it('is not raised for a citizen reading their own record or staff reading with a grant', async () => {
    const h = harness();
    await h.observe(read(actor('CITIZEN'), MORNING, unique('ben'), { kind: 'OWNER' }));
    await h.observe(read(actor('STAFF'), MORNING));
    await h.observe(read(actor('PARTNER_CLIENT'), MORNING));
    expect(h.raised).toEqual([]);
  });
});

describe('a canary read', () => {
  const canaryRead = (who: ObservedActor, when: Date) =>
    ({
      kind: 'CANARY_READ',
      actor: who,
      subject: { kind: 'BENEFICIARY', beneficiaryRef: unique('canary') },
      occurredAt: when,
    }) as const;

  it('raises CRITICAL on the first read, stopping staff and partners', async () => {
    const h = harness();
    await h.observe(canaryRead(actor('STAFF'), MORNING));
    await h.observe(canaryRead(actor('PARTNER_CLIENT'), MORNING));
    await h.observe(canaryRead(actor('CITIZEN'), MORNING));
    expect(h.raised.map((a) => [a.rule, a.severity, a.response])).toEqual([
      ['CANARY_READ', 'CRITICAL', 'SUSPEND_STAFF'],
      ['CANARY_READ', 'CRITICAL', 'LOCK_PARTNER'],
      ['CANARY_READ', 'CRITICAL', 'NONE'],
    ]);
  });

  it('raises it once an hour per reader', async () => {
    const h = harness();
    const staff = actor('STAFF');
    await h.observe(canaryRead(staff, MORNING));
    await h.observe(canaryRead(staff, at(HOUR - 1)));
    await h.observe(canaryRead(staff, at(HOUR)));
    expect(h.rules()).toEqual(['CANARY_READ', 'CANARY_READ']);
  });
});

describe('OTP failure bursts per mobile', () => {
  const failure = (mobileIndex: string, client: ObservedActor, when: Date) =>
    ({
      kind: 'OTP_FAILED',
      actor: client,
      subject: { kind: 'MOBILE', mobileIndex },
      occurredAt: when,
    }) as const;

  it('raises MEDIUM just over the threshold in 15 minutes, naming the mobile and the client', async () => {
    const h = harness({ otpFailuresPer15m: 4 });
    const mobile = unique('mob');
    const client = actor('PARTNER_CLIENT');
    for (let i = 0; i < 4; i++) await h.observe(failure(mobile, client, at(i * MINUTE)));
    expect(h.raised).toEqual([]);
    expect(await h.observe(failure(mobile, client, at(4 * MINUTE)))).toMatchObject([
      {
        rule: 'OTP_FAILURE_BURST',
        severity: 'MEDIUM',
        principal: { kind: 'MOBILE', id: mobile },
        raisedBy: client,
        window: { name: '15m', observed: 5, threshold: 4 },
        response: 'NONE',
      },
    ]);
  });

  it('forgets failures once they leave the window', async () => {
    const h = harness({ otpFailuresPer15m: 4 });
    const mobile = unique('mob');
    const client = actor('PARTNER_CLIENT');
    for (let i = 0; i < 4; i++) await h.observe(failure(mobile, client, at(i * MINUTE)));
    await h.observe(failure(mobile, client, at(20 * MINUTE)));
    expect(h.raised).toEqual([]);
  });
});

describe('OTP request floods per client (SMS pumping)', () => {
  const refusal = (client: ObservedActor, when: Date, quotaPerMinute = 5) =>
    ({
      kind: 'OTP_QUOTA_REFUSED',
      actor: client,
      subject: { kind: 'MOBILE', mobileIndex: unique('mob') },
      occurredAt: when,
      quotaPerMinute,
    }) as const;
  const sent = (client: ObservedActor, when: Date) =>
    ({
      kind: 'OTP_REQUESTED',
      actor: client,
      subject: { kind: 'MOBILE', mobileIndex: unique('mob') },
      occurredAt: when,
      forConsent: false,
    }) as const;

  it('suspends a client refused for its quota more often in a minute than its quota allows codes', async () => {
    const h = harness({ otpQuotaRefusalsPerMinute: 3 });
    const client = actor('PARTNER_CLIENT');
    for (let i = 0; i < 5; i++) await h.observe(refusal(client, at(i * 1_000)));
    expect(h.raised).toEqual([]);
    expect(await h.observe(refusal(client, at(5_000)))).toMatchObject([
      {
        rule: 'OTP_REQUEST_FLOOD',
        severity: 'HIGH',
        principal: { kind: 'PARTNER_CLIENT', id: client.clientId },
        window: { name: '1m', observed: 6, threshold: 5 },
        response: 'LOCK_PARTNER',
      },
    ]);
  });

  it('waits for at least the configured number of refusals when the quota is smaller', async () => {
    const h = harness({ otpQuotaRefusalsPerMinute: 3 });
    const client = actor('PARTNER_CLIENT');
    for (let i = 0; i < 3; i++) await h.observe(refusal(client, at(i * 1_000), 1));
    expect(h.raised).toEqual([]);
    expect(await h.observe(refusal(client, at(3_000), 1))).toMatchObject([
      { rule: 'OTP_REQUEST_FLOOD', window: { observed: 4, threshold: 3 } },
    ]);
  });

  it('leaves alone a client that sends many codes within its quota, or is refused now and then', async () => {
    const h = harness({ otpQuotaRefusalsPerMinute: 3 });
    const client = actor('PARTNER_CLIENT');
    for (let i = 0; i < 300; i++) await h.observe(sent(client, at(i * 200)));
    for (let i = 0; i < 30; i++) await h.observe(refusal(client, at(i * 15_000)));
    expect(h.raised).toEqual([]);
  });
});

describe('a partner far above its usual rate', () => {
  const thresholds = { partnerSurgeMinimum: 30, partnerSurgeFactor: 10 };
  const call = (partner: ObservedActor, when: Date) =>
    ({
      kind: 'READ_DENIED',
      actor: partner,
      subject: undefined,
      occurredAt: when,
    }) as const;
  const quietDenials = { deniedReadsPer10m: 10_000 };

  it('with no history, fires only past the minimum volume in 10 minutes', async () => {
    const h = harness({ ...thresholds, ...quietDenials });
    const partner = actor('PARTNER_CLIENT');
    for (let i = 0; i < 30; i++) await h.observe(call(partner, at(i * 1_000)));
    expect(h.raised).toEqual([]);
    expect(await h.observe(call(partner, at(30_000)))).toMatchObject([
      {
        rule: 'PARTNER_RATE_SURGE',
        severity: 'HIGH',
        window: { name: '10m', observed: 31, threshold: 30, usual: 0 },
        response: 'LOCK_PARTNER',
      },
    ]);
  });

  it('fires past 10 times its 24-hour average per 10 minutes', async () => {
    const h = harness({ ...thresholds, ...quietDenials });
    const partner = actor('PARTNER_CLIENT');
    const now = at(24 * HOUR);
    // 715 calls over the previous day, 10 minutes left out: usually 5 per 10 minutes.
    for (let i = 0; i < 715; i++) {
      await h.observe(call(partner, at(30 * MINUTE + i * ((23 * HOUR - 20 * MINUTE) / 715))));
    }
    for (let i = 0; i < 50; i++) await h.observe(call(partner, at(-8 * MINUTE + i * 1_000, now)));
    expect(h.raised).toEqual([]);
    expect(await h.observe(call(partner, now))).toMatchObject([
      { rule: 'PARTNER_RATE_SURGE', window: { observed: 51, threshold: 50, usual: 5 } },
    ]);
  });

  it('fires on the first call past its threshold, counting a consent request once (not again for its code) and every refusal', async () => {
    const h = harness({ ...thresholds, ...quietDenials, otpQuotaRefusalsPerMinute: 1_000 });
    const partner = actor('PARTNER_CLIENT');
    const mobile = () => ({ kind: 'MOBILE', mobileIndex: unique('mob') }) as const;
    const base = (when: Date) => ({ actor: partner, subject: mobile(), occurredAt: when });
    const consentRequest = (when: Date) =>
      ({ ...base(when), kind: 'CONSENT_REQUESTED', toNobodyRegistered: false }) as const;
    const consentCode = (when: Date) =>
      ({ ...base(when), kind: 'OTP_REQUESTED', forConsent: true }) as const;
    const quotaRefusal = (when: Date) =>
      ({ ...base(when), kind: 'OTP_QUOTA_REFUSED', quotaPerMinute: 5 }) as const;
    // 10 consent requests that each sent a code, 10 refused by identity's consent quota
    // (no code), 10 citizen sign-ins refused by the OTP quota: 30 calls, 40 events.
    for (let i = 0; i < 10; i++) {
      await h.observe(consentRequest(at(i * 1_000)));
      await h.observe(consentCode(at(i * 1_000 + 10)));
      await h.observe(consentRequest(at(i * 1_000 + 20)));
      await h.observe(quotaRefusal(at(i * 1_000 + 30)));
    }
    expect(h.raised).toEqual([]);
    expect(await h.observe(quotaRefusal(at(20_000)))).toMatchObject([
      { rule: 'PARTNER_RATE_SURGE', window: { observed: 31, threshold: 30 } },
    ]);
  });

  it('does not judge staff or citizens by it', async () => {
    const h = harness({ ...thresholds, ...quietDenials });
    const staff = actor('STAFF');
    for (let i = 0; i < 40; i++) await h.observe(call(staff, at(i * 1_000)));
    expect(h.raised).toEqual([]);
  });
});

describe('spikes of refused reads per principal', () => {
  const denied = (who: ObservedActor, when: Date) =>
    ({
      kind: 'READ_DENIED',
      actor: who,
      subject: { kind: 'BENEFICIARY', beneficiaryRef: unique('ben') },
      occurredAt: when,
    }) as const;

  it.each([
    ['STAFF', 'SUSPEND_STAFF'],
    ['CITIZEN', 'NONE'],
  ] as const)(
    'raises HIGH for %s just over the threshold in 10 minutes',
    async (kind, response) => {
      const h = harness({ deniedReadsPer10m: 4 });
      const who = actor(kind);
      for (let i = 0; i < 4; i++) await h.observe(denied(who, at(i * MINUTE)));
      expect(h.raised).toEqual([]);
      expect(await h.observe(denied(who, at(4 * MINUTE)))).toMatchObject([
        {
          rule: 'DENIED_READS_SPIKE',
          severity: 'HIGH',
          window: { name: '10m', observed: 5, threshold: 4 },
          response,
        },
      ]);
    },
  );
});

describe('bulk reads outside working hours (IST)', () => {
  const thresholds = { offHoursReadsPerHour: 3 };
  /** 19:56 IST, four minutes before the end of working hours. */
  const EVENING = new Date('2024-03-04T14:26:00.000Z');
  /** 07:56 IST, four minutes before the start. */
  const EARLY = new Date('2024-03-04T02:26:00.000Z');

  it('ignores reads up to 19:59 IST and counts them from 20:00 IST', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    for (let i = 0; i < 4; i++) await h.observe(read(staff, at(i * MINUTE, EVENING)));
    expect(h.raised).toEqual([]);
    for (let i = 4; i < 7; i++) await h.observe(read(staff, at(i * MINUTE, EVENING)));
    expect(h.raised).toEqual([]);
    expect(await h.observe(read(staff, at(7 * MINUTE, EVENING)))).toMatchObject([
      {
        rule: 'OFF_HOURS_READS',
        severity: 'HIGH',
        window: { observed: 4, threshold: 3 },
        response: 'SUSPEND_STAFF',
      },
    ]);
  });

  it('counts reads up to 07:59 IST and ignores them from 08:00 IST', async () => {
    const early = harness(thresholds);
    const staff = actor('STAFF');
    for (let i = 0; i < 3; i++) await early.observe(read(staff, at(i * MINUTE, EARLY)));
    expect(early.rules()).toEqual([]);
    await early.observe(read(staff, at(3 * MINUTE + 59_999, EARLY)));
    expect(early.rules()).toEqual(['OFF_HOURS_READS']);

    const onTime = harness(thresholds);
    const other = actor('STAFF');
    for (let i = 0; i < 3; i++) await onTime.observe(read(other, at(i * MINUTE, EARLY)));
    await onTime.observe(read(other, at(4 * MINUTE, EARLY)));
    expect(onTime.rules()).toEqual([]);
  });

  it('reads the working hours as IST wall-clock times, spanning midnight when asked', () => {
    const day = compileAnomalyConfig().workingHours;
    expect(isWithinWorkingHours(new Date('2024-03-04T02:29:59.999Z'), day)).toBe(false);
    expect(isWithinWorkingHours(new Date('2024-03-04T02:30:00.000Z'), day)).toBe(true);
    expect(isWithinWorkingHours(new Date('2024-03-04T14:29:59.999Z'), day)).toBe(true);
    expect(isWithinWorkingHours(new Date('2024-03-04T14:30:00.000Z'), day)).toBe(false);
    const night = compileAnomalyConfig({
      workingHours: { start: '22:00', end: '06:00' },
    }).workingHours;
    expect(isWithinWorkingHours(new Date('2024-03-04T18:30:00.000Z'), night)).toBe(true); // 00:00 IST
    expect(isWithinWorkingHours(new Date('2024-03-04T00:29:59.999Z'), night)).toBe(true); // 05:59
    expect(isWithinWorkingHours(new Date('2024-03-04T00:30:00.000Z'), night)).toBe(false); // 06:00
    expect(isWithinWorkingHours(new Date('2024-03-04T16:29:59.999Z'), night)).toBe(false); // 21:59
  });
});

describe('secret codes guessed across beneficiaries', () => {
  const thresholds = { secretCodeFailuresPerHour: 3, secretCodeLocksPerHour: 1 };
  const MAX_FAILURES = 5;
  const guess = (
    kind: 'SECRET_CODE_FAILED' | 'SECRET_CODE_LOCKED',
    who: ObservedActor,
    when: Date,
    beneficiaryRef: string,
  ): Observation => ({
    kind,
    actor: who,
    subject: { kind: 'BENEFICIARY', beneficiaryRef },
    occurredAt: when,
  });
  /** Wrong codes at one beneficiary, as identity reports them: the 5th also locks it. */
  async function guessAt(
    h: ReturnType<typeof harness>,
    who: ObservedActor,
    when: Date,
    tries: number,
    ref = unique('ben'),
  ): Promise<Alert[]> {
    const alerts: Alert[] = [];
    for (let i = 1; i <= tries; i++) {
      alerts.push(...(await h.observe(guess('SECRET_CODE_FAILED', who, when, ref))));
      if (i === MAX_FAILURES) {
        alerts.push(...(await h.observe(guess('SECRET_CODE_LOCKED', who, when, ref))));
      }
    }
    return alerts;
  }

  it('raises MEDIUM on one locked code, naming the staff member, without suspending them', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    expect(await guessAt(h, staff, MORNING, MAX_FAILURES)).toMatchObject([
      {
        rule: 'SECRET_CODE_LOCKED',
        severity: 'MEDIUM',
        principal: { kind: 'STAFF', id: staff.principalId },
        raisedBy: staff,
        response: 'NONE',
      },
    ]);
  });

  it('suspends a staff member whose guesses lock a second code within the hour', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    await guessAt(h, staff, MORNING, MAX_FAILURES);
    const alerts = await guessAt(h, staff, at(59 * MINUTE), MAX_FAILURES);
    expect(alerts).toMatchObject([
      {
        rule: 'SECRET_CODE_LOCKS_PER_HOUR',
        severity: 'HIGH',
        principal: { kind: 'STAFF', id: staff.principalId },
        window: { name: '1h', observed: 2, threshold: 1 },
        response: 'SUSPEND_STAFF',
      },
    ]);
  });

  it('suspends a staff member who stops short of each lock but fails at too many beneficiaries', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    for (let i = 0; i < 3; i++) await guessAt(h, staff, at(i * MINUTE), MAX_FAILURES - 1);
    expect(h.raised).toEqual([]);
    const [alert, ...others] = await guessAt(h, staff, at(3 * MINUTE), 1);
    expect(others).toEqual([]);
    expect(alert).toMatchObject({
      rule: 'SECRET_CODE_FAILURES_PER_HOUR',
      severity: 'HIGH',
      window: { name: '1h', observed: 4, threshold: 3 },
      response: 'SUSPEND_STAFF',
    });
  });

  it('leaves alone honest mistakes: a few beneficiaries an hour, or locks hours apart', async () => {
    const h = harness(thresholds);
    const staff = actor('STAFF');
    const muddled = unique('ben');
    // Many wrong tries at one beneficiary count once.
    await guessAt(h, staff, MORNING, MAX_FAILURES - 1, muddled);
    for (let i = 0; i < 2; i++) await guessAt(h, staff, at(i * MINUTE), 2);
    await guessAt(h, staff, at(2 * MINUTE), 1, muddled);
    expect(h.raised).toEqual([]);
    // Two locks an hour apart: an alert each, nobody suspended.
    const other = actor('STAFF');
    await guessAt(h, other, MORNING, MAX_FAILURES);
    await guessAt(h, other, at(HOUR + MINUTE), MAX_FAILURES);
    expect(h.raised.map((alert) => [alert.rule, alert.response])).toEqual([
      ['SECRET_CODE_LOCKED', 'NONE'],
      ['SECRET_CODE_LOCKED', 'NONE'],
    ]);
  });

  it('counts each staff member on their own', async () => {
    const h = harness(thresholds);
    for (let i = 0; i < 6; i++) await guessAt(h, actor('STAFF'), at(i * MINUTE), MAX_FAILURES - 1);
    expect(h.raised).toEqual([]);
  });
});

describe('the automatic response', () => {
  it('is asked for only by HIGH and CRITICAL alerts against staff or partners', () => {
    const staff = { kind: 'STAFF', id: 's' } as const;
    const partner = { kind: 'PARTNER_CLIENT', id: 'p' } as const;
    expect(responseFor('LOW', staff)).toBe('NONE');
    expect(responseFor('MEDIUM', partner)).toBe('NONE');
    expect(responseFor('HIGH', staff)).toBe('SUSPEND_STAFF');
    expect(responseFor('CRITICAL', partner)).toBe('LOCK_PARTNER');
    expect(responseFor('CRITICAL', { kind: 'MOBILE', id: 'm' })).toBe('NONE');
    expect(responseFor('CRITICAL', { kind: 'SERVICE', id: 'otp' })).toBe('NONE');
  });
});

describe('the thresholds', () => {
  it('compile from the defaults', () => {
    expect(compileAnomalyConfig().workingHours).toEqual({
      startMinute: 8 * 60,
      endMinute: 20 * 60,
    });
  });

  it('report every bad value together', () => {
    let caught: unknown;
    try {
      compileAnomalyConfig({
        staffReadsPerHour: 0,
        otpFailuresPer15m: 2.5,
        partnerSurgeFactor: 1,
        workingHours: { start: '8am', end: '20:00' },
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    expect(problems).toMatch(/staffReadsPerHour/);
    expect(problems).toMatch(/otpFailuresPer15m/);
    expect(problems).toMatch(/partnerSurgeFactor/);
    expect(problems).toMatch(/workingHours/);
  });

  it.each([
    [{ staffReadsPerHour: 50, staffReadsPerDay: 50 }],
    [{ staffReadsPerHour: 10, staffReadsPerDay: 240 }],
  ])('refuse a daily limit that cannot catch a drip: %o', (input) => {
    expect(() => compileAnomalyConfig(input)).toThrow(/staffReadsPerDay/);
  });

  it('refuse working hours that start when they end', () => {
    expect(() => compileAnomalyConfig({ workingHours: { start: '09:00', end: '09:00' } })).toThrow(
      ConfigError,
    );
  });
});

describe('observations that arrive late', () => {
  it('evaluates one from within the last day, and not one older than every window', () => {
    const now = new Date('2026-03-02T06:00:00Z');
    const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000);
    expect(isStale(hoursAgo(23), now)).toBe(false);
    expect(isStale(hoursAgo(25), now)).toBe(true);
    // From a clock a little ahead of ours: not stale.
    expect(isStale(new Date(now.getTime() + 1_000), now)).toBe(false);
  });
});

describe('staff sign-ins: locked accounts and password spraying', () => {
  const failedAt = (
    client: ObservedActor,
    when: Date,
    subject: Extract<Observation, { kind: 'STAFF_LOGIN_FAILED' }>['subject'],
  ): Observation => ({ kind: 'STAFF_LOGIN_FAILED', actor: client, subject, occurredAt: when });
  const unknownUsername = () => ({ kind: 'STAFF_USERNAME' as const, usernameIndex: unique('idx') });

  it('raises MEDIUM on a locked account, naming the account and the client, suspending nobody', async () => {
    const h = harness();
    const portal = actor('PARTNER_CLIENT');
    const alerts = await h.observe({
      kind: 'STAFF_LOGIN_LOCKED',
      actor: portal,
      subject: { kind: 'STAFF', staffId: 'stf-target' },
      occurredAt: MORNING,
    });
    expect(alerts).toMatchObject([
      {
        rule: 'STAFF_LOGIN_LOCKED',
        severity: 'MEDIUM',
        principal: { kind: 'STAFF', id: 'stf-target' },
        raisedBy: portal,
        response: 'NONE',
      },
    ]);
  });

  it('raises MEDIUM against a client failing at too many usernames in 10 minutes, without suspending it', async () => {
    const h = harness({ staffLoginFailedUsernamesPer10m: 3 });
    const portal = actor('PARTNER_CLIENT');
    await h.observe(failedAt(portal, MORNING, { kind: 'STAFF', staffId: unique('stf') }));
    for (let i = 1; i < 3; i++)
      await h.observe(failedAt(portal, at(i * MINUTE), unknownUsername()));
    expect(h.raised).toEqual([]);
    expect(await h.observe(failedAt(portal, at(9 * MINUTE), unknownUsername()))).toMatchObject([
      {
        rule: 'STAFF_LOGIN_SPRAYING',
        severity: 'MEDIUM',
        principal: { kind: 'PARTNER_CLIENT', id: portal.principalId },
        window: { name: '10m', observed: 4, threshold: 3 },
        response: 'NONE',
      },
    ]);
  });

  it('counts one account failing again and again once, and forgets failures older than 10 minutes', async () => {
    const h = harness({ staffLoginFailedUsernamesPer10m: 3 });
    const portal = actor('PARTNER_CLIENT');
    const typist = { kind: 'STAFF' as const, staffId: unique('stf') };
    for (let i = 0; i < 9; i++) await h.observe(failedAt(portal, at(i * 1000), typist));
    for (let i = 0; i < 2; i++) await h.observe(failedAt(portal, MORNING, unknownUsername()));
    expect(h.raised).toEqual([]);
    await h.observe(failedAt(portal, at(11 * MINUTE), unknownUsername()));
    expect(h.raised).toEqual([]);
  });
});
