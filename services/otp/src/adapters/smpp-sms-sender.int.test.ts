// The SMPP sender against a real SMS centre: jSMPP (a Java SMPP 3.4 implementation, not
// this service's code nor its SMPP library) playing the operator, started for the test
// (tools/smsc, built by `bash tools/dev/ensure-prereqs.sh smsc`), and delivery records in
// a real PostgreSQL. The OTP flow on top is the domain's own (OtpService) with in-memory
// transactions, so what a caller is answered is checked along with what the centre saw.
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { createPool, migrate, type Pool } from '@vaxguard/db';
import { isVaxGuardError, type VaxGuardError } from '@vaxguard/errors';
import { mobileBlindIndex } from '@vaxguard/pii';
import { eventually, leaks, startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSigner, InMemoryOtpStore, ManualClock } from '../domain/fakes';
import { DEFAULT_OTP_SMS_TEXT, otpSmsText, RESEND_COOLDOWN_MS } from '../domain/otp-rules';
import { OtpService } from '../domain/otp-service';
import { otpMigrations } from '../migrations';
import { startTestSmsc, testSmscDir, type SmscSubmit, type TestSmsc } from '../test-smsc';
import { PgSmsDeliveries } from './pg-sms-deliveries';
import { SmppSmsSender, type SmppSenderOptions } from './smpp-sms-sender';

const SYSTEM_ID = 'vaxguard';
const PASSWORD = 'secret12';
const SENDER_ID = 'VAXGRD';
const PE_ID = '1101234567890123456';
const TEMPLATE_ID = '1107161234567890123';
const portal = { clientId: 'portal' };

