import { createHash, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { startKafka } from './kafka';
import { startPostgres } from './postgres';
import { checkHealth, spawnService, type ServiceProcess } from './service-process';

/** A client id and secret, and the CLIENT_CREDENTIALS entry that accepts them. */
export function testClient(clientId = 'test-client'): {
  clientId: string;
  secret: string;
  credential: string;
} {
  const secret = randomBytes(24).toString('base64url');
  const hash = createHash('sha256').update(secret).digest('hex');
  return { clientId, secret, credential: `${clientId}:${hash}` };
}

/**
 * The life every service must live: starts against real PostgreSQL and Kafka, reports
 * SERVING, and exits 0 on SIGTERM after draining.
 */
export async function startAndStopService(options: {
  readonly entry: string;
  readonly env: Record<string, string>;
}): Promise<{ health: string; exitCode: number | null; output: string }> {
  let service: ServiceProcess | undefined;
  try {
    service = await spawnService({ entry: options.entry, env: options.env });
    const health = await checkHealth(service.address);
    const exitCode = await service.stop('SIGTERM');
    return { health, exitCode, output: service.output() };
  } finally {
    await service?.stop('SIGKILL');
  }
}

/**
 * The lifecycle test every service carries: its built `dist/main.js` starts against
 * fresh PostgreSQL and Kafka, migrates, reports SERVING, and exits 0 on SIGTERM.
 */
export function itStartsAndStopsCleanly(
  service: string,
  extraEnv: Record<string, string> = {},
): void {
  it('starts against real PostgreSQL and Kafka, reports SERVING, and stops cleanly on SIGTERM', async () => {
    await using postgres = await startPostgres();
    await using kafka = await startKafka();
    const result = await startAndStopService({
      entry: `services/${service}/dist/main.js`,
      env: {
        DATABASE_URL: postgres.url,
        KAFKA_BROKERS: kafka.brokers.join(','),
        CLIENT_CREDENTIALS: testClient().credential,
        // Contacted only when a token arrives, which this test sends none of.
        OTP_GRPC_ADDRESS: '127.0.0.1:1',
        SERVICE_CLIENT_ID: `svc-${service}`,
        SERVICE_CLIENT_SECRET: testClient().secret,
        ...extraEnv,
      },
    });
    expect(result.health).toBe('SERVING');
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('"msg":"migration applied"');
    expect(result.output).toContain('"msg":"service stopped"');
  });
}
