import { appendDevSms } from '@vaxguard/dev-sms';
import { maskMobile } from '@vaxguard/pii';
import type { OtpDelivery, OtpMessage } from '../domain/model';

/**
 * The development SMS adapter: writes each message to the local inbox file that tests,
 * the demo and the CLI read (`@vaxguard/dev-sms`), with the mobile masked. Enabled only
 * by development configuration.
 */
export class DevSmsSink implements OtpDelivery {
  constructor(private readonly file: string) {}

  async deliver(message: OtpMessage): Promise<void> {
    await appendDevSms(this.file, {
      txnId: message.txnId,
      to: maskMobile(message.mobile),
      code: message.code,
      purpose: message.purpose,
      expiresAt: message.expiresAt.toISOString(),
    });
  }
}
