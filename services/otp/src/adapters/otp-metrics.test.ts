import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '@vaxguard/metrics';
import type { OtpEvent } from '../domain/model';
import { OtpMetrics } from './otp-metrics';

const base = { clientId: 'portal', occurredAt: new Date(0), mobileIndex: 'idx', txnId: 't' };

describe('the OTP counters', () => {
  it('count the committed events by purpose and reason, and never a mobile', async () => {
    const registry = createMetricsRegistry('otp');
    const metrics = new OtpMetrics(registry);
    const events: OtpEvent[] = [
      {
        ...base,
        type: 'otp.requested',
        purpose: 'CONSENT',
        sendNumber: 1,
        expiresAt: new Date(0),
      },
      {
        ...base,
        type: 'otp.failed',
        purpose: 'CONSENT',
        reason: 'WRONG_CODE',
        attemptsLeft: 2,
        consecutiveFailures: 1,
      },
      { ...base, type: 'otp.locked', consecutiveFailures: 100, lockedUntil: new Date(0) },
    ];
    metrics.committed(events);
    const text = await registry.metrics();
    expect(text).toContain('vaxguard_otp_sent_total{purpose="CONSENT",service="otp"} 1');
    expect(text).toContain(
      'vaxguard_otp_failed_confirmations_total{reason="WRONG_CODE",service="otp"} 1',
    );
    expect(text).toContain('vaxguard_otp_lockouts_total{service="otp"} 1');
    expect(text).not.toContain('idx');
  });
});
