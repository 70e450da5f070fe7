import { createServer } from 'node:net';
import { getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';

// The Ryuk reaper image cannot be pulled here; fixtures remove their own containers,
// and sweepOrphanContainers() catches those of runs that were killed.
process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';

export const TEST_LABEL = 'vaxguard.test';
export const OWNER_LABEL = 'vaxguard.test.owner-pid';

export function testLabels(): Record<string, string> {
  return { [TEST_LABEL]: 'true', [OWNER_LABEL]: String(process.pid) };
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export function log(message: string): void {
  process.stdout.write(`[testcontainers] ${message}\n`);
}

/** Stops (keeping) or starts a container through the engine, as an outage would. */
export async function dockerStop(container: StartedTestContainer): Promise<void> {
  const client = await getContainerRuntimeClient();
  await client.container.getById(container.getId()).stop({ t: 10 });
}

export async function dockerStart(container: StartedTestContainer): Promise<void> {
  const client = await getContainerRuntimeClient();
  await client.container.getById(container.getId()).start();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes test containers left behind by test processes that no longer exist. */
export async function sweepOrphanContainers(): Promise<number> {
  const client = await getContainerRuntimeClient();
  const containers = await client.container.list();
  let removed = 0;
  for (const info of containers) {
    const owner = Number(info.Labels[OWNER_LABEL]);
    if (info.Labels[TEST_LABEL] !== 'true' || !Number.isInteger(owner) || isAlive(owner)) continue;
    await client.container
      .getById(info.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
    removed++;
  }
  return removed;
}
