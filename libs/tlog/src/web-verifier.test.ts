import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint';
import { leafHash, rootOf } from './hashing';
import { generateSignerKey, parseSignerKey } from './note-keys';
import { referenceConsistencyProof, referenceInclusionProof } from './testdata/reference-tree';
import { CONSISTENCY_PROBES, INCLUSION_PROBES } from './testdata/rfc6962';
import { verifyConsistency, verifyInclusion } from './verify';
import {
  checkConsistency,
  checkInclusion,
  type SubtleCryptoLike,
  WebLogVerifier,
} from './web-verifier';

// Node's WebCrypto is the browser's API: these run the browser's checks as the page does.
const subtle = webcrypto.subtle as unknown as SubtleCryptoLike;

const ORIGIN = 'audit.web-verifier-test.vaxguard';
const logKey = generateSignerKey(ORIGIN);
const signer = parseSignerKey(logKey.signerKey);
const entries = Array.from({ length: 13 }, (_, i) =>
  new TextEncoder().encode(JSON.stringify({ index: i, type: 'record.accessed' })),
);
const leaves = entries.map(leafHash);
const signedAt = (size: number, signers = [signer], origin = ORIGIN) =>
  signCheckpoint({ origin, size, rootHash: rootOf(leaves.slice(0, size)) }, signers);

const flip = (bytes: Uint8Array, at = 0): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[at]! ^= 1;
  return copy;
};

describe('WebLogVerifier (WebCrypto) agrees with verify.ts (node:crypto)', () => {
  it('on every published RFC 6962 probe and its manglings', async () => {
    const verifier = await WebLogVerifier.create(logKey.verifierKey, subtle);
    const outcome = async (run: () => boolean | Promise<boolean>) => {
      try {
        return (await run()) ? 'valid' : 'invalid';
      } catch {
        return 'refused';
      }
    };
    for (const p of INCLUSION_PROBES) {
      const args = [p.leafHash, p.leafIdx, p.treeSize, p.proof, p.root] as const;
      expect(await outcome(() => verifier.verifyInclusion(...args)), p.file).toBe(
        await outcome(() => verifyInclusion(...args)),
      );
    }
    for (const p of CONSISTENCY_PROBES) {
      const args = [p.size1, p.size2, p.proof, p.root1, p.root2] as const;
      expect(await outcome(() => verifier.verifyConsistency(...args)), p.file).toBe(
        await outcome(() => verifyConsistency(...args)),
      );
    }
  });

  it('on every proof of every leaf and size up to 13', async () => {
    const verifier = await WebLogVerifier.create(logKey.verifierKey, subtle);
    for (let size = 1; size <= leaves.length; size++) {
      const tree = leaves.slice(0, size);
      const root = rootOf(tree);
      for (let index = 0; index < size; index++) {
        const proof = referenceInclusionProof(index, tree);
        expect(await verifier.verifyInclusion(tree[index]!, index, size, proof, root)).toBe(true);
        const bad = proof.map((hash, i) => (i === 0 ? flip(hash) : hash));
        expect(await verifier.verifyInclusion(tree[index]!, index, size, bad, root)).toBe(
          proof.length === 0,
        );
      }
      for (let oldSize = 1; oldSize < size; oldSize++) {
        const proof = referenceConsistencyProof(oldSize, tree);
        const oldRoot = rootOf(leaves.slice(0, oldSize));
        expect(await verifier.verifyConsistency(oldSize, size, proof, oldRoot, root)).toBe(true);
        expect(await verifier.verifyConsistency(oldSize, size, proof, flip(oldRoot), root)).toBe(
          false,
        );
      }
    }
  });
});

