import { Counter, type Registry } from '@vaxguard/metrics';
import type { OtpEvent } from '../domain/model';

/**
 * The OTP flow's counters, from the events of transactions that committed (PgOtpStore's
 * `onCommitted`): a send, confirmation or lockout rolled back is never counted. Labels
 * are the purpose and a failure's reason, names from the domain, never a mobile's index.
 */
export class OtpMetrics {
  private readonly sent: Counter<'purpose'>;
  private readonly confirmed: Counter<'purpose'>;
  private readonly failed: Counter<'reason'>;
  private readonly lockouts: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sent = new Counter({
      name: 'vaxguard_otp_sent_total',
      help: 'Codes sent (first sends and resends), by purpose.',
      labelNames: ['purpose'],
      registers,
    });
    this.confirmed = new Counter({
      name: 'vaxguard_otp_confirmed_total',
      help: 'Codes confirmed (a token issued), by purpose.',
      labelNames: ['purpose'],
      registers,
    });
    this.failed = new Counter({
      name: 'vaxguard_otp_failed_confirmations_total',
      help: 'Confirmations refused, by reason (wrong code, expired, attempts exhausted...).',
      labelNames: ['reason'],
      registers,
    });
    this.lockouts = new Counter({
      name: 'vaxguard_otp_lockouts_total',
      help: 'Mobiles locked out after too many failed confirmations.',
      registers,
    });
  }

  committed(events: readonly OtpEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'otp.requested':
          this.sent.inc({ purpose: event.purpose });
          break;
        case 'otp.confirmed':
          this.confirmed.inc({ purpose: event.purpose });
          break;
        case 'otp.failed':
          this.failed.inc({ reason: event.reason });
          break;
        case 'otp.locked':
          this.lockouts.inc();
          break;
        default:
          break;
      }
    }
  }
}
