// A platform that runs audit runs a real witness for its log (litewitness, from
// `bash tools/dev/ensure-prereqs.sh witness`): registered with the log's origin and key,
// described where the command line reads the platform, gone when the platform is.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlatformDescription } from '@vaxguard/dev-platform';
import { witnessBinDir } from '@vaxguard/witness';
import { startPlatform, type Platform } from './platform';

const run = promisify(execFile);

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform({ services: ['identity', 'audit'] });
});

afterAll(async () => {
  await platform?.stop();
});

/** The logs the witness's database holds, as witnessctl lists them. */
async function witnessedLogs(dbFile: string): Promise<{ origin: string; keys: string[] }[]> {
  const witnessctl = `${witnessBinDir(process.env['VAXGUARD_CACHE_DIR'])}/witnessctl`;
  const { stdout } = await run(witnessctl, ['list-logs', '-db', dbFile]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { origin: string; keys: string[] });
}

describe("the platform's audit log witness", () => {
  it('is described with its name, URL and cosignature key, and knows the audit log by its key', async () => {
    const witness = platform.witness;
    expect(witness).toBeDefined();
    const { name, url, verifierKey, dbFile } = witness as NonNullable<typeof witness>;
    expect(readPlatformDescription(platform.descriptionFile).witnesses).toEqual([
      { name, url, verifierKey },
    ]);
    const { auditLog } = platform.description;
    expect(await witnessedLogs(dbFile)).toEqual([
      expect.objectContaining({ origin: auditLog.origin, keys: [auditLog.verifierKey] }),
    ]);
    expect((await fetch(`${url}/`)).status).toBe(200);
  });

  it('restarts on the same address with the same key', async () => {
    const before = platform.witness as NonNullable<Platform['witness']>;
    const after = await platform.restartWitness();
    expect(after.url).toBe(before.url);
    expect(after.verifierKey).toBe(before.verifierKey);
    expect(() => process.kill(before.pid, 0)).toThrow(/ESRCH/);
    expect((await fetch(`${after.url}/`)).status).toBe(200);
  });

  it('stops with the platform, leaving no witness or agent process', async () => {
    const { pid, agentPid } = platform.witness as NonNullable<Platform['witness']>;
    await platform.stop();
    for (const process_ of [pid, agentPid]) {
      expect(() => process.kill(process_, 0)).toThrow(/ESRCH/);
    }
  });
});
