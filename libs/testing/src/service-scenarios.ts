import { createHash, randomBytes } from 'node:crypto';
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
