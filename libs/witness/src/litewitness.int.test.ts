// The real witness (litewitness from filippo.io/torchwood, built by
// `bash tools/dev/ensure-prereqs.sh witness`) against logs built with libs/tlog: what it
// cosigns, what it refuses and why, and that what it saw survives its restart.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendLeaves,
  createCosignatureSigner,
  EMPTY_FRONTIER,
  generateSignerKey,
  leafHash,
  parseSignerKey,
  readConsistencyProof,
  signCheckpoint,
  type Frontier,
  type NodeHashReader,
  type NoteSigner,
} from '@vaxguard/tlog';
import { addCheckpoint, verifyWitnessCosignature } from './add-checkpoint';
import {
  WitnessBadRequestError,
  WitnessConflictError,
  WitnessCosignatureError,
  WitnessInconsistentError,
  WitnessRefusedError,
  WitnessUnreachableError,
} from './errors';
import { startWitness, type RunningWitness } from './litewitness';

const ORIGIN = 'audit.vaxguard.test/witness-int';

/** An append-only log in memory: its nodes, frontier and signer, as the audit service keeps them. */
class MemoryLog implements NodeHashReader {
  private readonly nodes = new Map<string, Uint8Array>();
  private frontier: Frontier = EMPTY_FRONTIER;
  private root = appendLeaves(EMPTY_FRONTIER, []).root;

  constructor(
    readonly signer: NoteSigner,
    private readonly label: string,
  ) {}

  get size(): number {
    return this.frontier.size;
  }

  /** Appends `count` entries; another label makes other entries at the same positions. */
  append(count: number, label = this.label): void {
    const leaves = Array.from({ length: count }, (_, i) =>
      leafHash(Buffer.from(`${label} entry ${this.frontier.size + i}`)),
    );
    const result = appendLeaves(this.frontier, leaves);
    for (const node of result.nodes) this.nodes.set(`${node.level}/${node.index}`, node.hash);
    this.frontier = result.frontier;
    this.root = result.root;
  }

  checkpoint(): string {
    return signCheckpoint({ origin: this.signer.name, size: this.size, rootHash: this.root }, [
      this.signer,
    ]);
  }

  proofFrom(oldSize: number): Promise<Uint8Array[]> {
    return oldSize === 0 || oldSize === this.size
      ? Promise.resolve([])
      : readConsistencyProof(this, oldSize, this.size);
  }

  async readNodeHashes(ids: readonly { level: number; index: number }[]) {
    return ids.map((id) => this.nodes.get(`${id.level}/${id.index}`) as Uint8Array);
  }

  /** The same log's first `size` entries only, signed with the same key: what a rewrite starts from. */
  truncated(size: number): MemoryLog {
    const copy = new MemoryLog(this.signer, this.label);
    copy.append(size);
    return copy;
  }
}

const logSigner = parseSignerKey(generateSignerKey(ORIGIN).signerKey);

let dir: string;
let witness: RunningWitness;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vaxguard-witness-int-'));
  witness = await startWitness({
    dir,
    logs: [{ origin: ORIGIN, verifierKey: logSigner.verifierKey }],
  });
});

