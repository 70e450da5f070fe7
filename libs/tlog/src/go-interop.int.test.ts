// Proves that standard tools verify what this library publishes: the Go program in
// tools/tlog-interop checks our signed checkpoints and proofs with golang.org/x/mod's
// sumdb/note and sumdb/tlog, and signs notes with Go keys for us to verify.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendLeaves, EMPTY_FRONTIER } from './appender';
import { auditCheckpoint } from './auditor';
import { formatCheckpoint, openCheckpoint, signCheckpoint } from './checkpoint';
import { InvalidSignatureError } from './errors';
import { readConsistencyProof, readInclusionProof } from './node-reader';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from './note-keys';
import { distinctLeaves, MemoryNodeStore } from './testdata/reference-tree';

const TOOL_DIR = fileURLToPath(new URL('../../../tools/tlog-interop', import.meta.url));
// Go writes only under the project's own cache; GOPROXY comes from the environment.
const GO_HOME = join(homedir(), '.cache', 'vaxguard', 'go');
const GO_ENV = [
  `GOPATH=${GO_HOME}`,
  `GOMODCACHE=${join(GO_HOME, 'mod')}`,
  `GOCACHE=${join(GO_HOME, 'build')}`,
  'GOFLAGS=-mod=mod -buildvcs=false',
];
const ORIGIN = 'audit.vaxguard.example/log';
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

let workDir: string;
let binary: string;

/** Runs the built Go tool with `input` on its standard input. */
function runGo(args: string[], input: string): { ok: boolean; stdout: string; stderr: string } {
  const result = spawnSync(binary, args, { input, encoding: 'utf8', timeout: 30_000 });
  return { ok: result.status === 0, stdout: result.stdout, stderr: result.stderr };
}

interface VerifyRequest {
  verifierKey: string;
  signedCheckpoint: string;
  inclusion?: { index: number; leafHash: string; proof: string[] };
  consistency?: { oldSize: number; oldRootHash: string; proof: string[] };
}

