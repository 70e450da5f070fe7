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

/**
 * Ports for the processes a test starts are taken below Linux's ephemeral range (32768
 * up), where the kernel never hands one out on its own, in a block of this process's
 * own, at random within it, and never twice in a process: test files that start
 * platforms side by side (vitest workers, or Nx running two projects' suites at once) do
 * not pick the same port between one's check and its service's bind. A process claims
 * its block by listening on the block's claim port (just below the blocks) for as long
 * as it lives, so the kernel keeps claims exclusive and frees them when it exits.
 */
const PORT_BASE = 20_000;
const PORT_BLOCK = 1_000;
const PORT_BLOCKS = 12;
const handedOut = new Set<number>();
let claimedBlock: Promise<number> | undefined;

function claimPort(block: number): number {
  return PORT_BASE - PORT_BLOCKS + block;
}

/** This process's block: the first free one from its vitest worker's (all taken: shared). */
async function claimPortBlock(): Promise<number> {
  const preferred = (Number(process.env['VITEST_POOL_ID'] ?? 0) || 0) % PORT_BLOCKS;
  for (let i = 0; i < PORT_BLOCKS; i++) {
    const block = (preferred + i) % PORT_BLOCKS;
    if (await holdOpen(claimPort(block))) return block;
  }
  return preferred;
}

function holdOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
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

/** A TCP port free on loopback right now, for a process this test starts. */
export async function freePort(): Promise<number> {
  claimedBlock ??= claimPortBlock();
  const start = PORT_BASE + (await claimedBlock) * PORT_BLOCK;
  for (let tries = 0; tries < 100; tries++) {
    const port = start + Math.floor(Math.random() * PORT_BLOCK);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port)) return port;
  }
  return kernelPort();
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

/**
 * Resolves at the first line matching `pattern` that the container logs after
 * `sinceSeconds` (Unix time): a server's "ready" line after it was started again.
 */
export async function waitForLog(
  container: StartedTestContainer,
  pattern: RegExp,
  sinceSeconds: number,
  timeoutMs = 120_000,
): Promise<void> {
  const stream = await container.logs({ since: sinceSeconds });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`container did not log ${String(pattern)} within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('data', (chunk: Buffer | string) => {
      if (pattern.test(chunk.toString())) {
        clearTimeout(timer);
        stream.destroy();
        resolve();
      }
    });
    stream.on('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
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