describe('SMPP sender against a jSMPP SMS centre', () => {
  const logs = new MemoryLogSink();
  const logger = createLogger({ service: 'otp', sink: logs, level: 'debug' });
  const clock = new ManualClock(new Date());
  const senders: SmppSmsSender[] = [];
  let postgres: PostgresFixture;
  let pool: Pool;
  let smsc: TestSmsc;
  let deliveries: PgSmsDeliveries;
  /** Every mobile and code of the run, for the leak scan. */
  const mobiles: string[] = [];
  const codes: string[] = [];

  let mobileCounter = 0;
  function freshMobile(): string {
    const mobile = `97${String(3_000_000 + mobileCounter++).padStart(8, '0')}`;
    mobiles.push(mobile);
    return mobile;
  }

  let codeCounter = 0;
  function nextCode(): string {
    const code = String(400_000 + ((codeCounter++ * 7_919) % 500_000)).padStart(6, '0');
    codes.push(code);
    return code;
  }

  /** A sender bound to the test centre (waits for the bind), stopped after the file. */
  async function boundSender(options: Partial<SmppSenderOptions> = {}): Promise<SmppSmsSender> {
    const sender = new SmppSmsSender({
      host: '127.0.0.1',
      port: smsc.port,
      systemId: SYSTEM_ID,
      password: PASSWORD,
      systemType: '',
      senderId: SENDER_ID,
      principalEntityId: PE_ID,
      contentTemplateId: TEMPLATE_ID,
      messageText: DEFAULT_OTP_SMS_TEXT,
      window: 10,
      maxSubmitsPerSecond: 100,
      enquireLinkMs: 30_000,
      submitTimeoutMs: 5_000,
      records: deliveries,
      logger: logger.child({ component: 'smpp' }),
      clock: clock.now,
      ...options,
    });
    senders.push(sender);
    sender.start();
    await eventually(() => expect(sender.state().bound).toBe(true));
    return sender;
  }

  /** The domain's OTP flow sending through `sender`, with codes the test knows. */
  function otpServiceOver(sender: SmppSmsSender): OtpService {
    return new OtpService({
      store: new InMemoryOtpStore(),
      delivery: sender,
      signer: new FakeSigner(),
      clock: clock.now,
      codeHashKey: Buffer.alloc(32, 3),
      indexMobile: (mobile) => mobileBlindIndex(Buffer.alloc(32, 4), mobile),
      generateCode: nextCode,
    });
  }

  const submitsOf = (mobile: string): SmscSubmit[] =>
    smsc.submits().filter((submit) => submit.destAddr === `91${mobile}`);

  async function refusal(promise: Promise<unknown>): Promise<VaxGuardError> {
    try {
      await promise;
    } catch (error) {
      if (isVaxGuardError(error)) return error;
      throw error;
    }
    throw new Error('expected a refusal');
  }

  beforeAll(async () => {
    [postgres, smsc] = await Promise.all([
      startPostgres(),
      startTestSmsc(testSmscDir(process.env['VAXGUARD_CACHE_DIR']), SYSTEM_ID, PASSWORD),
    ]);
    pool = createPool({ connectionString: postgres.url, applicationName: 'otp-smpp-test', logger });
    await migrate(pool, otpMigrations, logger);
    deliveries = new PgSmsDeliveries(pool);
  });

  afterAll(async () => {
    for (const sender of senders) await sender.stop().catch(() => undefined);
    await smsc?.stop();
    await pool?.end();
    await postgres?.stop();
  });

  it('delivers a code: the centre sees the sender header, the number, the DLT entity and template TLVs and the text; the receipt is recorded', async () => {
    const sender = await boundSender();
    const service = otpServiceOver(sender);
    const mobile = freshMobile();
    const { txnId } = await service.generate(portal, { mobile, purpose: 'CITIZEN_LOGIN' });

    const [submit, ...more] = submitsOf(mobile);
    expect(more).toEqual([]);
    expect(submit).toMatchObject({
      status: 'ESME_ROK',
      sourceAddr: SENDER_ID,
      sourceAddrTon: 5,
      destAddr: `91${mobile}`,
      registeredDelivery: 1,
      dataCoding: 0,
      text: otpSmsText(DEFAULT_OTP_SMS_TEXT, codes.at(-1) ?? ''),
      tlvs: { '1400': PE_ID, '1401': TEMPLATE_ID },
    });
    expect(smsc.events.find((event) => event.event === 'bound')).toMatchObject({
      bindType: 'BIND_TRX',
      systemId: SYSTEM_ID,
    });

    // The centre's receipt comes back on the same session and lands on the record.
    const [record] = await eventually(async () => {
      const records = await deliveries.forTransaction(txnId);
      expect(records).toMatchObject([{ messageId: submit?.messageId, receiptState: 'DELIVRD' }]);
      return records;
    });
    expect(record).toMatchObject({ txnId, receiptError: '000' });
  });

  it('a throttled submit is sent again after a back-off and delivered once', async () => {
    const sender = await boundSender();
    const service = otpServiceOver(sender);
    const mobile = freshMobile();
    await smsc.command('throttle 2');
    const { txnId } = await service.generate(portal, { mobile, purpose: 'CITIZEN_LOGIN' });

    expect(submitsOf(mobile).map((submit) => submit.status)).toEqual([
      'ESME_RTHROTTLED',
      'ESME_RTHROTTLED',
      'ESME_ROK',
    ]);
    // The same message each time: throttled submits were refused whole, not taken.
    expect(new Set(submitsOf(mobile).map((submit) => submit.text)).size).toBe(1);
    await eventually(async () =>
      expect(await deliveries.forTransaction(txnId)).toMatchObject([{ receiptState: 'DELIVRD' }]),
    );
  });

  it('a centre that keeps throttling past the submit time: UNAVAILABLE, nothing sent, the caller may try again', async () => {
    const sender = await boundSender({ submitTimeoutMs: 1_000 });
    const service = otpServiceOver(sender);
    const mobile = freshMobile();
    await smsc.command('throttle 1000');
    try {
      const error = await refusal(service.generate(portal, { mobile, purpose: 'CITIZEN_LOGIN' }));
      expect([error.code, error.reason]).toEqual(['UNAVAILABLE', 'OTP_DELIVERY_FAILED']);
      expect(submitsOf(mobile).every((submit) => submit.status === 'ESME_RTHROTTLED')).toBe(true);
    } finally {
      await smsc.command('throttle 0');
    }
  });

  it('an invalid destination is refused for good: INVALID_ARGUMENT naming the rule, tried once, nothing of the number in the answer', async () => {
    const sender = await boundSender();
    const service = otpServiceOver(sender);
    const mobile = freshMobile();
    await smsc.command(`reject-dest 91${mobile}`);

    const error = await refusal(service.generate(portal, { mobile, purpose: 'CITIZEN_LOGIN' }));
    expect([error.code, error.reason]).toEqual(['INVALID_ARGUMENT', 'OTP_DESTINATION_REFUSED']);
    expect(leaks(error.message, [mobile, mobile.slice(-4)], codes)).toEqual([]);
    expect(submitsOf(mobile).map((submit) => submit.status)).toEqual(['ESME_RINVDSTADR']);
  });

  it('the line dropped mid-send: the unanswered code is not sent twice, the one waiting goes once over the new session, a resend recovers the first', async () => {
    // One submit in flight at a time, so the second waits behind the first.
    const sender = await boundSender({ window: 1 });
    const service = otpServiceOver(sender);
    const [first, second] = [freshMobile(), freshMobile()];
    const bindsBefore = smsc.events.filter((event) => event.event === 'bound').length;
    await smsc.command('drop-next');

    const firstSent = service.generate(portal, { mobile: first, purpose: 'CITIZEN_LOGIN' });
    await eventually(() => expect(submitsOf(first)).toHaveLength(1));
    const secondSent = service.generate(portal, { mobile: second, purpose: 'CITIZEN_LOGIN' });
    const [firstTxn, secondTxn] = await Promise.all([firstSent, secondSent]);

    // The first went out and was never answered: it may be on its way, so not resent;
    // the caller has its transaction. The second was never on the lost line: it went
    // once, over the session bound again.
    expect(submitsOf(first).map((submit) => submit.status)).toEqual(['DROPPED']);
    expect(submitsOf(second).map((submit) => submit.status)).toEqual(['ESME_ROK']);
    expect(smsc.events.filter((event) => event.event === 'bound').length).toBe(bindsBefore + 1);
    await eventually(async () =>
      expect(await deliveries.forTransaction(secondTxn.txnId)).toMatchObject([
        { receiptState: 'DELIVRD' },
      ]),
    );
    expect(await deliveries.forTransaction(firstTxn.txnId)).toEqual([]);

    // The user who got nothing resends after the cooldown: a new code, delivered once.
    clock.advance(RESEND_COOLDOWN_MS);
    await service.resend(portal, firstTxn.txnId);
    expect(submitsOf(first).map((submit) => submit.status)).toEqual(['DROPPED', 'ESME_ROK']);
    const [dropped, resent] = submitsOf(first);
    expect(resent?.text).not.toBe(dropped?.text);
    // Every code was submitted once and no more.
    const texts = smsc
      .submits()
      .filter((s) => s.status !== 'ESME_RTHROTTLED')
      .map((s) => s.text);
    expect(new Set(texts).size).toBe(texts.length);
  });

  it('keeps the session with enquire_link; a centre that stops answering is left, and bound again once it answers', async () => {
    const sender = await boundSender({ enquireLinkMs: 300 });
    const from = smsc.events.length;
    await smsc.waitFor((event) => event.event === 'enquire_link', from);
    const bindsBefore = smsc.events.filter((event) => event.event === 'bound').length;

    // Frozen: the connection stays open and nothing answers, neither enquire_link nor a
    // new bind (the kernel still accepts the connection).
    smsc.pause();
    try {
      await eventually(() => expect(sender.state().bound).toBe(false));
    } finally {
      smsc.resume();
    }
    expect(logs.records().map((record) => record['msg'])).toContain(
      'SMS centre did not answer enquire_link; reconnecting',
    );
    await eventually(() => expect(sender.state().bound).toBe(true));
    expect(smsc.events.filter((event) => event.event === 'bound').length).toBeGreaterThan(
      bindsBefore,
    );
    const mobile = freshMobile();
    await otpServiceOver(sender).generate(portal, { mobile, purpose: 'CITIZEN_LOGIN' });
    expect(submitsOf(mobile).map((submit) => submit.status)).toEqual(['ESME_ROK']);
    await sender.stop();
  });

  it('leaks no mobile number and no code into any log line of the run', () => {
    expect(mobiles.length).toBeGreaterThan(0);
    expect(logs.lines.length).toBeGreaterThan(0);
    const partials = mobiles.map((mobile) => `91${mobile}`);
    expect(leaks(logs.text(), [...mobiles, ...partials], codes)).toEqual([]);
    // The scan looked for what was there: the centre saw every number and the codes.
    expect(smsc.submits().map((submit) => submit.destAddr)).toEqual(
      expect.arrayContaining(partials),
    );
  });
});