const goVerify = (request: VerifyRequest) => runGo(['verify'], JSON.stringify(request));

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'tlog-interop-'));
  binary = join(workDir, 'tlog-interop');
  // `env` adds the Go variables to the inherited environment.
  const build = spawnSync('env', [...GO_ENV, 'go', 'build', '-o', binary, '.'], {
    cwd: TOOL_DIR,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (build.status !== 0) {
    throw new Error(
      `go build in tools/tlog-interop failed: ${build.error?.message ?? build.stderr}`,
    );
  }
}, 300_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** A log of 37 entries appended in uneven batches, with a checkpoint at 21 and at 37. */
function publishedLog() {
  const keys = generateSignerKey(ORIGIN);
  const signer = parseSignerKey(keys.signerKey);
  const store = new MemoryNodeStore();
  const leaves = distinctLeaves(37, 'interop');
  for (const batch of [5, 16])
    store.append(leaves.slice(store.frontier.size, store.frontier.size + batch));
  const oldRoot = appendLeaves(EMPTY_FRONTIER, leaves.slice(0, 21)).root;
  for (const batch of [3, 13])
    store.append(leaves.slice(store.frontier.size, store.frontier.size + batch));
  const root = appendLeaves(EMPTY_FRONTIER, leaves).root;
  const signedCheckpoint = signCheckpoint({ origin: ORIGIN, size: 37, rootHash: root }, [signer]);
  return { keys, signer, store, leaves, oldRoot, signedCheckpoint };
}

describe('Go (golang.org/x/mod sumdb/note and sumdb/tlog) verifies what we publish', () => {
  it('accepts our signed checkpoint and the inclusion proof of every entry', async () => {
    const log = publishedLog();
    for (let index = 0; index < 37; index++) {
      const proof = await readInclusionProof(log.store, index, 37);
      const result = goVerify({
        verifierKey: log.keys.verifierKey,
        signedCheckpoint: log.signedCheckpoint,
        inclusion: { index, leafHash: b64(log.leaves[index]!), proof: proof.map(b64) },
      });
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain(`leaf ${index} included`);
    }
  });

  it('accepts our consistency proof from every earlier size', async () => {
    const log = publishedLog();
    for (let oldSize = 1; oldSize <= 37; oldSize++) {
      const oldRoot = appendLeaves(EMPTY_FRONTIER, log.leaves.slice(0, oldSize)).root;
      const proof = await readConsistencyProof(log.store, oldSize, 37);
      const result = goVerify({
        verifierKey: log.keys.verifierKey,
        signedCheckpoint: log.signedCheckpoint,
        consistency: { oldSize, oldRootHash: b64(oldRoot), proof: proof.map(b64) },
      });
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain(`consistent with size ${oldSize}`);
    }
  });

  it('rejects a tampered checkpoint, a foreign key and mangled proofs', async () => {
    const log = publishedLog();
    const inclusion = {
      index: 30,
      leafHash: b64(log.leaves[30]!),
      proof: (await readInclusionProof(log.store, 30, 37)).map(b64),
    };
    const base = { verifierKey: log.keys.verifierKey, signedCheckpoint: log.signedCheckpoint };
    expect(goVerify({ ...base, inclusion }).ok).toBe(true);

    const tampered = goVerify({
      ...base,
      signedCheckpoint: log.signedCheckpoint.replace('\n37\n', '\n38\n'),
    });
    expect(tampered.ok).toBe(false);
    expect(tampered.stderr).toContain('invalid signature');

    const foreign = goVerify({ ...base, verifierKey: generateSignerKey(ORIGIN).verifierKey });
    expect(foreign.ok).toBe(false);
    expect(foreign.stderr).toContain('no verifiable signatures');

    const flipped = [...inclusion.proof];
    const first = Buffer.from(flipped[0]!, 'base64');
    first[0]! ^= 0x01;
    flipped[0] = b64(first);
    const mangled = goVerify({ ...base, inclusion: { ...inclusion, proof: flipped } });
    expect(mangled.ok).toBe(false);
    expect(mangled.stderr).toContain('tlog.CheckRecord');

    const wrongLeaf = goVerify({ ...base, inclusion: { ...inclusion, index: 29 } });
    expect(wrongLeaf.ok).toBe(false);

    const consistency = {
      oldSize: 21,
      oldRootHash: b64(distinctLeaves(1, 'rewritten')[0]!),
      proof: (await readConsistencyProof(log.store, 21, 37)).map(b64),
    };
    const rewritten = goVerify({ ...base, consistency });
    expect(rewritten.ok).toBe(false);
    expect(rewritten.stderr).toContain('tlog.CheckTree');
  });

  it('signs a checkpoint with our key to the very bytes we produce', () => {
    const log = publishedLog();
    const text = formatCheckpoint(
      openCheckpoint(log.signedCheckpoint, [parseVerifierKey(log.keys.verifierKey)]).checkpoint,
    );
    const goSigned = runGo(['sign-with', log.keys.signerKey], text);
    expect(goSigned.ok).toBe(true);
    expect(goSigned.stdout).toBe(log.signedCheckpoint);
  });
});

describe('we verify what Go publishes', () => {
  it('opens a checkpoint signed by note.Sign with a Go-generated key, and audits proofs against it', async () => {
    const log = publishedLog();
    const root = appendLeaves(EMPTY_FRONTIER, log.leaves).root;
    const result = runGo(
      ['sign', ORIGIN],
      formatCheckpoint({ origin: ORIGIN, size: 37, rootHash: root }),
    );
    expect(result.ok).toBe(true);
    const { verifierKey, signedNote } = JSON.parse(result.stdout) as {
      verifierKey: string;
      signedNote: string;
    };
    const checkpoint = auditCheckpoint({
      verifierKey,
      signedCheckpoint: signedNote,
      inclusion: {
        leafHash: log.leaves[12]!,
        index: 12,
        proof: await readInclusionProof(log.store, 12, 37),
      },
      consistency: {
        previous: { size: 21, rootHash: log.oldRoot },
        proof: await readConsistencyProof(log.store, 21, 37),
      },
    });
    expect(checkpoint.size).toBe(37);
    expect(() =>
      openCheckpoint(signedNote.replace('\n37\n', '\n36\n'), [parseVerifierKey(verifierKey)]),
    ).toThrow(InvalidSignatureError);
  });
});