describe('checkInclusion', () => {
  const index = 5;
  const size = 11;
  const proof = referenceInclusionProof(index, leaves.slice(0, size));
  const check = {
    verifierKey: logKey.verifierKey,
    signedCheckpoint: signedAt(size),
    index,
    entry: entries[index]!,
    proof,
  };

  it("verifies an entry against the log's signed checkpoint", async () => {
    const result = await checkInclusion(check, subtle);
    expect(result).toMatchObject({ verified: true, checkpoint: { origin: ORIGIN, size } });
  });

  it.each([
    ['an altered entry', { entry: flip(entries[index]!, 3) }, 'INCLUSION'],
    ['another index', { index: index + 1 }, 'INCLUSION'],
    ['an index outside the tree', { index: size }, 'INCLUSION'],
    [
      'a proof hash altered',
      { proof: [proof[0]!, flip(proof[1]!), ...proof.slice(2)] },
      'INCLUSION',
    ],
    ['a proof hash missing', { proof: proof.slice(1) }, 'INCLUSION'],
    [
      'a checkpoint whose size was edited',
      { signedCheckpoint: signedAt(size).replace(`\n${size}\n`, `\n${size + 1}\n`) },
      'CHECKPOINT_SIGNATURE',
    ],
    [
      'a checkpoint signed by another key of the same name',
      { signedCheckpoint: signedAt(size, [parseSignerKey(generateSignerKey(ORIGIN).signerKey)]) },
      'CHECKPOINT_UNSIGNED',
    ],
    [
      'a checkpoint that is not a signed note',
      { signedCheckpoint: `${ORIGIN}\n11\n` },
      'CHECKPOINT_FORMAT',
    ],
    [
      'a verifier key whose key ID does not match its key',
      { verifierKey: logKey.verifierKey.replace(/\+([0-9a-f]{8})\+/, '+00000000+') },
      'VERIFIER_KEY',
    ],
  ] as const)('refuses %s', async (_, change, failure) => {
    const result = await checkInclusion({ ...check, ...change }, subtle);
    expect(result).toMatchObject({ verified: false, failure });
    if (!result.verified) expect(result.detail).not.toBe('');
  });

  it("refuses another log's checkpoint signed with the log's key", async () => {
    const otherLogKey = generateSignerKey(ORIGIN);
    const otherSigner = parseSignerKey(otherLogKey.signerKey);
    const result = await checkInclusion(
      {
        ...check,
        verifierKey: otherLogKey.verifierKey,
        signedCheckpoint: signedAt(size, [otherSigner], 'another.log'),
      },
      subtle,
    );
    expect(result).toMatchObject({ verified: false, failure: 'CHECKPOINT_ORIGIN' });
  });
});

describe('checkConsistency', () => {
  const check = (
    oldSize: number,
    newSize: number,
    proof = referenceConsistencyProof(oldSize, leaves.slice(0, newSize)),
  ) => ({
    verifierKey: logKey.verifierKey,
    previousCheckpoint: signedAt(oldSize),
    signedCheckpoint: signedAt(newSize),
    proof,
  });

  it('accepts an earlier checkpoint of the same log, and the same one again', async () => {
    expect(await checkConsistency(check(4, 13), subtle)).toMatchObject({
      verified: true,
      checkpoint: { size: 13 },
    });
    expect(await checkConsistency(check(7, 7), subtle)).toMatchObject({ verified: true });
  });

  it('names a rollback: a current tree smaller than one the log signed', async () => {
    expect(await checkConsistency(check(9, 6, []), subtle)).toMatchObject({
      verified: false,
      failure: 'ROLLBACK',
    });
  });

  it('names a fork: the same size with another root, or a history that was rewritten', async () => {
    const forked = entries.map((entry, i) => (i === 2 ? flip(entry) : entry)).map(leafHash);
    const forkedAt = (size: number) =>
      signCheckpoint({ origin: ORIGIN, size, rootHash: rootOf(forked.slice(0, size)) }, [signer]);
    expect(
      await checkConsistency({ ...check(8, 8), signedCheckpoint: forkedAt(8) }, subtle),
    ).toMatchObject({ verified: false, failure: 'FORK' });
    const rewritten = {
      ...check(5, 12),
      signedCheckpoint: forkedAt(12),
      proof: referenceConsistencyProof(5, forked.slice(0, 12)),
    };
    expect(await checkConsistency(rewritten, subtle)).toMatchObject({
      verified: false,
      failure: 'CONSISTENCY',
    });
  });

  it('refuses a saved checkpoint the log never signed', async () => {
    const result = await checkConsistency(
      { ...check(4, 13), previousCheckpoint: signedAt(4).replace('\n4\n', '\n3\n') },
      subtle,
    );
    expect(result).toMatchObject({ verified: false, failure: 'CHECKPOINT_SIGNATURE' });
  });
});
