import { describe, expect, it } from 'vitest';
import { startAndStopService, startKafka, startPostgres, testClient } from '@vaxguard/testing';

describe('audit service process', () => {
  it('starts against real PostgreSQL and Kafka, reports SERVING, and stops cleanly on SIGTERM', async () => {
    await using postgres = await startPostgres();
    await using kafka = await startKafka();
    const result = await startAndStopService({
      entry: 'services/audit/dist/main.js',
      env: {
        DATABASE_URL: postgres.url,
        KAFKA_BROKERS: kafka.brokers.join(','),
        CLIENT_CREDENTIALS: testClient().credential,
      },
    });
    expect(result.health).toBe('SERVING');
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('"msg":"migration applied"');
    expect(result.output).toContain('"msg":"service stopped"');
  });
});
