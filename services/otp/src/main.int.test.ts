import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otpV1 } from '@vaxguard/proto';
import { otpServiceKeys } from '@vaxguard/auth';
import { createServiceClient } from '@vaxguard/grpc-kit';
import {
  checkHealth,
  eventually,
  leaks,
  outcomeOf,
  spawnService,
  startKafka,
  startPostgres,
  testClient,
  type KafkaFixture,
  type PostgresFixture,
  type ServiceProcess,
} from '@vaxguard/testing';
import { AUDIENCE, JwksCache, RevocationSet, TOKEN_ISSUER, TokenVerifier } from '@vaxguard/tokens';
import { readAllDevSms, readDevSms } from '@vaxguard/dev-sms';
import { startTestSmsc, testSmscDir } from './test-smsc';
import { otpTestClient, type OtpTestClient } from './test-support';

const CITIZEN = otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN;
const CLIENT_QUOTA = 6;

/**
 * Two processes of the built service (dist/main.js, the real composition root) started
 * at once against one database: they share one signing key, one set of transactions
 * and one set of quotas, enforced atomically in PostgreSQL under concurrent load.
 */
describe('OTP service processes: two instances, one database', () => {
  const portal = testClient('cowin-portal');
  const umang = testClient('umang');
  const aarogya = testClient('aarogya-setu');
  const umangWeb = testClient('umang-web');
  const mobilesUsed = new Set<string>();
  let postgres: PostgresFixture;
  let kafka: KafkaFixture;
  let dir: string;
  let instances: ServiceProcess[] = [];
  const clients: { close(): void }[] = [];

  function client(
    instance: number,
    credential: { clientId: string; secret: string },
  ): OtpTestClient {
    const created = otpTestClient(
      instances[instance]?.address ?? '',
      credential.clientId,
      credential.secret,
    );
    clients.push(created);
    return created;
  }
  const sinkOf = (instance: number) => join(dir, `sms-${instance}.jsonl`);

  beforeAll(async () => {
    [postgres, kafka] = await Promise.all([startPostgres(), startKafka()]);
    dir = await mkdtemp(join(tmpdir(), 'otp-proc-'));
    const env = (instance: number) => ({
      DATABASE_URL: postgres.url,
      KAFKA_BROKERS: kafka.brokers.join(','),
      CLIENT_CREDENTIALS: [portal, umang, aarogya, umangWeb].map((c) => c.credential).join(','),
      LOG_LEVEL: 'debug',
      OTP_HASH_KEY: Buffer.alloc(32, 21).toString('base64'),
      MOBILE_INDEX_KEY: Buffer.alloc(32, 22).toString('base64'),
      OTP_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 23).toString('base64'),
      OTP_SMS_DELIVERY: 'dev-sink',
      OTP_DEV_SMS_SINK: sinkOf(instance),
      OTP_CLIENT_QUOTA_PER_MINUTE: String(CLIENT_QUOTA),
    });
    const started = await Promise.allSettled([
      spawnService({ entry: 'services/otp/dist/main.js', env: env(0) }),
      spawnService({ entry: 'services/otp/dist/main.js', env: env(1) }),
    ]);
    instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const instance of instances) await instance.stop('SIGKILL');
    await kafka?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('both report SERVING and publish the same single signing key', async () => {
    for (const instance of instances) {
      expect(await checkHealth(instance.address)).toBe('SERVING');
      expect(await checkHealth(instance.address, 'vaxguard.otp.v1.OtpService')).toBe('SERVING');
    }
    const [a, b] = await Promise.all([
      client(0, portal).signingKeys(),
      client(1, portal).signingKeys(),
    ]);
    expect(a.keys).toHaveLength(1);
    expect(b.keys).toEqual(a.keys);
  });

  it('a transaction started on one instance is confirmed on the other; the token verifies', async () => {
    const mobile = '9123400000';
    mobilesUsed.add(mobile);
    const { txnId } = await client(0, portal).generate({ mobile, purpose: CITIZEN });
    const sms = await readDevSms(sinkOf(0), txnId);
    const onB = client(1, portal);
    const { token } = await onB.confirm(txnId, sms?.code ?? '');
    const keys = createServiceClient(otpV1.OtpServiceService, {
      address: instances[1]?.address ?? '',
      clientId: portal.clientId,
      secret: portal.secret,
    });
    clients.push(keys);
    const verifier = new TokenVerifier({
      issuers: { [TOKEN_ISSUER]: new JwksCache(otpServiceKeys(keys)) },
      revocations: new RevocationSet(),
    });
    await expect(verifier.verify(token, AUDIENCE.citizen)).resolves.toMatchObject({
      clientId: 'cowin-portal',
    });
  });

  it('per-mobile quota: of 8 concurrent sends to one mobile across both instances, exactly 5 succeed', async () => {
    const mobile = '9123411111';
    mobilesUsed.add(mobile);
    const callers = [client(0, umang), client(1, umang)];
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        outcomeOf(callers[i % 2]!.generate({ mobile, purpose: CITIZEN })),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(5);
    const refusals = outcomes.filter((outcome) => outcome !== undefined);
    expect(refusals).toHaveLength(3);
    for (const refusal of refusals) {
      expect([refusal.code, refusal.reason]).toEqual([
        status.RESOURCE_EXHAUSTED,
        'MOBILE_QUOTA_15M',
      ]);
      expect(refusal.retryAfterMs).toBeGreaterThan(14 * 60_000);
      expect(refusal.retryAfterMs).toBeLessThanOrEqual(15 * 60_000);
      expect(refusal.message).not.toContain(mobile);
    }
  });

  it(`per-client quota: of 10 concurrent sends by one client across both instances, exactly ${CLIENT_QUOTA} succeed`, async () => {
    const callers = [client(0, aarogya), client(1, aarogya)];
    const mobiles = Array.from({ length: 10 }, (_, i) => `91234222${String(i).padStart(2, '0')}`);
    for (const mobile of mobiles) mobilesUsed.add(mobile);
    const outcomes = await Promise.all(
      mobiles.map((mobile, i) => outcomeOf(callers[i % 2]!.generate({ mobile, purpose: CITIZEN }))),
    );
    expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(CLIENT_QUOTA);
    const refusals = outcomes.filter((outcome) => outcome !== undefined);
    expect(refusals).toHaveLength(10 - CLIENT_QUOTA);
    for (const refusal of refusals) {
      expect([refusal.code, refusal.reason]).toEqual([status.RESOURCE_EXHAUSTED, 'CLIENT_QUOTA']);
      expect(refusal.retryAfterMs).toBeGreaterThan(0);
      expect(refusal.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
  });

  it('both stop cleanly on SIGTERM (exit 0), and their output holds no mobile number and no code', async () => {
    // Traffic of this test's own on both instances: sign-ins and a wrong code each.
    const mobiles: string[] = [];
    for (const instance of [0, 1]) {
      const caller = client(instance, umangWeb);
      for (let i = 0; i < 2; i++) {
        const mobile = `9123433${instance}${i}0`;
        mobiles.push(mobile);
        const { txnId } = await caller.generate({ mobile, purpose: CITIZEN });
        const code = (await readDevSms(sinkOf(instance), txnId))?.code ?? '';
        if (i === 0)
          await outcomeOf(caller.confirm(txnId, code === '000000' ? '000001' : '000000'));
        await caller.confirm(txnId, code);
      }
    }
    const exitCodes = await Promise.all(instances.map((instance) => instance.stop('SIGTERM')));
    expect(exitCodes).toEqual([0, 0]);
    const codes = new Set<string>();
    for (const instance of [0, 1]) {
      for (const sms of await readAllDevSms(sinkOf(instance))) codes.add(sms.code);
    }
    expect(codes.size).toBeGreaterThanOrEqual(mobiles.length);
    const outputs = instances.map((instance) => instance.output());
    // Started together: one applied the schema and made the key, the other waited its turn.
    const combined = outputs.join('');
    expect(
      combined.match(/"msg":"migration applied","migration":"otp\/0001_transactions"/g),
    ).toHaveLength(1);
    expect(combined.match(/"msg":"signing key rotated"/g)).toHaveLength(1);
    for (const output of outputs) {
      expect(output).toContain('"msg":"service stopped"');
      expect(leaks(output, [...mobilesUsed, ...mobiles], codes)).toEqual([]);
    }
  });

  it('OTP_SMS_DELIVERY=smpp: the built service sends a code to an SMS centre, records its receipt, and the code confirms', async () => {
    await using smsc = await startTestSmsc(
      testSmscDir(process.env['VAXGUARD_CACHE_DIR']),
      'vaxguard',
      'pw-12345',
    );
    const database = await postgres.createDatabase();
    await using service = await spawnService({
      entry: 'services/otp/dist/main.js',
      env: {
        DATABASE_URL: database,
        KAFKA_BROKERS: kafka.brokers.join(','),
        CLIENT_CREDENTIALS: portal.credential,
        LOG_LEVEL: 'debug',
        OTP_HASH_KEY: Buffer.alloc(32, 31).toString('base64'),
        MOBILE_INDEX_KEY: Buffer.alloc(32, 32).toString('base64'),
        OTP_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 33).toString('base64'),
        OTP_SMS_DELIVERY: 'smpp',
        OTP_SMPP_HOST: '127.0.0.1',
        OTP_SMPP_PORT: String(smsc.port),
        OTP_SMPP_SYSTEM_ID: 'vaxguard',
        OTP_SMPP_PASSWORD: 'pw-12345',
        OTP_SMPP_SENDER_ID: 'VAXGRD',
        OTP_SMPP_DLT_PE_ID: '1101234567890123456',
        OTP_SMPP_DLT_TEMPLATE_ID: '1107161234567890123',
        OTP_SMPP_MESSAGE_TEXT: 'VaxGuard code {code}. Valid 3 minutes.',
      },
    });
    const mobile = '9123455500';
    mobilesUsed.add(mobile);
    const caller = otpTestClient(service.address, portal.clientId, portal.secret);
    clients.push(caller);
    const { txnId } = await caller.generate({ mobile, purpose: CITIZEN });

    const submit = await smsc.waitFor((event) => event['destAddr'] === `91${mobile}`);
    expect(submit).toMatchObject({ status: 'ESME_ROK', sourceAddr: 'VAXGRD' });
    const code = /^VaxGuard code (\d{6})\. Valid 3 minutes\.$/.exec(String(submit['text']))?.[1];
    expect(code).toBeDefined();
    const { token } = await caller.confirm(txnId, code ?? '');
    expect(token).not.toBe('');
    const db = new pg.Client({ connectionString: database });
    await db.connect();
    try {
      await eventually(async () => {
        const { rows } = await db.query(
          'SELECT message_id, receipt_state FROM otp_sms_deliveries WHERE txn_id = $1',
          [txnId],
        );
        expect(rows).toEqual([{ message_id: submit['messageId'], receipt_state: 'DELIVRD' }]);
      });
    } finally {
      await db.end();
    }
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(service.output()).toContain('"msg":"bound to the SMS centre"');
    expect(leaks(service.output(), [mobile, `91${mobile}`], [code ?? ''])).toEqual([]);
  });
});