afterAll(async () => {
  await witness?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function submit(log: MemoryLog, oldSize: number, proofLog = log) {
  const checkpoint = log.checkpoint();
  const consistencyProof = await proofLog.proofFrom(oldSize);
  return {
    checkpoint,
    lines: await addCheckpoint(witness.url, { oldSize, consistencyProof, checkpoint }),
  };
}

describe('litewitness cosigning an audit log', () => {
  const log = new MemoryLog(logSigner, 'history');

  it('cosigns the first checkpoint from old 0, with a cosignature its own key verifies and no other', async () => {
    log.append(5);
    const { checkpoint, lines } = await submit(log, 0);

    expect(lines.startsWith(`— ${witness.name} `)).toBe(true);
    const cosignature = verifyWitnessCosignature(checkpoint, lines, witness.verifierKey);
    expect(cosignature.name).toBe(witness.name);
    expect(Math.abs(cosignature.timestamp - Date.now() / 1000)).toBeLessThan(300);
    // The key we derived from the ssh key is the one litewitness announces.
    expect(witness.output()).toContain(witness.verifierKey);

    const impostor = createCosignatureSigner(witness.name).verifierKey;
    expect(() => verifyWitnessCosignature(checkpoint, lines, impostor)).toThrow(
      WitnessCosignatureError,
    );
    // A cosignature does not carry over to another checkpoint of the log.
    const later = new MemoryLog(logSigner, 'history');
    later.append(6);
    expect(() => verifyWitnessCosignature(later.checkpoint(), lines, witness.verifierKey)).toThrow(
      WitnessCosignatureError,
    );
  });

  it('cosigns a grown log with a real consistency proof from the size it cosigned', async () => {
    log.append(7);
    const { checkpoint, lines } = await submit(log, 5);
    expect(verifyWitnessCosignature(checkpoint, lines, witness.verifierKey).name).toBe(
      witness.name,
    );
  });

  it('refuses a fork that grew past the cosigned size (422), whatever proof it is given', async () => {
    // Entries 8..11 deleted and the log grown again to 14 with others.
    const fork = log.truncated(8);
    fork.append(6, 'rewritten');
    await expect(submit(fork, 12)).rejects.toBeInstanceOf(WitnessInconsistentError);
    // The true log's proof does not help the forked checkpoint either.
    await expect(submit(fork, 12, log)).rejects.toBeInstanceOf(WitnessInconsistentError);
  });

  it('refuses a rolled-back log: 409 naming the size it cosigned, 400 for an old size above the new', async () => {
    const shorter = log.truncated(8);
    const refusal = await submit(shorter, 8).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(WitnessConflictError);
    expect((refusal as WitnessConflictError).knownSize).toBe(12);
    expect((refusal as WitnessConflictError).status).toBe(409);
    // There is no proof from 12 down to 8; the witness refuses the request as such.
    await expect(
      addCheckpoint(witness.url, {
        oldSize: 12,
        consistencyProof: [],
        checkpoint: shorter.checkpoint(),
      }),
    ).rejects.toBeInstanceOf(WitnessBadRequestError);
    // Starting over from 0 is a conflict as well.
    await expect(submit(shorter, 0)).rejects.toMatchObject({ knownSize: 12 });
  });

  it('refuses a checkpoint of an unknown log, and one signed by a key it does not trust (403)', async () => {
    const stranger = new MemoryLog(
      parseSignerKey(generateSignerKey('unknown.vaxguard.test').signerKey),
      'stranger',
    );
    stranger.append(3);
    await expect(submit(stranger, 0)).rejects.toBeInstanceOf(WitnessRefusedError);
    const forger = new MemoryLog(parseSignerKey(generateSignerKey(ORIGIN).signerKey), 'history');
    forger.append(13);
    await expect(submit(forger, 12, log)).rejects.toMatchObject({
      reason: 'WITNESS_REFUSED',
      status: 403,
    });
  });

  it('keeps what it cosigned across a restart with the same directory', async () => {
    const { verifierKey } = witness;
    await witness.stop();
    witness = await startWitness({
      dir,
      logs: [{ origin: ORIGIN, verifierKey: logSigner.verifierKey }],
    });
    expect(witness.verifierKey).toBe(verifierKey);
    await expect(submit(log, 0)).rejects.toMatchObject({ knownSize: 12 });
    log.append(3);
    const { checkpoint, lines } = await submit(log, 12);
    expect(verifyWitnessCosignature(checkpoint, lines, verifierKey).name).toBe(witness.name);
  });
});

describe('a stopped witness', () => {
  it('leaves no process and no agent socket behind, stops twice, and is unreachable', async () => {
    const own = await mkdtemp(join(tmpdir(), 'vaxguard-witness-stop-'));
    try {
      const stopped = await startWitness({
        dir: own,
        name: 'stopped.vaxguard.test',
        logs: [{ origin: ORIGIN, verifierKey: logSigner.verifierKey }],
      });
      expect(existsSync(join(own, 'agent.sock'))).toBe(true);
      await stopped.stop();
      await stopped.stop();
      for (const pid of [stopped.pid, stopped.agentPid]) {
        expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
      }
      expect(existsSync(join(own, 'agent.sock'))).toBe(false);
      const log = new MemoryLog(logSigner, 'unwitnessed');
      log.append(1);
      await expect(
        addCheckpoint(stopped.url, {
          oldSize: 0,
          consistencyProof: [],
          checkpoint: log.checkpoint(),
        }),
      ).rejects.toBeInstanceOf(WitnessUnreachableError);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});
